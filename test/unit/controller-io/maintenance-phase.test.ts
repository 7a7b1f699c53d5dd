import { describe, expect, it } from '@jest/globals';
import { nextMaintenance } from '../../../src/controller/maintenance/phase.js';
import type { PlannedAction } from '../../../src/controller/policy.js';

const now = new Date('2026-11-22T04:00:00Z');
const action: PlannedAction = { eventId: 'EV-1', eventType: 'Reboot', action: 'Drain', startAt: now.getTime(), deadline: Date.parse('2026-11-22T04:15:00Z'), due: true };

describe('nextMaintenance', () => {
  it('is None with no event and nothing handled', () => {
    expect(nextMaintenance(undefined, undefined, { now, cacheWarm: true })).toEqual({ status: { phase: 'None' }, transition: { kind: 'none' } });
  });

  it('schedules a new event, reporting the transition once', () => {
    const first = nextMaintenance({ phase: 'None' }, action, { now, cacheWarm: true });
    expect(first.status).toEqual({ phase: 'Scheduled', eventId: 'EV-1', eventType: 'Reboot', notBefore: '2026-11-22T04:15:00Z' });
    expect(first.transition.kind).toBe('scheduled');
    const second = nextMaintenance(first.status, action, { now, cacheWarm: true });
    expect(second).toEqual({ status: first.status, transition: { kind: 'none' } });
  });

  it('says which event a new one replaces', () => {
    const decision = nextMaintenance({ phase: 'Scheduled', eventId: 'EV-0', eventType: 'Freeze' }, action, { now, cacheWarm: true });
    expect(decision.transition).toEqual({ kind: 'scheduled', action, replaced: 'EV-0' });
  });

  it('cancels an event that disappears before its NotBefore, ends one that disappears after', () => {
    const scheduled = { phase: 'Scheduled' as const, eventId: 'EV-1', eventType: 'Reboot' as const, notBefore: '2026-11-22T04:15:00Z' };
    expect(nextMaintenance(scheduled, undefined, { now, cacheWarm: true }).transition.kind).toBe('cancelled');
    expect(nextMaintenance(scheduled, undefined, { now: new Date('2026-11-22T04:20:00Z'), cacheWarm: true }).transition.kind).toBe('ended');
  });

  it('keeps the event it handles while the caches are cold', () => {
    const scheduled = { phase: 'Scheduled' as const, eventId: 'EV-1', eventType: 'Reboot' as const };
    expect(nextMaintenance(scheduled, undefined, { now, cacheWarm: false })).toEqual({ status: scheduled, transition: { kind: 'none' } });
  });
});
