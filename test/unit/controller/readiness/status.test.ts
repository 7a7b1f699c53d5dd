import { describe, expect, test } from '@jest/globals';
import { DRAIN_READY_CONDITION, MAX_READINESS_ENTRIES, NOTHING_BLOCKS_REASON, drainReadinessStatus, drainReadyCondition, sameReadiness } from '../../../../src/controller/readiness/status.js';
import { DRAIN_READY_MESSAGE, drainVerdict, type ReadinessPod } from '../../../../src/controller/readiness/verdict.js';

const now = new Date('2026-12-07T19:30:00.123Z');
const bare = (name: string): ReadinessPod => ({ namespace: 'shop', name, ownerKinds: [], phase: 'Running', ready: true, labels: {} });
const verdictOf = (pods: ReadinessPod[]) => drainVerdict({ pods, pdbsIn: () => [], readyReplicas: () => 99, options: { deleteEmptyDirData: false, forceUnmanagedPods: false } });

describe('the DrainReady condition', () => {
  test('True with NothingBlocks when no pod blocks', () => {
    expect(drainReadyCondition(verdictOf([]), 3)).toEqual({ type: DRAIN_READY_CONDITION, status: 'True', reason: NOTHING_BLOCKS_REASON, message: DRAIN_READY_MESSAGE, observedGeneration: 3 });
  });

  test('False with the first blocker\'s reason and the summary', () => {
    expect(drainReadyCondition(verdictOf([bare('a')]))).toEqual({ type: 'DrainReady', status: 'False', reason: 'Unmanaged', message: '1 pod would block a drain: 1 without a controller' });
  });
});

describe('status.drainReadiness', () => {
  test('blockers capped at 20, the full count kept; the time in whole seconds', () => {
    const pods = Array.from({ length: 45 }, (_, i) => bare(`p${String(i).padStart(2, '0')}`));
    const status = drainReadinessStatus(verdictOf(pods), now);
    expect(status.blockers).toHaveLength(MAX_READINESS_ENTRIES);
    expect(status.blockers[0]!.pod).toBe('shop/p00');
    expect(status.blockedPods).toBe(45);
    expect(status.lastEvaluated).toBe('2026-12-07T19:30:00Z');
  });

  test('sameReadiness ignores the evaluation time and sees any other change', () => {
    const a = drainReadinessStatus(verdictOf([bare('a')]), now);
    expect(sameReadiness(a, drainReadinessStatus(verdictOf([bare('a')]), new Date(now.getTime() + 60_000)))).toBe(true);
    expect(sameReadiness(a, drainReadinessStatus(verdictOf([bare('b')]), now))).toBe(false);
    expect(sameReadiness(a, drainReadinessStatus(verdictOf([]), now))).toBe(false);
    expect(sameReadiness(undefined, a)).toBe(false);
  });
});
