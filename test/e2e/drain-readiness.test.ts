// Drain readiness end to end (docs/maintenance.md, "Drain readiness"): the real controller, fed by
// its own cluster-wide pods and PDB informers, writes the DrainReady condition and
// status.drainReadiness into NodeMetadata status, as the API server shows them; `kubectl get nmd`
// shows the DRAIN-READY column; the condition follows a PDB deletion and a scale-up.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AppsV1Api, CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions, type V1PodSpec } from '@kubernetes/client-node';
import type { Condition, NodeMetadataStatus } from '../../src/api/nodemetadata.js';
import { apiStatus, createTestNamespace, deleteTestNamespace, kubeConfig, kubectlOk, waitFor } from './lib/cluster.js';
import { applyAgentStatus, controllerArgs, createNode, createNodeMetadata, deleteNode, installCrd, readNodeMetadataStatus, runId, startController, writeConfig, type ControllerProcess } from './controller-harness.js';

const KWOK_TOLERATION = { key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' };
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const policy = kc.makeApiClient(PolicyV1Api);

const id = runId();
const SELECTOR_KEY = 'nodemeta-e2e-drain-readiness';
const NODES = {
  /** Two replicas under a PDB allowing 0 disruptions. */
  zero: `drr-zero-${id}`,
  /** Two replicas under a PDB allowing 2. */
  clean: `drr-clean-${id}`,
  /** One replica of a PDB (minAvailable 1) whose other Deployment, on `other`, is scaled up. */
  grow: `drr-grow-${id}`,
  other: `drr-other-${id}`,
  /** A pod without a controller (Unmanaged), then a Reboot scheduled: DrainAtRisk. */
  risk: `drr-risk-${id}`,
} as const;

let ns = '';
let controller: ControllerProcess | undefined;

function podSpec(node: string): V1PodSpec {
  return {
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } } },
    tolerations: [KWOK_TOLERATION],
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'app', image: 'registry.example/app:1' }],
  };
}

async function deployment(name: string, node: string, replicas: number, labels: Record<string, string> = {}): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: { metadata: { name }, spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name, ...labels } }, spec: podSpec(node) } } },
  });
}

/** `count` pods Ready, and every budget's status computed over them. */
async function settled(count: number): Promise<void> {
  await waitFor(`${count} pods Ready and the PDBs computed`, async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns })).items;
    const ready = pods.filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (pods.length !== count || ready.length !== count) return false;
    const budgets = (await policy.listNamespacedPodDisruptionBudget({ namespace: ns })).items;
    return budgets.every((b) => b.status?.observedGeneration === b.metadata?.generation && b.status?.currentHealthy === b.status?.expectedPods);
  }, { timeoutMs: 90_000 });
}

function drainReady(status: NodeMetadataStatus | undefined): Condition | undefined {
  return status?.conditions?.find((condition) => condition.type === 'DrainReady');
}

/** The node's DrainReady condition once `want` holds for it, as the API server serves it. */
async function conditionWhen(node: string, what: string, want: (condition: Condition) => boolean): Promise<{ condition: Condition; status: NodeMetadataStatus }> {
  return waitFor(`${node}: ${what}`, async () => {
    const status = await readNodeMetadataStatus(node);
    const condition = drainReady(status);
    return condition !== undefined && want(condition) ? { condition, status: status! } : undefined;
  }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  await installCrd();
  ns = await createTestNamespace('drain-readiness');
  for (const name of Object.values(NODES)) {
    const node = await createNode(name, { [SELECTOR_KEY]: id });
    await createNodeMetadata(node);
    await applyAgentStatus(name, { provider: 'azure', observedTime: new Date().toISOString(), events: [] });
  }
  await deployment('zero', NODES.zero, 2);
  await deployment('web', NODES.clean, 2);
  await deployment('grow-a', NODES.grow, 1, { team: 'grow' });
  await deployment('grow-b', NODES.other, 0, { team: 'grow' });
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'bare' }, spec: podSpec(NODES.risk) } });
  await settled(6);
  // The budgets once their pods are Ready (readiness-verdict.test.ts says why).
  await policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: 'zero' }, spec: { selector: { matchLabels: { app: 'zero' } }, maxUnavailable: 0 } } });
  await policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, maxUnavailable: 2 } } });
  await policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: 'grow' }, spec: { selector: { matchLabels: { team: 'grow' } }, minAvailable: 1 } } });
  await settled(6);
  const config = writeConfig('drainReadiness:\n  enabled: true\n');
  controller = await startController(`e2e-drr-${id}`, controllerArgs({ config, leaderElect: false, nodeSelector: `${SELECTOR_KEY}=${id}` }));
}, 240_000);

afterAll(async () => {
  await controller?.stop();
  if (ns) await deleteTestNamespace(ns).catch(() => undefined);
  await waitFor('the test namespace to go', async () => core.readNamespace({ name: ns }).then(() => false, (err: unknown) => apiStatus(err) === 404), { timeoutMs: 60_000, intervalMs: 500 }).catch(() => undefined);
  for (const name of Object.values(NODES)) await deleteNode(name).catch(() => undefined);
}, 120_000);

describe('drain readiness: the controller writes DrainReady into NodeMetadata status', () => {
  test('a node whose PDB allows 0 disruptions is not drain-ready, a clean node is', async () => {
    const zero = await conditionWhen(NODES.zero, 'DrainReady False', (c) => c.status === 'False');
    expect(zero.condition).toMatchObject({ reason: 'PodDisruptionBudget', message: `2 pods would block a drain: 2 under PodDisruptionBudget ${ns}/zero (allows 0 disruptions)` });
    expect(zero.status.drainReadiness?.blockedPods).toBe(2);
    // Both replicas of zero are on this node: also a warning each (risks that do not block).
    expect(zero.status.drainReadiness!.warnings.map((w) => w.reason)).toEqual(['SingleReplica', 'SingleReplica']);
    expect(zero.status.drainReadiness!.blockers.map((b) => b.reason)).toEqual(['PodDisruptionBudget', 'PodDisruptionBudget']);
    expect(zero.status.drainReadiness!.blockers.every((b) => b.pod.startsWith(`${ns}/zero-`))).toBe(true);
    expect(zero.status.drainReadiness!.lastEvaluated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const clean = await conditionWhen(NODES.clean, 'DrainReady True', (c) => c.status === 'True');
    expect(clean.condition).toMatchObject({ reason: 'NothingBlocks', message: 'no pod would block a drain' });
    expect(clean.status.drainReadiness).toMatchObject({ blockers: [], blockedPods: 0 });

    // The gauges, once grow (minAvailable 1, its only healthy pod) has its verdict too: no per-node label.
    await conditionWhen(NODES.grow, 'DrainReady False', (c) => c.status === 'False');
    await conditionWhen(NODES.risk, 'DrainReady False (Unmanaged)', (c) => c.status === 'False' && c.reason === 'Unmanaged');
    const text = await controller!.metrics();
    expect(text).toMatch(/^nodemeta_controller_nodes_not_drain_ready 3$/m);
    expect(text).toMatch(/^nodemeta_controller_drain_blocked_pods\{reason="PodDisruptionBudget"\} 3$/m);
    expect(text).toMatch(/^nodemeta_controller_drain_blocked_pods\{reason="Unmanaged"\} 1$/m);
    // No maintenance event on any node.
    expect(text).toMatch(/^nodemeta_controller_maintenance_pending_not_drain_ready 0$/m);
  }, 120_000);

  test('kubectl get nmd shows the DRAIN-READY column', async () => {
    await conditionWhen(NODES.zero, 'DrainReady False', (c) => c.status === 'False');
    const table = await kubectlOk(['get', 'nmd', NODES.zero, NODES.clean]);
    const [header, ...rows] = table.trim().split('\n');
    // Empty cells (no zone, no event) leave blanks: a cell is read at its column's offset.
    const column = header!.indexOf('DRAIN-READY');
    expect(column).toBeGreaterThan(0);
    const cell = (node: string) => rows.find((row) => row.startsWith(node))!.slice(column).split(/\s+/)[0];
    expect({ zero: cell(NODES.zero), clean: cell(NODES.clean) }).toEqual({ zero: 'False', clean: 'True' });
  }, 120_000);

  test('the condition follows a PDB deletion', async () => {
    await conditionWhen(NODES.zero, 'DrainReady False', (c) => c.status === 'False');
    await policy.deleteNamespacedPodDisruptionBudget({ name: 'zero', namespace: ns });
    const after = await conditionWhen(NODES.zero, 'DrainReady True once its PDB is gone', (c) => c.status === 'True');
    expect(after.status.drainReadiness).toMatchObject({ blockers: [], blockedPods: 0 });
  }, 120_000);

  test('the condition follows a scale-up: a second replica elsewhere frees the budget', async () => {
    const before = await conditionWhen(NODES.grow, 'DrainReady False (minAvailable 1, one replica)', (c) => c.status === 'False');
    expect(before.condition.reason).toBe('PodDisruptionBudget');
    await apps.patchNamespacedDeploymentScale({ name: 'grow-b', namespace: ns, body: { spec: { replicas: 1 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await conditionWhen(NODES.grow, 'DrainReady True once a second replica is Ready on another node', (c) => c.status === 'True');
    const other = await conditionWhen(NODES.other, 'DrainReady True', (c) => c.status === 'True');
    expect(other.status.drainReadiness?.blockedPods).toBe(0);
  }, 120_000);

  test('once no budget blocks any more, the gauges say so (the bare pod still blocks its node)', async () => {
    const text = await controller!.metrics();
    expect(text).toMatch(/^nodemeta_controller_nodes_not_drain_ready 1$/m);
    expect(text).toMatch(/^nodemeta_controller_drain_blocked_pods\{reason="PodDisruptionBudget"\} 0$/m);
  });

  test('an event scheduled on a node that is not drain-ready: one DrainAtRisk Event naming the blockers and the time left', async () => {
    await conditionWhen(NODES.risk, 'DrainReady False (Unmanaged)', (c) => c.status === 'False');
    const notBefore = new Date(Date.now() + 30 * 60_000).toISOString();
    const event = { id: `EV-${id}`, type: 'Reboot' as const, rawType: 'Reboot', status: 'Scheduled' as const, notBefore, source: 'Platform' as const, resources: [NODES.risk], durationSeconds: -1 };
    await applyAgentStatus(NODES.risk, { provider: 'azure', observedTime: new Date().toISOString(), events: [event] });
    const atRisk = await waitFor('a DrainAtRisk Event on the node', async () => {
      const out = await kubectlOk(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${NODES.risk},involvedObject.kind=Node,reason=DrainAtRisk`, '-o', 'json']);
      const items = (JSON.parse(out) as { items: { type: string; message: string; count?: number }[] }).items;
      return items.length > 0 ? items : undefined;
    });
    expect(atRisk).toHaveLength(1);
    expect(atRisk[0]).toMatchObject({ type: 'Warning' });
    expect(atRisk[0]!.message).toMatch(new RegExp(`^1 pod would block a drain: 1 without a controller; (29|30)m left before NotBefore ${notBefore.replace(/\.\d{3}Z$/, '')}`));
    await waitFor('the pending-and-not-ready gauge', async () => /^nodemeta_controller_maintenance_pending_not_drain_ready 1$/m.test(await controller!.metrics()));
    // Once per event: the node's later steps (cordon, drain) record no second one.
    const later = await kubectlOk(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${NODES.risk},involvedObject.kind=Node,reason=DrainAtRisk`, '-o', 'json']);
    expect((JSON.parse(later) as { items: { count?: number }[] }).items.map((item) => item.count ?? 1)).toEqual([1]);
  }, 120_000);
});
