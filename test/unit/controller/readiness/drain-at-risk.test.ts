import { describe, expect, test } from '@jest/globals';
import { EventReasons } from '../../../../src/api/event-reasons.js';
import { MaintenancePhase, NotificationTransition, type MaintenanceStatus } from '../../../../src/api/nodemetadata.js';
import { drainAtRiskMessage, withDrainAtRisk } from '../../../../src/controller/readiness/drain-at-risk.js';
import { drainVerdict, type ReadinessPod } from '../../../../src/controller/readiness/verdict.js';
import type { Action } from '../../../../src/controller/maintenance/state-machine.js';
import { recordedTransitions } from '../../../../src/controller/notifications/transitions.js';

const now = new Date('2026-12-07T20:00:00.000Z');
const bare = (name: string): ReadinessPod => ({ namespace: 'shop', name, ownerKinds: [], phase: 'Running', ready: true, labels: {} });
const verdictOf = (pods: ReadinessPod[]) => drainVerdict({ pods, pdbsIn: () => [], readyReplicas: () => 99, options: { deleteEmptyDirData: false, forceUnmanagedPods: false } });
const status: MaintenanceStatus = { phase: MaintenancePhase.Scheduled, eventId: 'E1', eventType: 'Reboot', notBefore: '2026-12-07T20:14:30Z' };
const scheduled: Action = { kind: 'Emit', type: 'Normal', reason: EventReasons.MaintenanceScheduled, message: 'Reboot E1 scheduled' };

describe('DrainAtRisk: an event seen on a node that is not drain-ready', () => {
  test('right after MaintenanceScheduled: one Warning naming the blockers and the time left, and its notification', () => {
    const step = withDrainAtRisk({ status, actions: [scheduled] }, { kind: 'verdict', verdict: verdictOf([bare('a')]) }, now);
    expect(step.actions).toEqual([scheduled, { kind: 'Emit', type: 'Warning', reason: 'DrainAtRisk', message: '1 pod would block a drain: 1 without a controller; 14m left before NotBefore 2026-12-07T20:14:30Z' }]);
    const transitions = recordedTransitions(step, now).map((entry) => [entry.transition, entry.detail]);
    expect(transitions).toEqual([
      [NotificationTransition.Scheduled, undefined],
      [NotificationTransition.DrainAtRisk, '1 pod would block a drain: 1 without a controller; 14m left before NotBefore 2026-12-07T20:14:30Z'],
    ]);
  });

  test('nothing when the node is drain-ready, when no verdict is known (off, cold), or on any step but the one announcing the event', () => {
    const step = { status, actions: [scheduled] };
    expect(withDrainAtRisk(step, { kind: 'verdict', verdict: verdictOf([]) }, now)).toBe(step);
    expect(withDrainAtRisk(step, { kind: 'cold' }, now)).toBe(step);
    expect(withDrainAtRisk(step, { kind: 'off' }, now)).toBe(step);
    expect(withDrainAtRisk(step, undefined, now)).toBe(step);
    const later = { status, actions: [] };
    expect(withDrainAtRisk(later, { kind: 'verdict', verdict: verdictOf([bare('a')]) }, now)).toBe(later);
  });

  test('the time left, in hours and minutes, or that NotBefore has passed', () => {
    expect(drainAtRiskMessage('m', '2026-12-07T22:05:00Z', now)).toBe('m; 2h05m left before NotBefore 2026-12-07T22:05:00Z');
    expect(drainAtRiskMessage('m', '2026-12-07T20:00:40Z', now)).toBe('m; 40s left before NotBefore 2026-12-07T20:00:40Z');
    expect(drainAtRiskMessage('m', '2026-12-07T19:00:00Z', now)).toBe('m; NotBefore 2026-12-07T19:00:00Z has passed');
    expect(drainAtRiskMessage('m', undefined, now)).toBe('m; no NotBefore given');
  });
});
