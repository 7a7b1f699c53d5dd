import { describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { drainPodOf, nodeStateOf } from '../../../src/controller/cache/cluster-state.js';
import { ReadYourWrites } from '../../../src/controller/cache/read-your-writes.js';

describe('nodeStateOf', () => {
  it('turns a listed node (client-node Dates) into the JSON the API server stores, so a taint `test` matches', () => {
    const listed: V1Node = {
      metadata: { name: 'n1', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{ manager: 'm', operation: 'Apply', fieldsV1: { 'f:metadata': {} } }] },
      spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: new Date('2026-11-22T04:00:05.000Z') }, { key: 'x', value: 'y', effect: 'NoSchedule' }], unschedulable: true },
    };
    expect(nodeStateOf(listed)).toEqual({
      metadata: { name: 'n1', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{ manager: 'm', operation: 'Apply', fieldsV1: { 'f:metadata': {} } }] },
      spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-11-22T04:00:05Z' }, { key: 'x', value: 'y', effect: 'NoSchedule' }], unschedulable: true },
    });
  });

  it('keeps a watched node\'s timestamps as they are', () => {
    const watched = { metadata: { name: 'n1' }, spec: { taints: [{ key: 'k', effect: 'NoExecute', timeAdded: '2026-11-22T04:00:05Z' }] } } as unknown as V1Node;
    expect(nodeStateOf(watched).spec?.taints?.[0]?.timeAdded).toBe('2026-11-22T04:00:05Z');
  });
});

describe('ReadYourWrites', () => {
  const v = (rv: string, value: string) => ({ metadata: { resourceVersion: rv }, value });

  it('answers with the written object while the cache shows a version it replaced, then with the cache again', () => {
    const ryw = new ReadYourWrites<ReturnType<typeof v>>();
    ryw.wrote('n', v('1', 'old'), v('2', 'ours'));
    ryw.wrote('n', v('2', 'ours'), v('3', 'ours again'));
    expect(ryw.read('n', v('1', 'old'))?.value).toBe('ours again');
    expect(ryw.read('n', v('2', 'ours'))?.value).toBe('ours again');
    expect(ryw.read('n', v('3', 'ours again'))?.value).toBe('ours again');
    // Forgotten once the cache caught up: an old version seen later (a relist) is the cache's call.
    expect(ryw.read('n', v('1', 'old'))?.value).toBe('old');
  });

  it('counts our own earlier write as replaced by our later one, even when the later one was based on an older read', () => {
    const ryw = new ReadYourWrites<ReturnType<typeof v>>();
    // A background report stored 2 from 1; the step's write, decided from 1, stored 3 after it.
    ryw.wrote('n', v('1', 'old'), v('2', 'report'));
    ryw.wrote('n', v('1', 'old'), v('3', 'step'));
    expect(ryw.read('n', v('2', 'report'))?.value).toBe('step');
    expect(ryw.read('n', v('3', 'step'))?.value).toBe('step');
  });

  it('trusts a newer version by someone else, and a deletion', () => {
    const ryw = new ReadYourWrites<ReturnType<typeof v>>();
    ryw.wrote('n', v('1', 'old'), v('2', 'ours'));
    expect(ryw.read('n', v('5', 'theirs'))?.value).toBe('theirs');
    ryw.wrote('n', v('5', 'theirs'), v('6', 'ours'));
    expect(ryw.read('n', undefined)).toBeUndefined();
    expect(ryw.read('n', v('5', 'theirs'))?.value).toBe('theirs');
  });
});

describe('drainPodOf', () => {
  const pod = (extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: 'uid-1',
      resourceVersion: '42',
      labels: { app: 'web' },
      annotations: { 'kubernetes.io/config.mirror': 'abc', 'example.com/big': 'x'.repeat(4096) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d', uid: 'rs', controller: true, blockOwnerDeletion: true }],
      deletionTimestamp: new Date('2026-11-22T04:00:05.000Z'),
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:spec': {} } }],
      ...extra,
    },
    spec: {
      nodeName: 'aks-pool1-12345678-vmss000000',
      terminationGracePeriodSeconds: 90,
      priority: 1000,
      priorityClassName: 'shop-high',
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', env: [{ name: 'A', value: 'b' }] }],
      volumes: [{ name: 'cache', emptyDir: {} }, { name: 'config', configMap: { name: 'cfg' } }],
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], podIP: '10.0.0.1' },
  });

  it('keeps only what a drain decides on, whether the pod came from a list (Date) or a watch (raw JSON)', () => {
    const fromList = drainPodOf(pod());
    expect(fromList).toEqual({
      namespace: 'shop',
      name: 'web-1',
      uid: 'uid-1',
      ownerKinds: ['ReplicaSet'],
      annotations: { 'kubernetes.io/config.mirror': 'abc' },
      deletionTimestamp: '2026-11-22T04:00:05Z',
      terminationGracePeriodSeconds: 90,
      volumes: [
        { name: 'cache', emptyDir: true },
        { name: 'config', emptyDir: false },
      ],
      phase: 'Running',
      priority: 1000,
      priorityClassName: 'shop-high',
    });
    const raw = JSON.parse(JSON.stringify(pod({ deletionTimestamp: '2026-11-22T04:00:05Z' as unknown as Date }))) as V1Pod;
    expect(drainPodOf(raw)).toEqual(fromList);
    expect(JSON.stringify(fromList).length).toBeLessThan(JSON.stringify(pod()).length / 5);
  });

  it('leaves priority and its class out when the pod has none (the drain counts it as 0)', () => {
    const bare = pod();
    delete bare.spec!.priority;
    delete bare.spec!.priorityClassName;
    expect(drainPodOf(bare)).not.toHaveProperty('priority');
    expect(drainPodOf(bare)).not.toHaveProperty('priorityClassName');
  });
});
