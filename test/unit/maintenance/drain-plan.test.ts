import { describe, expect, test } from '@jest/globals';
import { GRACE_MARGIN_MS, compareEvictionOrder, gracePeriodSeconds, planDrain, type DrainOptions, type DrainPod } from '../../../src/controller/maintenance/drain-plan.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const inSeconds = (seconds: number) => now.getTime() + seconds * 1000;
const options: DrainOptions = { maxGracePeriodMs: 300_000, deleteEmptyDirData: true, forceUnmanagedPods: false };

function pod(name: string, extra: Partial<DrainPod> = {}): DrainPod {
  return { namespace: 'default', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'], phase: 'Running', ...extra };
}

describe('planDrain: which pods are evicted, skipped or blocked', () => {
  test.each<[string, DrainPod, Partial<DrainOptions>, 'evict' | 'skip' | 'block', string]>([
    ['ReplicaSet pod: evicted', pod('web'), {}, 'evict', ''],
    ['StatefulSet pod: evicted', pod('db', { ownerKinds: ['StatefulSet'] }), {}, 'evict', ''],
    ['DaemonSet pod: skipped', pod('ds', { ownerKinds: ['DaemonSet'] }), {}, 'skip', 'DaemonSet'],
    ['mirror (static) pod: skipped', pod('etcd', { ownerKinds: ['Node'], annotations: { 'kubernetes.io/config.mirror': 'abc' } }), {}, 'skip', 'Mirror'],
    ['mirror pod without owner: skipped, not blocked', pod('static', { ownerKinds: [], annotations: { 'kubernetes.io/config.mirror': 'abc' } }), {}, 'skip', 'Mirror'],
    ['terminating pod: skipped, not evicted again', pod('leaving', { deletionTimestamp: '2026-11-22T03:59:00Z' }), {}, 'skip', 'Terminating'],
    ['Succeeded pod: skipped', pod('job', { ownerKinds: ['Job'], phase: 'Succeeded' }), {}, 'skip', 'Completed'],
    ['Failed pod: skipped', pod('job', { ownerKinds: ['Job'], phase: 'Failed' }), {}, 'skip', 'Completed'],
    ['unmanaged pod: blocks', pod('bare', { ownerKinds: [] }), {}, 'block', 'unmanaged pod'],
    ['unmanaged pod with forceUnmanagedPods: evicted', pod('bare', { ownerKinds: [] }), { forceUnmanagedPods: true }, 'evict', ''],
    ['emptyDir pod without deleteEmptyDirData: blocks', pod('cache', { volumes: [{ name: 'scratch', emptyDir: true }] }), { deleteEmptyDirData: false }, 'block', 'emptyDir volume scratch'],
    ['emptyDir pod with deleteEmptyDirData: evicted', pod('cache', { volumes: [{ name: 'scratch', emptyDir: true }] }), {}, 'evict', ''],
    ['non-emptyDir volume never blocks', pod('pvc', { volumes: [{ name: 'data', emptyDir: false }] }), { deleteEmptyDirData: false }, 'evict', ''],
  ])('%s', (_name, input, overrides, expected, reason) => {
    const plan = planDrain([input], { ...options, ...overrides }, now, undefined);
    expect(plan.evict.map((p) => p.name)).toEqual(expected === 'evict' ? [input.name] : []);
    expect(plan.skipped.map((p) => p.name)).toEqual(expected === 'skip' ? [input.name] : []);
    expect(plan.blocked.map((p) => p.name)).toEqual(expected === 'block' ? [input.name] : []);
    if (expected === 'skip') expect(plan.skipped[0]!.reason).toBe(reason);
    if (expected === 'block') expect(plan.blocked[0]!.reason).toContain(reason);
  });

  test('terminating pods are counted for the drain to wait on', () => {
    const plan = planDrain([pod('a', { deletionTimestamp: 'x' }), pod('b', { deletionTimestamp: 'x' }), pod('c')], options, now, undefined);
    expect(plan.terminating).toBe(2);
    expect(plan.evict.map((p) => p.uid)).toEqual(['uid-c']);
  });

  test('the order is deterministic (namespace, name) whatever the input order', () => {
    const pods = [pod('b'), pod('a', { namespace: 'z' }), pod('a')];
    const names = (list: DrainPod[]) => planDrain(list, options, now, undefined).evict.map((p) => `${p.namespace}/${p.name}`);
    expect(names(pods)).toEqual(['default/a', 'default/b', 'z/a']);
    expect(names([...pods].reverse())).toEqual(names(pods));
  });

  test('lower priority is evicted first, critical classes last, ties by namespace/name', () => {
    const pods = [
      pod('dns', { namespace: 'kube-system', priority: 2_000_000_000, priorityClassName: 'system-cluster-critical' }),
      pod('cni-helper', { namespace: 'kube-system', priority: 2_000_001_000, priorityClassName: 'system-node-critical' }),
      pod('batch', { priority: -10 }),
      pod('web-b', { priority: 1000 }),
      pod('web-a', { priority: 1000 }),
      pod('plain'),
      // A critical class wins over the number: a cluster whose admission did not fill priority.
      pod('ingress', { namespace: 'ingress', priorityClassName: 'system-cluster-critical' }),
      pod('urgent', { priority: 5_000_000 }),
    ];
    const names = (list: DrainPod[]) => planDrain(list, options, now, undefined).evict.map((p) => `${p.namespace}/${p.name}`);
    expect(names(pods)).toEqual(['default/batch', 'default/plain', 'default/web-a', 'default/web-b', 'default/urgent', 'ingress/ingress', 'kube-system/dns', 'kube-system/cni-helper']);
    expect(names([...pods].reverse())).toEqual(names(pods));
  });

  test('the order compares equal only for the same pod', () => {
    expect(compareEvictionOrder(pod('a'), pod('a'))).toBe(0);
    expect(compareEvictionOrder(pod('a', { priority: 0 }), pod('a'))).toBe(0);
    expect(Math.sign(compareEvictionOrder(pod('a', { priority: 1 }), pod('a')))).toBe(1);
  });
});

describe('grace period: min(pod, maxGracePeriod, time before NotBefore minus margin), at least 1 s', () => {
  test.each<[string, number | undefined, number, number | undefined, number]>([
    ['pod value below every cap', 20, 300_000, undefined, 20],
    ['pod default (30 s) when unset', undefined, 300_000, undefined, 30],
    ['capped by maxGracePeriod', 600, 120_000, undefined, 120],
    ['capped by NotBefore minus margin', 600, 300_000, inSeconds(70), 70 - GRACE_MARGIN_MS / 1000],
    ['NotBefore far away: pod value', 45, 300_000, inSeconds(3600), 45],
    ['Preempt 30 s ahead: 20 s', 30, 300_000, inSeconds(30), 20],
    ['NotBefore inside the margin: 1 s, never 0 (0 would force-delete)', 30, 300_000, inSeconds(5), 1],
    ['NotBefore already passed: 1 s', 30, 300_000, inSeconds(-60), 1],
    ['pod asks for 0: still 1 s', 0, 300_000, undefined, 1],
  ])('%s', (_name, podSeconds, maxMs, notBefore, expected) => {
    expect(gracePeriodSeconds(podSeconds, maxMs, now, notBefore)).toBe(expected);
  });

  test('planDrain applies the cap per pod', () => {
    const plan = planDrain([pod('slow', { terminationGracePeriodSeconds: 600 }), pod('fast', { terminationGracePeriodSeconds: 5 })], options, now, inSeconds(100));
    expect(Object.fromEntries(plan.evict.map((p) => [p.name, p.gracePeriodSeconds]))).toEqual({ slow: 90, fast: 5 });
  });
});
