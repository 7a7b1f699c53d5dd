import { describe, expect, test } from '@jest/globals';
import {
  DRAIN_READY_MESSAGE,
  DrainBlocker,
  DrainWarning,
  countsAsReadyReplica,
  drainVerdict,
  selects,
  type LabelSelector,
  type ReadinessPdb,
  type ReadinessPod,
  type VerdictInput,
} from '../../../../src/controller/readiness/verdict.js';

const strict: VerdictInput['options'] = { deleteEmptyDirData: false, forceUnmanagedPods: false };
const lenient: VerdictInput['options'] = { deleteEmptyDirData: true, forceUnmanagedPods: true };

function pod(name: string, extra: Partial<ReadinessPod> = {}): ReadinessPod {
  return { namespace: 'payments', name, ownerKinds: ['ReplicaSet'], phase: 'Running', ready: true, labels: { app: 'checkout' }, ...extra };
}

function pdb(name: string, extra: Partial<ReadinessPdb> = {}): ReadinessPdb {
  return {
    namespace: 'payments',
    name,
    selector: { matchLabels: { app: 'checkout' } },
    disruptionsAllowed: 0,
    currentHealthy: 3,
    desiredHealthy: 3,
    generation: 1,
    observedGeneration: 1,
    ...extra,
  };
}

function verdict(pods: ReadinessPod[], pdbs: ReadinessPdb[] = [], options = strict, ready: Record<string, number> = {}) {
  return drainVerdict({ pods, pdbsIn: (namespace) => pdbs.filter((p) => p.namespace === namespace), readyReplicas: (workload) => ready[workload] ?? 99, options });
}

const reasons = (v: ReturnType<typeof verdict>) => v.blockers.map((b) => `${b.pod} ${b.reason}`);

describe('a node nothing blocks', () => {
  test('no pods: ready, with the ready message', () => {
    expect(verdict([])).toEqual({ blockers: [], blockedPods: 0, warnings: [], message: DRAIN_READY_MESSAGE });
  });

  test('replicated pods without budgets: ready', () => {
    const v = verdict([pod('a'), pod('b', { ownerKinds: ['StatefulSet'] })]);
    expect(v.blockedPods).toBe(0);
    expect(v.firstReason).toBeUndefined();
  });
});

describe('pods the drain skips never block (the drain plan rule)', () => {
  test.each<[string, Partial<ReadinessPod>]>([
    ['DaemonSet', { ownerKinds: ['DaemonSet'] }],
    ['mirror', { ownerKinds: [], annotations: { 'kubernetes.io/config.mirror': 'abc' } }],
    ['terminating', { ownerKinds: [], deletionTimestamp: '2026-12-07T19:00:00Z' }],
    ['Succeeded', { ownerKinds: [], phase: 'Succeeded' }],
    ['Failed', { ownerKinds: [], phase: 'Failed', volumes: [{ name: 'x', emptyDir: true }] }],
  ])('%s pod under a budget at 0, unmanaged or with emptyDir: not a blocker', (_name, extra) => {
    const v = verdict([pod('p', { volumes: [{ name: 'cache', emptyDir: true }], ...extra })], [pdb('checkout')]);
    expect(v.blockers).toEqual([]);
    expect(v.warnings).toEqual([]);
  });
});

describe('Unmanaged and LocalStorage: what the drain configuration refuses', () => {
  test('a bare pod blocks unless forceUnmanagedPods', () => {
    const v = verdict([pod('bare', { ownerKinds: [] })]);
    expect(v.blockers).toEqual([{ pod: 'payments/bare', reason: DrainBlocker.Unmanaged, message: 'no controller owns it (drain.forceUnmanagedPods is false)' }]);
    expect(v.firstReason).toBe('Unmanaged');
    expect(v.message).toBe('1 pod would block a drain: 1 without a controller');
    expect(verdict([pod('bare', { ownerKinds: [] })], [], lenient).blockers).toEqual([]);
  });

  test('an emptyDir pod blocks unless deleteEmptyDirData; the message names the volume', () => {
    const v = verdict([pod('cache', { volumes: [{ name: 'cache', emptyDir: true }, { name: 'data', emptyDir: false }] })]);
    expect(v.blockers).toEqual([{ pod: 'payments/cache', reason: DrainBlocker.LocalStorage, message: 'emptyDir volume cache would be lost (drain.deleteEmptyDirData is false)' }]);
    expect(verdict([pod('two', { volumes: [{ name: 'a', emptyDir: true }, { name: 'b', emptyDir: true }] })]).blockers[0]!.message).toBe('emptyDir volumes a, b would be lost (drain.deleteEmptyDirData is false)');
    expect(verdict([pod('cache', { volumes: [{ name: 'cache', emptyDir: true }] })], [], lenient).blockers).toEqual([]);
  });

  test('a pod both unmanaged and with emptyDir counts once, as Unmanaged (the drain plan checks that first)', () => {
    const v = verdict([pod('both', { ownerKinds: [], volumes: [{ name: 'cache', emptyDir: true }] })]);
    expect(reasons(v)).toEqual(['payments/both Unmanaged']);
    expect(v.blockedPods).toBe(1);
  });

  test('a pod the drain refuses to evict uses up no disruption of its budget', () => {
    // The bare pod sorts first but is never evicted: the managed pod still gets the one disruption.
    const v = verdict([pod('a-bare', { ownerKinds: [] }), pod('b-web')], [pdb('checkout', { disruptionsAllowed: 1 })]);
    expect(reasons(v)).toEqual(['payments/a-bare Unmanaged']);
  });
});

describe('PodDisruptionBudget: the eviction subresource, pod after pod', () => {
  test('a budget at 0 blocks every healthy pod it selects, with a message naming it', () => {
    const v = verdict([pod('a'), pod('b'), pod('other', { labels: { app: 'other' } })], [pdb('checkout')]);
    expect(v.blockers).toEqual([
      { pod: 'payments/a', reason: 'PodDisruptionBudget', message: 'under PodDisruptionBudget payments/checkout (allows 0 disruptions)' },
      { pod: 'payments/b', reason: 'PodDisruptionBudget', message: 'under PodDisruptionBudget payments/checkout (allows 0 disruptions)' },
    ]);
    expect(v.firstReason).toBe('PodDisruptionBudget');
    expect(v.message).toBe('2 pods would block a drain: 2 under PodDisruptionBudget payments/checkout (allows 0 disruptions)');
  });

  test('disruptionsAllowed 1 and two healthy pods on the node: the first goes, the second blocks', () => {
    const v = verdict([pod('b'), pod('a')], [pdb('checkout', { disruptionsAllowed: 1 })]);
    expect(v.blockers).toEqual([{ pod: 'payments/b', reason: 'PodDisruptionBudget', message: 'under PodDisruptionBudget payments/checkout (allows 1 disruption, used by pods of this node evicted before it)' }]);
    expect(v.message).toBe('1 pod would block a drain: 1 under PodDisruptionBudget payments/checkout (allows 1 disruption)');
  });

  test('the budget is used up in eviction order: lower priority first', () => {
    const v = verdict([pod('a', { priority: 100 }), pod('b', { priority: 0 })], [pdb('checkout', { disruptionsAllowed: 1 })]);
    expect(reasons(v)).toEqual(['payments/a PodDisruptionBudget']);
  });

  test('disruptionsAllowed 2 and two pods: neither blocks; a third does', () => {
    const budget = pdb('checkout', { disruptionsAllowed: 2, currentHealthy: 5, desiredHealthy: 3 });
    expect(verdict([pod('a'), pod('b')], [budget]).blockers).toEqual([]);
    expect(reasons(verdict([pod('a'), pod('b'), pod('c')], [budget]))).toEqual(['payments/c PodDisruptionBudget']);
  });

  test('a negative disruptionsAllowed (the server answers 403) blocks', () => {
    expect(verdict([pod('a')], [pdb('checkout', { disruptionsAllowed: -1 })]).blockers[0]!.message).toBe('under PodDisruptionBudget payments/checkout (allows 0 disruptions)');
  });

  test('a budget whose status lags its spec (observedGeneration < generation) blocks even with disruptions left', () => {
    const v = verdict([pod('a')], [pdb('checkout', { disruptionsAllowed: 5, generation: 3, observedGeneration: 2 })]);
    expect(v.blockers).toEqual([{ pod: 'payments/a', reason: 'PodDisruptionBudget', message: 'under PodDisruptionBudget payments/checkout (not yet processed by the disruption controller)' }]);
  });

  test('two budgets selecting one pod: MultiplePodDisruptionBudgets, whatever they allow', () => {
    const v = verdict([pod('a')], [pdb('checkout', { disruptionsAllowed: 5 }), pdb('all', { selector: {}, disruptionsAllowed: 5 })]);
    expect(v.blockers).toEqual([{ pod: 'payments/a', reason: 'MultiplePodDisruptionBudgets', message: 'under more than one PodDisruptionBudget (payments/checkout, payments/all): the API server refuses to evict it' }]);
    expect(v.firstReason).toBe('MultiplePodDisruptionBudgets');
  });

  test('budgets of another namespace do not apply', () => {
    expect(verdict([pod('a', { namespace: 'shop' })], [pdb('checkout')]).blockers).toEqual([]);
  });

  test('a null selector selects nothing; an empty one every pod of the namespace', () => {
    expect(verdict([pod('a')], [pdb('none', { selector: null })]).blockers).toEqual([]);
    expect(reasons(verdict([pod('a', { labels: {} })], [pdb('all', { selector: {} })]))).toEqual(['payments/a PodDisruptionBudget']);
  });

  describe('pods the eviction subresource deletes without looking at budgets', () => {
    test('a Pending pod is not held by a budget at 0', () => {
      expect(verdict([pod('a', { phase: 'Pending', ready: false })], [pdb('checkout')]).blockers).toEqual([]);
    });
  });

  describe('unready pods (unhealthyPodEvictionPolicy)', () => {
    test('AlwaysAllow: an unready pod goes even at 0, and uses up no disruption', () => {
      const budget = pdb('checkout', { disruptionsAllowed: 1, currentHealthy: 1, desiredHealthy: 3, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
      expect(verdict([pod('a', { ready: false }), pod('b')], [budget]).blockers).toEqual([]);
      expect(verdict([pod('a', { ready: false })], [{ ...budget, disruptionsAllowed: 0 }]).blockers).toEqual([]);
    });

    test('IfHealthyBudget (or unset): an unready pod goes while the budget is healthy (currentHealthy >= desiredHealthy > 0)', () => {
      expect(verdict([pod('a', { ready: false })], [pdb('checkout', { currentHealthy: 3, desiredHealthy: 3 })]).blockers).toEqual([]);
      expect(verdict([pod('a', { ready: false })], [pdb('checkout', { currentHealthy: 3, desiredHealthy: 3, unhealthyPodEvictionPolicy: 'IfHealthyBudget' })]).blockers).toEqual([]);
    });

    test('IfHealthyBudget: an unready pod of a disrupted budget at 0 blocks', () => {
      expect(reasons(verdict([pod('a', { ready: false })], [pdb('checkout', { currentHealthy: 2, desiredHealthy: 3 })]))).toEqual(['payments/a PodDisruptionBudget']);
    });

    test('desiredHealthy 0: the unready shortcut does not apply, the pod needs a disruption', () => {
      expect(reasons(verdict([pod('a', { ready: false })], [pdb('checkout', { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0 })]))).toEqual(['payments/a PodDisruptionBudget']);
      expect(verdict([pod('a', { ready: false })], [pdb('checkout', { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 1 })]).blockers).toEqual([]);
    });

    test('a healthy pod evicted first lowers currentHealthy: the unready pod after it no longer finds the budget healthy', () => {
      const budget = pdb('checkout', { disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 3 });
      // a (ready) takes the disruption, healthy 3 -> 2 < 3: b (unready) needs a disruption, none left.
      expect(reasons(verdict([pod('a'), pod('b', { ready: false })], [budget]))).toEqual(['payments/b PodDisruptionBudget']);
      // b first (unready, healthy budget: goes free), then a takes the disruption.
      expect(verdict([pod('a', { priority: 10 }), pod('b', { ready: false })], [budget]).blockers).toEqual([]);
    });
  });
});

describe('the verdict as a whole', () => {
  test('every blocker is listed, in eviction order; the message sums them by cause', () => {
    const pods = [pod('a'), pod('b'), pod('c-bare', { ownerKinds: [], labels: {} }), pod('d', { labels: { app: 'cache' }, volumes: [{ name: 'scratch', emptyDir: true }] })];
    const v = verdict(pods, [pdb('checkout')]);
    expect(reasons(v)).toEqual(['payments/a PodDisruptionBudget', 'payments/b PodDisruptionBudget', 'payments/c-bare Unmanaged', 'payments/d LocalStorage']);
    expect(v.blockedPods).toBe(4);
    expect(v.message).toBe('4 pods would block a drain: 2 under PodDisruptionBudget payments/checkout (allows 0 disruptions), 1 without a controller, 1 with emptyDir data');
  });

  test('the example of the design: 2 under a budget at 0, 1 without a controller', () => {
    const v = verdict([pod('a'), pod('b'), pod('z', { ownerKinds: [], labels: {} })], [pdb('checkout')]);
    expect(v.message).toBe('3 pods would block a drain: 2 under PodDisruptionBudget payments/checkout (allows 0 disruptions), 1 without a controller');
  });

  test('the same pods in any order give the same verdict', () => {
    const pods = [pod('a'), pod('b', { ownerKinds: [] }), pod('c'), pod('d', { volumes: [{ name: 'v', emptyDir: true }] })];
    const budgets = [pdb('checkout', { disruptionsAllowed: 1 })];
    expect(verdict([...pods].reverse(), budgets)).toEqual(verdict(pods, budgets));
  });

  test('500 pods: every one listed (the status caps, not the verdict)', () => {
    const pods = Array.from({ length: 500 }, (_, i) => pod(`p${String(i).padStart(3, '0')}`));
    const v = verdict(pods, [pdb('checkout')]);
    expect(v.blockers).toHaveLength(500);
    expect(v.blockedPods).toBe(500);
  });
});

describe('SingleReplica: every ready replica of a workload is on this node', () => {
  const web = 'Deployment/payments/web';

  test('the only ready replica of a Deployment: a warning, not a blocker', () => {
    const v = verdict([pod('web-1', { workload: web })], [], strict, { [web]: 1 });
    expect(v.blockers).toEqual([]);
    expect(v.warnings).toEqual([{ pod: 'payments/web-1', reason: DrainWarning.SingleReplica, message: 'the only ready replica of Deployment payments/web is on this node' }]);
  });

  test('all ready replicas on this node: one warning per pod, naming the count', () => {
    const v = verdict([pod('web-1', { workload: web }), pod('web-2', { workload: web })], [], strict, { [web]: 2 });
    expect(v.warnings.map((w) => w.message)).toEqual(['all 2 ready replicas of Deployment payments/web are on this node', 'all 2 ready replicas of Deployment payments/web are on this node']);
  });

  test('another ready replica elsewhere: no warning', () => {
    expect(verdict([pod('web-1', { workload: web })], [], strict, { [web]: 2 }).warnings).toEqual([]);
  });

  test('unready, terminating or not Running pods are no ready replica and get no warning', () => {
    for (const extra of [{ ready: false }, { deletionTimestamp: 'x' }, { phase: 'Pending' }] as Partial<ReadinessPod>[]) {
      expect(verdict([pod('web-1', { workload: web, ...extra })], [], strict, { [web]: 1 }).warnings).toEqual([]);
    }
  });

  test('a pod without a workload (a Job, a bare pod) gets no warning', () => {
    expect(verdict([pod('job-1', { ownerKinds: ['Job'] })], [], strict, {}).warnings).toEqual([]);
  });

  test('a warning and a blocker on the same pod are both reported', () => {
    const v = verdict([pod('web-1', { workload: web })], [pdb('checkout')], strict, { [web]: 1 });
    expect(reasons(v)).toEqual(['payments/web-1 PodDisruptionBudget']);
    expect(v.warnings).toHaveLength(1);
  });

  test('countsAsReadyReplica: Running, Ready, not terminating, with a workload', () => {
    expect(countsAsReadyReplica({ workload: web, ready: true, phase: 'Running' })).toBe(true);
    expect(countsAsReadyReplica({ ready: true, phase: 'Running' })).toBe(false);
    expect(countsAsReadyReplica({ workload: web, ready: true, phase: 'Running', deletionTimestamp: 'x' })).toBe(false);
  });
});

describe('selects: metav1.LabelSelectorAsSelector semantics', () => {
  const labels = { app: 'web', tier: 'front' };
  test.each<[string, LabelSelector | null, boolean]>([
    ['null: nothing', null, false],
    ['empty: everything', {}, true],
    ['empty matchLabels and matchExpressions: everything', { matchLabels: {}, matchExpressions: [] }, true],
    ['matchLabels equal', { matchLabels: { app: 'web' } }, true],
    ['matchLabels differ', { matchLabels: { app: 'db' } }, false],
    ['matchLabels: every key must match', { matchLabels: { app: 'web', tier: 'back' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    ['In, value absent', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, false],
    ['In, key absent', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    ['NotIn, value absent', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, true],
    ['NotIn, key absent: matches', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['NotIn, value present', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['Exists, absent', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist, present', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['labels and expressions together', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] }, true],
    ['invalid: In without values selects nothing', { matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] }, false],
    ['invalid: Exists with values selects nothing', { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['web'] }] }, false],
    ['invalid: unknown operator selects nothing', { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, false],
    ['invalid NotIn without values, even for an absent key', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: [] }] }, false],
  ])('%s', (_name, selector, expected) => {
    expect(selects(selector, labels)).toBe(expected);
  });

  test('a label named like an Object.prototype member is not taken for present', () => {
    expect(selects({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {})).toBe(false);
    expect(selects({ matchLabels: { toString: 'x' } }, {})).toBe(false);
  });
});
