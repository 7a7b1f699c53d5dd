import { describe, expect, test } from '@jest/globals';
import { addOrUpdateObject, type V1Pod } from '@kubernetes/client-node';
import { listAll } from '../../../../src/runtime/informer.js';
import { IndexedPod, PodIndex, indexedPodOf, workloadOf } from '../../../../src/controller/readiness/pod-index.js';
import { PdbIndex, readinessPdbOf } from '../../../../src/controller/readiness/pdb-index.js';
import { drainVerdict, type ReadinessPdb } from '../../../../src/controller/readiness/verdict.js';
import { planDrain } from '../../../../src/controller/maintenance/drain-plan.js';

interface PodSpec {
  namespace?: string;
  node?: string;
  rs?: string;
  hash?: string;
  sts?: string;
  ready?: boolean;
  phase?: string;
  labels?: Record<string, string>;
  rv?: string;
  deleting?: boolean;
}

function v1Pod(name: string, spec: PodSpec = {}): V1Pod {
  const hash = spec.hash ?? '5d4f8c7b9';
  const owner = spec.sts !== undefined ? { kind: 'StatefulSet', name: spec.sts } : { kind: 'ReplicaSet', name: spec.rs ?? `web-${hash}` };
  return {
    metadata: {
      namespace: spec.namespace ?? 'shop',
      name,
      uid: `uid-${name}`,
      resourceVersion: spec.rv ?? '1',
      labels: spec.labels ?? { app: 'web', 'pod-template-hash': hash },
      annotations: { 'example.com/noise': 'x'.repeat(100) },
      ownerReferences: [{ apiVersion: 'apps/v1', ...owner, uid: 'owner', controller: true }],
      ...(spec.deleting ? { deletionTimestamp: new Date('2026-12-07T19:00:00Z') } : {}),
    },
    spec: {
      nodeName: spec.node ?? 'node-a',
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }],
      volumes: [{ name: 'cache', emptyDir: {} }, { name: 'token', projected: { sources: [] } }],
      priority: 100,
      priorityClassName: 'shop-normal',
    },
    status: { phase: spec.phase ?? 'Running', conditions: [{ type: 'Ready', status: spec.ready === false ? 'False' : 'True' }], podIP: '10.0.0.1' },
  };
}

const add = (index: PodIndex, name: string, spec: PodSpec = {}) => index.upsert(indexedPodOf(v1Pod(name, spec)));
const sorted = (nodes: Set<string>) => [...nodes].sort();

describe('indexedPodOf: the informer transform', () => {
  test('keeps what the verdict reads and nothing else; it is a KubernetesObject for the informer cache', () => {
    const pod = indexedPodOf(v1Pod('web-1', { rv: '42' }));
    expect(pod).toBeInstanceOf(IndexedPod);
    expect(pod.metadata).toEqual({ namespace: 'shop', name: 'web-1', resourceVersion: '42' });
    expect(pod.resourceVersion).toBe('42');
    expect(pod.volumes).toEqual([{ name: 'cache', emptyDir: true }]);
    expect(pod.deletionTimestamp).toBeUndefined();
    expect(pod.annotations).toBeUndefined();
    expect({ ...pod }).toEqual({
      namespace: 'shop',
      name: 'web-1',
      uid: 'uid-web-1',
      version: 42,
      rare: { volumes: [{ name: 'cache', emptyDir: true }] },
      nodeName: 'node-a',
      labels: { app: 'web', 'pod-template-hash': '5d4f8c7b9' },
      ownerKinds: ['ReplicaSet'],
      workload: 'Deployment/shop/web',
      ready: true,
      phase: 'Running',
      priority: 100,
      priorityClassName: 'shop-normal',
    });
  });

  test('a raw watch object (JSON) gives the same pod as a deserialized list item', () => {
    // The API server writes metav1.Time with whole seconds.
    const raw = JSON.parse(JSON.stringify(v1Pod('web-1', { deleting: true })).replace('19:00:00.000Z', '19:00:00Z')) as V1Pod;
    expect({ ...indexedPodOf(raw) }).toEqual({ ...indexedPodOf(v1Pod('web-1', { deleting: true })) });
    expect(indexedPodOf(raw).volumes).toEqual([{ name: 'cache', emptyDir: true }]);
    expect(indexedPodOf(raw).deletionTimestamp).toBe('2026-12-07T19:00:00Z');
  });

  test('a mirror pod keeps its mirror annotation (and no other): the verdict skips it as the drain does', () => {
    const raw = v1Pod('etcd-node-a');
    raw.metadata!.annotations = { 'kubernetes.io/config.mirror': 'abc', other: 'x' };
    raw.metadata!.ownerReferences = [];
    const pod = indexedPodOf(raw);
    expect(pod.annotations).toEqual({ 'kubernetes.io/config.mirror': 'abc' });
    const index = new PodIndex();
    index.upsert(pod);
    const verdict = drainVerdict({ pods: index.podsOn('node-a'), pdbsIn: () => [], readyReplicas: index.readyReplicas, options: { deleteEmptyDirData: false, forceUnmanagedPods: false } });
    expect(verdict.blockers).toEqual([]);
  });

  test('keeps what the drain reads too (it is served from this index): the uid, and a grace period other than the default', () => {
    const raw = v1Pod('web-1');
    expect(indexedPodOf(raw).uid).toBe('uid-web-1');
    expect(indexedPodOf(raw).terminationGracePeriodSeconds).toBeUndefined();
    raw.spec!.terminationGracePeriodSeconds = 30;
    expect(indexedPodOf(raw).terminationGracePeriodSeconds).toBeUndefined(); // the default costs nothing
    raw.spec!.terminationGracePeriodSeconds = 120;
    expect(indexedPodOf(raw).terminationGracePeriodSeconds).toBe(120);
    const drainPlanSees = planDrain([indexedPodOf(raw)], { maxGracePeriodMs: 600_000, deleteEmptyDirData: true, forceUnmanagedPods: false }, new Date(0), undefined);
    // The priority too (the eviction order), and the grace period a deletion at the deadline would give.
    expect(drainPlanSees.evict).toEqual([{ namespace: 'shop', name: 'web-1', uid: 'uid-web-1', gracePeriodSeconds: 120, deadlineGracePeriodSeconds: 120, priority: 100 }]);
  });

  test('a resourceVersion that is not a plain number is kept as it is', () => {
    for (const version of ['0', '007', 'abc', '12345678901234567890']) expect(indexedPodOf(v1Pod('a', { rv: version })).metadata.resourceVersion).toBe(version);
  });

  test('an unready pod and an unscheduled pod', () => {
    expect(indexedPodOf(v1Pod('a', { ready: false })).ready).toBe(false);
    const unscheduled = v1Pod('b');
    delete unscheduled.spec!.nodeName;
    expect(indexedPodOf(unscheduled).nodeName).toBe('');
  });
});

describe('workloadOf', () => {
  test.each<[string, string, string, Record<string, string>, string | undefined]>([
    ['ReplicaSet of a Deployment (hash label matches the name suffix)', 'ReplicaSet', 'web-5d4f8c7b9', { 'pod-template-hash': '5d4f8c7b9' }, 'Deployment/shop/web'],
    ['Deployment name with dashes', 'ReplicaSet', 'my-web-app-77f6', { 'pod-template-hash': '77f6' }, 'Deployment/shop/my-web-app'],
    ['bare ReplicaSet (no hash label)', 'ReplicaSet', 'web-5d4f8c7b9', {}, 'ReplicaSet/shop/web-5d4f8c7b9'],
    ['hash label that is not the suffix', 'ReplicaSet', 'web-abc', { 'pod-template-hash': 'xyz' }, 'ReplicaSet/shop/web-abc'],
    ['ReplicaSet named exactly -hash', 'ReplicaSet', '-abc', { 'pod-template-hash': 'abc' }, 'ReplicaSet/shop/-abc'],
    ['StatefulSet', 'StatefulSet', 'db', {}, 'StatefulSet/shop/db'],
    ['Job: none', 'Job', 'batch', {}, undefined],
    ['DaemonSet: none', 'DaemonSet', 'agent', {}, undefined],
  ])('%s', (_name, kind, owner, labels, expected) => {
    expect(workloadOf('shop', kind, owner, labels)).toBe(expected);
  });
});

describe('PodIndex: pods by node and namespace', () => {
  test('add, move, delete: podsOn and podsIn follow; each change names the nodes it touches', () => {
    const index = new PodIndex();
    // a-1 and a-2 are both ready replicas of Deployment shop/web, both on node-a: SingleReplica there.
    expect(sorted(add(index, 'a-1'))).toEqual(['node-a']);
    expect(sorted(add(index, 'a-2'))).toEqual(['node-a']);
    expect(index.podsOn('node-a').map((p) => p.name).sort()).toEqual(['a-1', 'a-2']);
    expect(index.size).toBe(2);
    // a-3 on node-b: web's ready replicas no longer all on node-a; node-a must be re-evaluated.
    expect(sorted(add(index, 'a-3', { node: 'node-b' }))).toEqual(['node-a', 'node-b']);
    expect([...index.podsIn('shop')].map((p) => p.name).sort()).toEqual(['a-1', 'a-2', 'a-3']);
    // Deleting a-3: node-a holds all ready replicas again.
    expect(sorted(index.remove('shop', 'a-3'))).toEqual(['node-a', 'node-b']);
    expect(index.podsOn('node-b')).toEqual([]);
    expect([...index.nodes()]).toEqual(['node-a']);
    expect(sorted(index.remove('shop', 'nope'))).toEqual([]);
  });

  test('an update that changes nothing the verdict reads touches no node, and the new object replaces the old', () => {
    const index = new PodIndex();
    add(index, 'a-1', { rv: '1' });
    const heartbeat = indexedPodOf(v1Pod('a-1', { rv: '2' }));
    expect(sorted(index.upsert(heartbeat))).toEqual([]);
    expect(index.podsOn('node-a')[0]).toBe(heartbeat);
    expect(index.size).toBe(1);
  });

  test('a pod moving from unscheduled to a node, and a pod whose node is cleared', () => {
    const index = new PodIndex();
    const unscheduled = v1Pod('p');
    delete unscheduled.spec!.nodeName;
    expect(sorted(index.upsert(indexedPodOf(unscheduled)))).toEqual([]);
    expect(index.size).toBe(0);
    expect(sorted(add(index, 'p', { node: 'node-c', rv: '2' }))).toEqual(['node-c']);
    expect(sorted(index.upsert(indexedPodOf({ ...unscheduled, metadata: { ...unscheduled.metadata, resourceVersion: '3' } })))).toEqual(['node-c']);
    expect(index.size).toBe(0);
  });

  test('a pod rescheduled to another node (same name, StatefulSet) touches both nodes', () => {
    const index = new PodIndex();
    add(index, 'db-0', { sts: 'db', node: 'node-a', labels: { app: 'db' } });
    expect(sorted(add(index, 'db-0', { sts: 'db', node: 'node-b', labels: { app: 'db' }, rv: '2' }))).toEqual(['node-a', 'node-b']);
  });
});

describe('PodIndex: ready replicas per workload (SingleReplica)', () => {
  test('counts Running, Ready, not terminating pods of each workload cluster-wide', () => {
    const index = new PodIndex();
    add(index, 'w-1', { node: 'n1' });
    add(index, 'w-2', { node: 'n2' });
    add(index, 'w-3', { node: 'n3', ready: false });
    add(index, 'w-4', { node: 'n3', deleting: true });
    add(index, 'w-5', { node: 'n3', phase: 'Pending', ready: false });
    add(index, 'db-0', { sts: 'db', node: 'n1', labels: { app: 'db' } });
    expect(index.readyReplicas('Deployment/shop/web')).toBe(2);
    expect(index.readyReplicas('StatefulSet/shop/db')).toBe(1);
    expect(index.readyReplicas('Deployment/shop/none')).toBe(0);
  });

  test('a pod becoming Ready elsewhere re-evaluates the node that held every ready replica', () => {
    const index = new PodIndex();
    add(index, 'w-1', { node: 'n1' });
    add(index, 'w-2', { node: 'n2', ready: false });
    expect(sorted(add(index, 'w-2', { node: 'n2', ready: true, rv: '2' }))).toEqual(['n1', 'n2']);
    expect(index.readyReplicas('Deployment/shop/web')).toBe(2);
    // Back to unready: n1 holds all ready replicas again.
    expect(sorted(add(index, 'w-2', { node: 'n2', ready: false, rv: '3' }))).toEqual(['n1', 'n2']);
  });

  test('with replicas spread over several nodes, one more elsewhere touches only its own node', () => {
    const index = new PodIndex();
    add(index, 'w-1', { node: 'n1' });
    add(index, 'w-2', { node: 'n2' });
    expect(sorted(add(index, 'w-3', { node: 'n3' }))).toEqual(['n3']);
  });

  test('the verdict over the index: the only ready replica gives a SingleReplica warning until a second is Ready', () => {
    const index = new PodIndex();
    add(index, 'w-1', { node: 'n1' });
    const verdictOf = (node: string) =>
      drainVerdict({ pods: index.podsOn(node), pdbsIn: () => [], readyReplicas: index.readyReplicas, options: { deleteEmptyDirData: true, forceUnmanagedPods: false } });
    expect(verdictOf('n1').warnings.map((w) => w.reason)).toEqual(['SingleReplica']);
    add(index, 'w-2', { node: 'n2' });
    expect(verdictOf('n1').warnings).toEqual([]);
  });
});

describe('PodIndex: affected nodes against a brute force, over random changes', () => {
  /** Per workload, the node holding all its ready replicas, computed from scratch. */
  function soleNodes(index: PodIndex, nodes: string[]): Map<string, string> {
    const byWorkload = new Map<string, Set<string>>();
    for (const node of nodes) {
      for (const pod of index.podsOn(node)) {
        if (pod.workload === undefined || !pod.ready || pod.phase !== 'Running' || pod.deletionTimestamp !== undefined) continue;
        byWorkload.set(pod.workload, (byWorkload.get(pod.workload) ?? new Set()).add(node));
      }
    }
    return new Map([...byWorkload].filter(([, on]) => on.size === 1).map(([workload, on]) => [workload, [...on][0]!]));
  }

  test('every node whose SingleReplica state flips is among the nodes a change names; ready counts stay exact', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    const index = new PodIndex();
    let version = 1;
    for (let step = 0; step < 3000; step++) {
      const before = soleNodes(index, nodes);
      const name = `p${Math.floor(random() * 12)}`;
      const rs = random() < 0.5 ? 'web' : 'api';
      const affected =
        random() < 0.25
          ? index.remove('shop', name)
          : add(index, name, { node: nodes[Math.floor(random() * nodes.length)], rs: `${rs}-h1`, hash: 'h1', ready: random() < 0.8, rv: String(++version), deleting: random() < 0.1 });
      const after = soleNodes(index, nodes);
      for (const workload of new Set([...before.keys(), ...after.keys()])) {
        if (before.get(workload) === after.get(workload)) continue;
        for (const node of [before.get(workload), after.get(workload)]) if (node !== undefined) expect({ step, node, named: affected.has(node) }).toEqual({ step, node, named: true });
      }
      for (const rsName of ['web', 'api']) {
        const workload = `Deployment/shop/${rsName}`;
        const truth = nodes.flatMap((node) => index.podsOn(node)).filter((pod) => pod.workload === workload && pod.ready && pod.phase === 'Running' && pod.deletionTimestamp === undefined).length;
        expect({ step, workload, ready: index.readyReplicas(workload) }).toEqual({ step, workload, ready: truth });
      }
    }
  });
});

describe('PodIndex: shared memory', () => {
  test('pods with the same labels share one frozen labels object; strings of a node and namespace are shared', () => {
    const index = new PodIndex();
    add(index, 'a-1');
    add(index, 'a-2');
    add(index, 'b-1', { labels: { app: 'other' } });
    const [a1, a2] = index.podsOn('node-a').filter((p) => p.name.startsWith('a-'));
    expect(a1!.labels).toBe(a2!.labels);
    expect(Object.isFrozen(a1!.labels)).toBe(true);
    expect(a1!.ownerKinds).toBe(a2!.ownerKinds);
    expect(index.labelSets).toBe(2);
  });

  test('the last pod of a label set frees it', () => {
    const index = new PodIndex();
    add(index, 'a-1');
    add(index, 'a-2');
    index.remove('shop', 'a-1');
    expect(index.labelSets).toBe(1);
    index.remove('shop', 'a-2');
    expect(index.labelSets).toBe(0);
    // Updates release the old pod's share too.
    add(index, 'a-3', { rv: '1' });
    add(index, 'a-3', { rv: '2', labels: { app: 'relabelled' } });
    expect(index.labelSets).toBe(1);
  });

  test('label sets that differ in one value, in a key, or by an extra label are not shared', () => {
    const index = new PodIndex();
    add(index, 'a', { labels: { app: 'web', tier: 'front' } });
    add(index, 'b', { labels: { app: 'web', tier: 'back' } });
    add(index, 'c', { labels: { app: 'web', zone: 'front' } });
    add(index, 'd', { labels: { app: 'web', tier: 'front', extra: 'x' } });
    add(index, 'e', { labels: { app: 'web' } });
    add(index, 'f', { labels: { app: 'web', tier: 'front' } });
    expect(index.labelSets).toBe(5);
    const labelsOf = (name: string) => index.podsOn('node-a').find((p) => p.name === name)!.labels;
    expect(labelsOf('a')).toBe(labelsOf('f'));
    expect(labelsOf('a')).toEqual({ app: 'web', tier: 'front' });
    expect(labelsOf('d')).toEqual({ app: 'web', tier: 'front', extra: 'x' });
    expect(labelsOf('e')).toEqual({ app: 'web' });
  });
});

describe('PdbIndex', () => {
  function budget(name: string, extra: Partial<ReadinessPdb> = {}): ReadinessPdb {
    return { namespace: 'shop', name, selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2, generation: 1, observedGeneration: 1, ...extra };
  }

  function cluster() {
    const pods = new PodIndex();
    add(pods, 'web-1', { node: 'n1' });
    add(pods, 'web-2', { node: 'n2' });
    add(pods, 'db-0', { sts: 'db', node: 'n3', labels: { app: 'db' } });
    add(pods, 'other', { namespace: 'other', node: 'n4' });
    return { pods, pdbs: new PdbIndex(pods) };
  }

  test('a new budget touches the nodes of the pods it selects, in its namespace only', () => {
    const { pdbs } = cluster();
    expect(sorted(pdbs.upsert(budget('web')))).toEqual(['n1', 'n2']);
    expect(pdbs.inNamespace('shop').map((p) => p.name)).toEqual(['web']);
    expect(pdbs.inNamespace('other')).toEqual([]);
  });

  test('a selector edit touches the nodes of the pods selected before and after', () => {
    const { pdbs } = cluster();
    pdbs.upsert(budget('web'));
    expect(sorted(pdbs.upsert(budget('web', { selector: { matchLabels: { app: 'db' } } })))).toEqual(['n1', 'n2', 'n3']);
  });

  test('a status change touches the selected nodes; an identical update none', () => {
    const { pdbs } = cluster();
    pdbs.upsert(budget('web'));
    expect(sorted(pdbs.upsert(budget('web', { disruptionsAllowed: 1 })))).toEqual(['n1', 'n2']);
    expect(sorted(pdbs.upsert(budget('web', { disruptionsAllowed: 1 })))).toEqual([]);
  });

  test('deleting a budget touches the nodes it selected; an empty selector selects the whole namespace, null nothing', () => {
    const { pdbs } = cluster();
    pdbs.upsert(budget('all', { selector: {} }));
    expect(sorted(pdbs.remove('shop', 'all'))).toEqual(['n1', 'n2', 'n3']);
    expect(sorted(pdbs.remove('shop', 'all'))).toEqual([]);
    expect(sorted(pdbs.upsert(budget('none', { selector: null })))).toEqual([]);
  });

  test('readinessPdbOf: spec and status as the verdict reads them; no status yet reads as blocking zeros', () => {
    expect(
      readinessPdbOf({
        metadata: { namespace: 'shop', name: 'web', generation: 2 },
        spec: { selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
        status: { disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3, observedGeneration: 2 },
      }),
    ).toEqual({
      namespace: 'shop',
      name: 'web',
      selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] },
      disruptionsAllowed: 1,
      currentHealthy: 3,
      desiredHealthy: 2,
      generation: 2,
      observedGeneration: 2,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    const fresh = readinessPdbOf({ metadata: { namespace: 'shop', name: 'web', generation: 1 }, spec: {} });
    expect(fresh.selector).toBeNull();
    expect(fresh.disruptionsAllowed).toBe(0);
    expect(fresh.observedGeneration).toBe(0);
  });
});

describe('IndexedPod in the pods informer (runtime/informer.ts with indexedPodOf as its transform)', () => {
  test('a paged list comes back as IndexedPods, and client-node\'s cache keeps the object it has for an unchanged resourceVersion', async () => {
    const pages = [
      { metadata: { continue: 'next' }, items: [v1Pod('a-1', { rv: '5' })] },
      { metadata: { resourceVersion: '9' }, items: [v1Pod('a-2', { rv: '6' })] },
    ];
    let page = 0;
    const list = await listAll(async () => pages[page++]! as never, 1, indexedPodOf);
    expect(list.items.map((item) => item instanceof IndexedPod)).toEqual([true, true]);

    // The cache keys by metadata.namespace/name and skips an object whose resourceVersion it has.
    const cache = new Map();
    const updates: unknown[] = [];
    const first = indexedPodOf(v1Pod('a-1', { rv: '5' }));
    addOrUpdateObject(cache, first as never, [], [(object: unknown) => updates.push(object)]);
    addOrUpdateObject(cache, indexedPodOf(v1Pod('a-1', { rv: '5' })) as never, [], [(object: unknown) => updates.push(object)]);
    expect(updates).toHaveLength(0);
    expect(cache.get('shop').get('a-1')).toBe(first);
    addOrUpdateObject(cache, indexedPodOf(v1Pod('a-1', { rv: '7' })) as never, [], [(object: unknown) => updates.push(object)]);
    expect(updates).toHaveLength(1);
  });
});
