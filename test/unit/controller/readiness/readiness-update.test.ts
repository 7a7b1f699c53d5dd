import { describe, expect, test } from '@jest/globals';
import type { Condition } from '../../../../src/api/nodemetadata.js';
import { ReadinessTally } from '../../../../src/controller/readiness/readiness-tally.js';
import { FIRST_VERDICT_WAIT_MS, reportHoldMs, withDrainReadiness } from '../../../../src/controller/readiness/readiness-update.js';
import { drainReadinessStatus } from '../../../../src/controller/readiness/status.js';
import { drainVerdict, type ReadinessPod } from '../../../../src/controller/readiness/verdict.js';

const now = new Date('2026-12-07T19:30:00.123Z');
const later = new Date('2026-12-07T19:45:00.000Z');
const bare = (name: string): ReadinessPod => ({ namespace: 'shop', name, ownerKinds: [], phase: 'Running', ready: true, labels: {} });
const verdictOf = (pods: ReadinessPod[]) => drainVerdict({ pods, pdbsIn: () => [], readyReplicas: () => 99, options: { deleteEmptyDirData: false, forceUnmanagedPods: false } });
const labeled: Condition = { type: 'Labeled', status: 'True', reason: 'LabelsApplied', message: '', lastTransitionTime: '2026-12-07T19:00:00Z' };
const drainReadyFalse: Condition = { type: 'DrainReady', status: 'False', reason: 'Unmanaged', message: '1 pod would block a drain: 1 without a controller', lastTransitionTime: '2026-12-07T19:00:00Z' };

describe('withDrainReadiness: the DrainReady condition and status.drainReadiness in the controller\'s apply', () => {
  test('a verdict: the condition follows it and the status is the verdict, evaluated now', () => {
    const out = withDrainReadiness([labeled], undefined, { kind: 'verdict', verdict: verdictOf([bare('a')]) }, 2, now);
    expect(out.conditions).toEqual([labeled, { ...drainReadyFalse, observedGeneration: 2, lastTransitionTime: now.toISOString() }]);
    expect(out.drainReadiness).toEqual({ blockers: [{ pod: 'shop/a', reason: 'Unmanaged', message: expect.any(String) }], blockedPods: 1, warnings: [], lastEvaluated: '2026-12-07T19:30:00Z' });
  });

  test('the same verdict later: the stored status is kept as it is (lastEvaluated does not force a write)', () => {
    const stored = drainReadinessStatus(verdictOf([bare('a')]), now);
    const out = withDrainReadiness([labeled, drainReadyFalse], stored, { kind: 'verdict', verdict: verdictOf([bare('a')]) }, undefined, later);
    expect(out.drainReadiness).toBe(stored);
    expect(out.conditions).toEqual([labeled, drainReadyFalse]);
  });

  test('a changed verdict: a new status, evaluated now, and the condition flips', () => {
    const stored = drainReadinessStatus(verdictOf([bare('a')]), now);
    const out = withDrainReadiness([labeled, drainReadyFalse], stored, { kind: 'verdict', verdict: verdictOf([]) }, undefined, later);
    expect(out.drainReadiness).toEqual({ blockers: [], blockedPods: 0, warnings: [], lastEvaluated: '2026-12-07T19:45:00Z' });
    expect(out.conditions[1]).toMatchObject({ type: 'DrainReady', status: 'True', reason: 'NothingBlocks', lastTransitionTime: later.toISOString() });
  });

  test('cold informers: no verdict, what is stored stays (never "ready" on a cold cache)', () => {
    const stored = drainReadinessStatus(verdictOf([bare('a')]), now);
    const conditions = [labeled, drainReadyFalse];
    const out = withDrainReadiness(conditions, stored, { kind: 'cold' }, undefined, later);
    expect(out).toEqual({ conditions, drainReadiness: stored });
    // Nothing stored yet: nothing written.
    expect(withDrainReadiness([labeled], undefined, { kind: 'cold' }, undefined, later)).toEqual({ conditions: [labeled], drainReadiness: undefined });
  });

  test('off: our condition and status go (left out of the apply)', () => {
    const stored = drainReadinessStatus(verdictOf([bare('a')]), now);
    expect(withDrainReadiness([labeled, drainReadyFalse], stored, { kind: 'off' }, undefined, later)).toEqual({ conditions: [labeled], drainReadiness: undefined });
  });
});

describe('reportHoldMs: a report waits for the first verdict, a while', () => {
  test('only while the watch lists for the first time, and no longer than FIRST_VERDICT_WAIT_MS', () => {
    const since = now.getTime();
    expect(reportHoldMs({ kind: 'cold', firstListSince: since }, since + 1_000)).toBe(FIRST_VERDICT_WAIT_MS - 1_000);
    expect(reportHoldMs({ kind: 'cold', firstListSince: since }, since + FIRST_VERDICT_WAIT_MS)).toBeUndefined();
    // A relist after an error keeps the stored verdict: the report goes at once.
    expect(reportHoldMs({ kind: 'cold' }, since)).toBeUndefined();
    expect(reportHoldMs({ kind: 'off' }, since)).toBeUndefined();
    expect(reportHoldMs({ kind: 'verdict', verdict: verdictOf([]) }, since)).toBeUndefined();
    expect(reportHoldMs(undefined, since)).toBeUndefined();
  });
});

describe('ReadinessTally: what the gauges count', () => {
  test('nodes not ready, those with an event pending, blocked pods by reason; cold keeps the last count; off and forget drop it', () => {
    const tally = new ReadinessTally();
    tally.observed('n1', { kind: 'verdict', verdict: verdictOf([bare('a'), bare('b')]) }, true);
    tally.observed('n2', { kind: 'verdict', verdict: verdictOf([bare('c')]) }, false);
    tally.observed('n3', { kind: 'verdict', verdict: verdictOf([]) }, true);
    expect([tally.notReady(), tally.pendingNotReady()]).toEqual([2, 1]);
    expect(tally.blockedByReason()).toEqual({ PodDisruptionBudget: 0, MultiplePodDisruptionBudgets: 0, Unmanaged: 3, LocalStorage: 0 });
    tally.observed('n2', { kind: 'cold' }, true);
    expect([tally.notReady(), tally.pendingNotReady()]).toEqual([2, 2]);
    tally.observed('n1', { kind: 'off' }, true);
    tally.forget('n2');
    expect([tally.notReady(), tally.pendingNotReady(), tally.blockedByReason().Unmanaged]).toEqual([0, 0, 0]);
  });
});
