// Drain readiness's verdict is the API server's (issue 18, docs/maintenance.md "Drain readiness"):
// one kwok node per blocker reason plus a clean one, the index fed from a real list of pods and
// PDBs, and for every pod a drain would evict a server-side dry-run eviction (dryRun: All) that must
// answer what the verdict says: 201 where nothing blocks (or only the drain's own configuration
// does: Unmanaged, LocalStorage), 429 for PodDisruptionBudget, 500 for MultiplePodDisruptionBudgets.
// The pods of one budget on one node are met one after another, as a drain meets them: each node is
// cordoned (as a drain does, so that no replacement lands back on it) and a pod the server lets go
// is really evicted before the next pod is asked about, so the budget it used is gone for the next.
// No controller runs: the readiness parts are not wired yet. The last test feeds the index from real
// informers (runtime/informer.ts with the transform the controller will use) and follows a PDB
// deletion and a scale-up.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AppsV1Api, CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions, type V1LabelSelector, type V1Pod, type V1PodDisruptionBudget, type V1PodSpec } from '@kubernetes/client-node';
import { compareEvictionOrder, skipReason } from '../../src/controller/maintenance/drain-plan.js';
import { PdbIndex, readinessPdbOf } from '../../src/controller/readiness/pdb-index.js';
import { IndexedPod, PodIndex, indexedPodOf } from '../../src/controller/readiness/pod-index.js';
import { drainVerdict, selects, type DrainVerdict } from '../../src/controller/readiness/verdict.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ResilientInformer } from '../../src/runtime/informer.js';
import { systemClock } from '../../src/time/clock.js';
import { createNode, deleteNode, runId } from './controller-harness.js';
import { apiStatus, createTestNamespace, deleteTestNamespace, kubeConfig, waitFor } from './lib/cluster.js';

const KWOK_TOLERATION = { key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' };
const OPTIONS = { deleteEmptyDirData: false, forceUnmanagedPods: false };
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const policy = kc.makeApiClient(PolicyV1Api);

const run = runId();
/** One node per case. */
const NODES = {
  pdbAtZero: `rdy-zero-${run}`,
  pdbAllowsOne: `rdy-one-${run}`,
  twoPdbs: `rdy-two-${run}`,
  bare: `rdy-bare-${run}`,
  emptyDir: `rdy-empty-${run}`,
  single: `rdy-single-${run}`,
  clean: `rdy-clean-${run}`,
  emptySelector: `rdy-all-${run}`,
} as const;

let ns = '';
/** A namespace of its own for the PDB with an empty selector (it selects every pod of its namespace). */
let nsAll = '';

function podSpec(node: string, extra: Partial<V1PodSpec> = {}): V1PodSpec {
  return {
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } } },
    tolerations: [KWOK_TOLERATION],
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'app', image: 'registry.example/app:1' }],
    ...extra,
  };
}

async function deployment(namespace: string, name: string, node: string, replicas: number, extra: Partial<V1PodSpec> = {}): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace,
    body: { metadata: { name }, spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: podSpec(node, extra) } } },
  });
}

async function pdb(namespace: string, name: string, selector: V1LabelSelector, maxUnavailable: number): Promise<void> {
  await policy.createNamespacedPodDisruptionBudget({ namespace, body: { metadata: { name }, spec: { selector, maxUnavailable } } });
}

/** Every pod Running and Ready, every budget's status computed over them: nothing moves any more. */
async function settled(namespace: string, pods: number): Promise<void> {
  await waitFor(`${pods} pods Ready and the PDBs of ${namespace} computed`, async () => {
    const list = (await core.listNamespacedPod({ namespace })).items;
    const ready = list.filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (list.length !== pods || ready.length !== pods) return false;
    const budgets = (await policy.listNamespacedPodDisruptionBudget({ namespace })).items;
    return budgets.every((b) => b.status?.observedGeneration === b.metadata?.generation && b.status?.currentHealthy === b.status?.expectedPods && (b.status?.expectedPods ?? 0) > 0);
  }, { timeoutMs: 90_000 });
}

/** The server's answer to an eviction of the pod: 201, or the error's status (429, 500). */
async function evictionAnswer(namespace: string, name: string, dryRun: boolean): Promise<number> {
  try {
    await core.createNamespacedPodEviction({
      name,
      namespace,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, ...(dryRun ? { deleteOptions: { dryRun: ['All'] } } : {}) },
      ...(dryRun ? { dryRun: 'All' } : {}),
    });
    return 201;
  } catch (err) {
    const status = apiStatus(err);
    if (status === undefined) throw err;
    return status;
  }
}

/** What the verdict says the server answers: a budget blocker is its refusal, anything else is the server's yes. */
function expectedAnswer(verdict: DrainVerdict, pod: IndexedPod): number {
  const blocker = verdict.blockers.find((b) => b.pod === `${pod.namespace}/${pod.name}`);
  if (blocker?.reason === 'PodDisruptionBudget') return 429;
  if (blocker?.reason === 'MultiplePodDisruptionBudgets') return 500;
  return 201;
}

describe('drain readiness: the verdict is the API server\'s', () => {
  const verdicts = new Map<string, DrainVerdict>();
  let pods = new PodIndex();
  let pdbs = new PdbIndex(pods);

  beforeAll(async () => {
    ns = await createTestNamespace('readiness');
    nsAll = await createTestNamespace('readiness-all');
    for (const node of Object.values(NODES)) await createNode(node, { 'nodemeta-e2e-readiness': run });

    await deployment(ns, 'zero', NODES.pdbAtZero, 2);
    await deployment(ns, 'one', NODES.pdbAllowsOne, 2);
    await deployment(ns, 'both', NODES.twoPdbs, 1);
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'bare', labels: { app: 'bare' } }, spec: podSpec(NODES.bare) } });
    await deployment(ns, 'scratch', NODES.emptyDir, 1, { volumes: [{ name: 'cache', emptyDir: {} }] });
    await deployment(ns, 'solo', NODES.single, 1);
    await deployment(ns, 'web', NODES.clean, 2);
    await deployment(nsAll, 'any', NODES.emptySelector, 1);
    await settled(ns, 10);
    await settled(nsAll, 1);
    // The budgets once their pods are Ready: the disruption controller maps a pod to one budget only
    // when it changes, so the second budget over one pod would otherwise keep a stale status.
    await pdb(ns, 'zero', { matchLabels: { app: 'zero' } }, 0);
    await pdb(ns, 'one', { matchLabels: { app: 'one' } }, 1);
    await pdb(ns, 'both-a', { matchLabels: { app: 'both' } }, 1);
    await pdb(ns, 'both-b', { matchExpressions: [{ key: 'app', operator: 'In', values: ['both'] }] }, 1);
    await pdb(ns, 'web', { matchLabels: { app: 'web' } }, 2);
    await pdb(nsAll, 'everything', {}, 0);
    await settled(ns, 10);
    await settled(nsAll, 1);

    // The index from a real list, through the informer transform, as the controller will feed it.
    pods = new PodIndex();
    pdbs = new PdbIndex(pods);
    for (const namespace of [ns, nsAll]) {
      for (const pod of (await core.listNamespacedPod({ namespace })).items) pods.upsert(indexedPodOf(pod));
      for (const budget of (await policy.listNamespacedPodDisruptionBudget({ namespace })).items) pdbs.upsert(readinessPdbOf(budget));
    }
    for (const node of Object.values(NODES)) verdicts.set(node, drainVerdict({ pods: pods.podsOn(node), pdbsIn: pdbs.inNamespace, readyReplicas: pods.readyReplicas, options: OPTIONS }));
  }, 240_000);

  afterAll(async () => {
    for (const namespace of [ns, nsAll]) if (namespace) await deleteTestNamespace(namespace).catch(() => undefined);
    await waitFor('the test namespaces to go', async () => {
      for (const namespace of [ns, nsAll]) {
        const gone = await core.readNamespace({ name: namespace }).then(() => false, (err: unknown) => apiStatus(err) === 404);
        if (!gone) return false;
      }
      return true;
    }, { timeoutMs: 60_000, intervalMs: 500 }).catch(() => undefined);
    for (const node of Object.values(NODES)) await deleteNode(node).catch(() => undefined);
  }, 120_000);

  const reasonsOn = (node: string) => verdicts.get(node)!.blockers.map((b) => b.reason);

  test('one node per reason: the verdicts', () => {
    expect(reasonsOn(NODES.pdbAtZero)).toEqual(['PodDisruptionBudget', 'PodDisruptionBudget']);
    expect(verdicts.get(NODES.pdbAtZero)!.message).toBe(`2 pods would block a drain: 2 under PodDisruptionBudget ${ns}/zero (allows 0 disruptions)`);
    expect(reasonsOn(NODES.pdbAllowsOne)).toEqual(['PodDisruptionBudget']);
    expect(reasonsOn(NODES.twoPdbs)).toEqual(['MultiplePodDisruptionBudgets']);
    expect(reasonsOn(NODES.bare)).toEqual(['Unmanaged']);
    expect(reasonsOn(NODES.emptyDir)).toEqual(['LocalStorage']);
    expect(verdicts.get(NODES.emptyDir)!.blockers[0]!.message).toBe('emptyDir volume cache would be lost (drain.deleteEmptyDirData is false)');
    expect(reasonsOn(NODES.single)).toEqual([]);
    expect(verdicts.get(NODES.single)!.warnings).toEqual([{ pod: expect.stringMatching(new RegExp(`^${ns}/solo-`)), reason: 'SingleReplica', message: `the only ready replica of Deployment ${ns}/solo is on this node` }]);
    expect(reasonsOn(NODES.clean)).toEqual([]);
    expect(reasonsOn(NODES.emptySelector)).toEqual(['PodDisruptionBudget']);
  });

  test('every pod a drain would evict: the verdict equals a dry-run eviction, pod after pod', async () => {
    const compared: string[] = [];
    for (const node of Object.values(NODES)) {
      const verdict = verdicts.get(node)!;
      // Cordon, as a drain does: a replacement of an evicted pod must not land back here.
      await core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      const evictable = pods
        .podsOn(node)
        .filter((pod) => skipReason(pod) === undefined)
        .sort(compareEvictionOrder);
      for (const pod of evictable) {
        const answer = await evictionAnswer(pod.namespace, pod.name, true);
        compared.push(`${node} ${pod.name}: verdict ${expectedAnswer(verdict, pod)}, server ${answer}`);
        expect({ pod: pod.name, answer }).toEqual({ pod: pod.name, answer: expectedAnswer(verdict, pod) });
        // Let a pod under a budget go for real, so that the next pod of that budget finds it used.
        const underBudget = pdbs.inNamespace(pod.namespace).some((budget) => selects(budget.selector, pod.labels));
        if (answer === 201 && underBudget) expect(await evictionAnswer(pod.namespace, pod.name, false)).toBe(201);
      }
    }
    // Every case was met: 2 + 2 + 1 + 1 + 1 + 1 + 2 + 1 pods.
    expect(compared).toHaveLength(11);
  });

  test('fed by informers, the verdicts follow a PDB deletion and a scale-up', async () => {
    const live = new PodIndex();
    const budgets = new PdbIndex(live);
    const touched = new Set<string>();
    const note = (nodes: Set<string>) => nodes.forEach((node) => touched.add(node));
    // The pods informer caches the transform's IndexedPod (a KubernetesObject), which the index shares.
    const podInformer = new ResilientInformer<V1Pod, IndexedPod>({
      name: 'pods',
      kubeConfig: kc,
      path: '/api/v1/pods',
      list: (page) => core.listPodForAllNamespaces(page),
      pageSize: 500,
      transform: indexedPodOf,
      clock: systemClock,
      logger: silentLogger(),
    });
    const pdbInformer = new ResilientInformer<V1PodDisruptionBudget>({
      name: 'poddisruptionbudgets',
      kubeConfig: kc,
      path: '/apis/policy/v1/poddisruptionbudgets',
      list: (page) => policy.listPodDisruptionBudgetForAllNamespaces(page),
      clock: systemClock,
      logger: silentLogger(),
    });
    podInformer.on('add', (pod) => note(live.upsert(pod)));
    podInformer.on('update', (pod) => note(live.upsert(pod)));
    podInformer.on('delete', (pod) => note(live.remove(pod.namespace, pod.name)));
    pdbInformer.on('add', (budget) => note(budgets.upsert(readinessPdbOf(budget))));
    pdbInformer.on('update', (budget) => note(budgets.upsert(readinessPdbOf(budget))));
    pdbInformer.on('delete', (budget) => note(budgets.remove(budget.metadata!.namespace!, budget.metadata!.name!)));
    const verdictOf = (node: string) => drainVerdict({ pods: live.podsOn(node), pdbsIn: budgets.inNamespace, readyReplicas: live.readyReplicas, options: OPTIONS });
    try {
      await pdbInformer.start();
      await podInformer.start();
      expect(podInformer.list(ns)[0]).toBeInstanceOf(IndexedPod);
      expect(verdictOf(NODES.pdbAtZero).blockers.map((b) => b.reason)).toEqual(['PodDisruptionBudget', 'PodDisruptionBudget']);

      // The budget deleted: its node is named by the change, and nothing blocks there any more.
      touched.clear();
      await policy.deleteNamespacedPodDisruptionBudget({ name: 'zero', namespace: ns });
      await waitFor('the PDB deletion to reach the index', () => touched.has(NODES.pdbAtZero) && verdictOf(NODES.pdbAtZero).blockedPods === 0);
      expect(verdictOf(NODES.pdbAtZero).firstReason).toBeUndefined();

      // Scaled up (the node uncordoned so that the new replica can land there, the only node solo may use).
      expect(verdictOf(NODES.single).warnings.map((w) => w.message)).toEqual([`the only ready replica of Deployment ${ns}/solo is on this node`]);
      await core.patchNode({ name: NODES.single, body: { spec: { unschedulable: false } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      touched.clear();
      await apps.patchNamespacedDeploymentScale({ name: 'solo', namespace: ns, body: { spec: { replicas: 2 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await waitFor('the second replica Ready in the index', () => live.readyReplicas(`Deployment/${ns}/solo`) === 2);
      expect(touched.has(NODES.single)).toBe(true);
      expect(verdictOf(NODES.single).warnings.map((w) => w.message)).toEqual([`all 2 ready replicas of Deployment ${ns}/solo are on this node`, `all 2 ready replicas of Deployment ${ns}/solo are on this node`]);
    } finally {
      await podInformer.stop();
      await pdbInformer.stop();
    }
  });
});
