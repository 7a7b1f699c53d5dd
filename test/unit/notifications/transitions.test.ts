// Which transitions a maintenance step records for the sinks, and the outbox kept in status.
import type { EventReason } from '../../../src/api/event-reasons.js';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { NOTIFICATION_TRANSITIONS, type MaintenanceStatus, type PendingNotification } from '../../../src/api/nodemetadata.js';
import type { Action } from '../../../src/controller/maintenance/state-machine.js';
import { MAX_PENDING_NOTIFICATIONS, nextOutbox, pendingKey, recordedTransitions, TRANSITION_BY_REASON } from '../../../src/controller/notifications/transitions.js';
import { CONFIG_SCHEMA } from '../../../src/controller/config/config-schema.js';

const NOW = new Date(Date.UTC(2026, 10, 22, 4, 0, 0, 123));
const emit = (reason: EventReason, type: 'Normal' | 'Warning' = 'Normal'): Action => ({ kind: 'Emit', type, reason, message: `${reason} message` });
const status = (phase: MaintenanceStatus['phase'], extra: Partial<MaintenanceStatus> = {}): MaintenanceStatus => ({ phase, eventId: 'EV-1', eventType: 'Reboot', notBefore: '2026-11-22T04:15:00Z', ...extra });

describe('recordedTransitions', () => {
  test.each<[string, MaintenanceStatus, Action[], string[]]>([
    ['a new event', status('Scheduled'), [emit('MaintenanceScheduled')], ['Scheduled']],
    ['a spot reclaim (Alibaba)', status('Scheduled', { eventId: 'spot-termination', eventType: 'SpotTermination' }), [emit('MaintenanceScheduled')], ['SpotReclaim']],
    ['an Azure spot eviction (Preempt)', status('Scheduled', { eventType: 'Preempt' }), [emit('MaintenanceScheduled')], ['SpotReclaim']],
    ['action Cordon', status('Cordoned'), [{ kind: 'Cordon', eventId: 'EV-1' }, emit('NodeCordoned')], ['Cordoned']],
    ['a drain waiting for budget', status('Cordoned'), [{ kind: 'Cordon', eventId: 'EV-1' }, emit('DrainWaitingForBudget')], ['Cordoned']],
    ['a drain starting', status('Draining', { totalPods: 3, pendingPods: 3, evictedPods: 0 }), [emit('DrainStarted')], ['DrainStarted']],
    ['drained', status('Drained'), [emit('Drained')], ['Drained']],
    ['a failed drain', status('Failed', { lastError: 'drain timed out' }), [emit('DrainFailed', 'Warning')], ['DrainFailed']],
    ['approved', status('Approved'), [emit('MaintenanceApproved')], ['Approved']],
    ['over', status('Completed'), [{ kind: 'Uncordon' }, emit('MaintenanceCompleted')], ['Completed']],
    ['cancelled', status('Completed'), [emit('MaintenanceCancelled')], ['Cancelled']],
    ['a pod deleted at the deadline', status('Draining'), [emit('PodDeletedAtDeadline', 'Warning')], ['PodDeletedAtDeadline']],
    ['a deletion at the deadline refused: no transition', status('Draining'), [emit('DeleteAtDeadlineFailed', 'Warning')], []],
    ['no transition: an approval asked for', status('Drained', { approve: 'EV-1' }), [emit('ApprovalRequested')], []],
    ['no transition: evictions only', status('Draining'), [{ kind: 'EvictPods', pods: [] }], []],
  ])('%s', (_what, after, actions, expected) => {
    expect(recordedTransitions({ status: after, actions }, NOW).map((entry) => entry.transition)).toEqual(expected);
  });

  test('a snapshot of the status the step writes, identified by its time (milliseconds)', () => {
    const [entry] = recordedTransitions(
      { status: status('Failed', { totalPods: 5, evictedPods: 3, pendingPods: 2, blockedPods: [{ namespace: 'a', name: 'p', reason: 'PDB' }], lastError: 'x'.repeat(2000) }), actions: [emit('DrainFailed', 'Warning')] },
      NOW,
    );
    expect(entry).toEqual({
      transition: 'DrainFailed',
      time: '2026-11-22T04:00:00.123Z',
      eventId: 'EV-1',
      eventType: 'Reboot',
      notBefore: '2026-11-22T04:15:00Z',
      phase: 'Failed',
      totalPods: 5,
      evictedPods: 3,
      pendingPods: 2,
      blockedPods: 1,
      detail: 'x'.repeat(512),
    });
  });

  test('PodDeletedAtDeadline carries the Event message (the pod, the grace period, the budget overridden) as its detail', () => {
    const message = 'Reboot: pod shop/db-0 deleted with a 30s grace period, 40s before NotBefore 2026-11-22T04:15:00Z (atDeadline: Delete); overrides PodDisruptionBudget shop/db (eviction refused: ...)';
    const [entry] = recordedTransitions({ status: status('Draining'), actions: [{ kind: 'Emit', type: 'Warning', reason: 'PodDeletedAtDeadline', message }] }, NOW);
    expect(entry).toMatchObject({ transition: 'PodDeletedAtDeadline', detail: message, phase: 'Draining', eventType: 'Reboot' });
  });

  test('every reason it maps is one the state machine (or drain readiness: DrainAtRisk; a deletion at the deadline: PodDeletedAtDeadline) emits (a rename would silence notifications)', () => {
    const source = readFileSync(new URL('../../../src/controller/maintenance/state-machine.ts', import.meta.url), 'utf8');
    const emitted = new Set([...source.matchAll(/emit\('(?:Normal|Warning)', EventReasons\.([A-Za-z]+)/g)].map((match) => match[1]));
    for (const other of ['../../../src/controller/readiness/drain-at-risk.ts', '../../../src/controller/maintenance/deadline-deletion.ts']) {
      const text = readFileSync(new URL(other, import.meta.url), 'utf8');
      for (const match of text.matchAll(/emit\(\s*'(?:Normal|Warning)',\s*EventReasons\.([A-Za-z]+)/g)) emitted.add(match[1]);
    }
    for (const reason of Object.keys(TRANSITION_BY_REASON)) expect([reason, emitted.has(reason)]).toEqual([reason, true]);
    // And every public transition name is reachable.
    const reachable = new Set([...Object.values(TRANSITION_BY_REASON), 'SpotReclaim']);
    expect([...reachable].sort()).toEqual([...NOTIFICATION_TRANSITIONS].sort());
  });

  test('the configuration schema offers exactly the public transition names', () => {
    const sinks = CONFIG_SCHEMA.properties.notifications.properties.sinks as { items: { properties: { transitions: { items: { enum: string[] }; default: string[] } } } };
    expect(sinks.items.properties.transitions.items.enum).toEqual([...NOTIFICATION_TRANSITIONS]);
    expect(sinks.items.properties.transitions.default).toEqual([...NOTIFICATION_TRANSITIONS]);
  });
});

describe('nextOutbox', () => {
  const entry = (transition: PendingNotification['transition'], second: number): PendingNotification => ({
    transition,
    time: new Date(Date.UTC(2026, 10, 22, 4, 0, second)).toISOString(),
    eventId: 'EV-1',
    phase: 'Scheduled',
  });

  test('records new entries after the stored ones; nothing pending is no field at all', () => {
    const a = entry('Scheduled', 1);
    const b = entry('DrainStarted', 2);
    expect(nextOutbox(undefined, [], () => false)).toEqual({ next: undefined, overflow: [] });
    expect(nextOutbox({ pending: [a] }, [b], () => false).next).toEqual({ pending: [a, b] });
  });

  test('leaves out what every sink is done with; the same entry is never recorded twice', () => {
    const a = entry('Scheduled', 1);
    const b = entry('DrainStarted', 2);
    const done = new Set([pendingKey(a)]);
    expect(nextOutbox({ pending: [a, b] }, [b], (e) => done.has(pendingKey(e))).next).toEqual({ pending: [b] });
    done.add(pendingKey(b));
    expect(nextOutbox({ pending: [a, b] }, [], (e) => done.has(pendingKey(e))).next).toBeUndefined();
  });

  test('is bounded: the oldest entries go first and are reported', () => {
    const stored = Array.from({ length: MAX_PENDING_NOTIFICATIONS }, (_, i) => entry('Drained', i));
    const fresh = entry('Completed', 59);
    const change = nextOutbox({ pending: stored }, [fresh], () => false);
    expect(change.next?.pending).toHaveLength(MAX_PENDING_NOTIFICATIONS);
    expect(change.next?.pending?.at(-1)).toEqual(fresh);
    expect(change.overflow).toEqual([stored[0]]);
  });
});
