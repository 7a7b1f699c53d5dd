// The Helm chart on the real local control plane (docs/cluster.md): the renders pass server-side
// dry-run, `helm install` places an agent on every node, and the chart's RBAC and admission policy
// hold against real service-account tokens:
//   - agents: tokens from TokenRequest against the chart's agent ServiceAccount, each bound to the
//     agent DaemonSet pod on its node (so the API server puts that node into the user info), used
//     through the agent's own publisher code (src/agent/publisher.ts);
//   - controller: a token bound to one of the chart's controller pods, used by the real
//     `nodemeta controller` process started here (kwok plays the kubelet, so the pods themselves
//     run no image; the processes run on this machine with the pods' identities).
// Two nodes of our own (kwok) keep the writes away from the nodes other tests use.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { Conditions, FIELD_MANAGER_CONTROLLER, GROUP, Labels, PLURAL, TAG_LABEL_PREFIX, VERSION } from '../../src/api/names.js';
import { setCondition, type AgentStatus, type NodeMetadata } from '../../src/api/nodemetadata.js';
import { NodeMetadataPublisher, nodeMetadataPath } from '../../src/agent/publisher.js';
import { kubeconfigCredentials } from '../../src/kube/credentials.js';
import { KubeApiError } from '../../src/api/kube-errors.js';
import { KubeRestClient } from '../../src/kube/rest-client.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator.js';
import { CHART_DIR, parseManifests, renderChart, VALUE_SETS, valuesFilesOf } from '../chart/helm.js';
import {
  apiStatus,
  createTestNamespace,
  deleteTestNamespace,
  expectApiError,
  kubeConfig,
  kubeConfigForToken,
  kubeconfigPath,
  kubectl,
  kubectlOk,
  REPO_ROOT,
  runTool,
  simulatedNodes,
  waitFor,
} from './lib/cluster.js';

const suffix = Math.random().toString(36).slice(2, 7);
const RELEASE = `nodemeta-e2e-${suffix}`; // contains the chart name: resources are named <release>-<component>
const AGENT_SA = `${RELEASE}-agent`;
const CONTROLLER_SA = `${RELEASE}-controller`;
const LEASE = 'nodemeta-controller';
const NODES = [`nmchart-${suffix}-a`, `nmchart-${suffix}-b`];
const [NODE_A, NODE_B] = NODES as [string, string];
const NODEMETA = path.join(REPO_ROOT, 'dist/cmd/nodemeta.js');

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

let ns = '';
let installed = false;
const processes: ChildProcess[] = [];
const scratch = mkdtempSync(path.join(tmpdir(), 'nodemeta-chart-e2e-'));

function helm(args: string[], timeoutMs = 300_000) {
  return runTool('helm', [...args, '--kubeconfig', kubeconfigPath()], {
    timeoutMs,
    env: { HELM_CACHE_HOME: path.join(scratch, 'helm-cache'), HELM_CONFIG_HOME: path.join(scratch, 'helm-config'), HELM_DATA_HOME: path.join(scratch, 'helm-data') },
  });
}

async function helmOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await helm(args, timeoutMs);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A kwok node shaped like the cluster's simulated AKS nodes, in the given zone. */
async function createNode(name: string, zone: string, template: V1Node): Promise<void> {
  const labels = { ...template.metadata?.labels, 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zone, 'nodemeta.io/e2e': 'chart' };
  await core.createNode({
    body: {
      metadata: { name, labels, annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' } },
      status: { capacity: template.status?.capacity, allocatable: template.status?.allocatable, nodeInfo: template.status?.nodeInfo },
    },
  });
}

/** The chart's pod of a component on a node (or any node). */
async function chartPod(component: 'agent' | 'controller', nodeName?: string, notOnNode?: string): Promise<V1Pod> {
  const where = nodeName ? `spec.nodeName=${nodeName}` : notOnNode ? `spec.nodeName!=${notOnNode}` : undefined;
  return waitFor(`the ${component} pod${where ? ` (${where})` : ''}`, async () => {
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=${component}`,
      ...(where ? { fieldSelector: where } : {}),
    });
    return pods.items.find((p) => p.status?.phase === 'Running' && p.metadata?.deletionTimestamp === undefined);
  });
}

/** TokenRequest against a ServiceAccount, bound to a pod unless pod is undefined. */
async function tokenFor(serviceAccount: string, pod: V1Pod | undefined): Promise<string> {
  const spec = {
    audiences: [],
    expirationSeconds: 3600,
    ...(pod ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid } } : {}),
  };
  const r = await core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace: ns, body: { spec } });
  const token = r.status?.token;
  if (!token) throw new Error(`no token for ${serviceAccount}`);
  return token;
}

/** The agent's REST client (src/kube/rest-client.ts) authenticated by a token. */
async function restClientFor(token: string): Promise<KubeRestClient> {
  const admin = await kubeconfigCredentials(kubeconfigPath());
  return new KubeRestClient({ server: admin.server, ca: admin.ca, token: async () => token, source: 'e2e token' });
}

/** What an agent on `node` publishes (a simulated Azure VM in eastus). */
function agentStatus(node: string, zone: string, extra: Partial<AgentStatus> = {}): AgentStatus {
  return {
    provider: 'azure',
    observedTime: new Date().toISOString(),
    instance: { name: node, region: 'eastus', zone, faultDomain: '1', updateDomain: '2', instanceType: 'Standard_D4s_v5', priority: 'regular' },
    tags: [{ name: 'team', value: 'blue' }],
    events: [],
    conditions: setCondition([], { type: Conditions.metadataAvailable, status: 'True', reason: 'Observed', message: 'azure metadata service answered' }, new Date()),
    ...extra,
  };
}

async function expectDenied(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(KubeApiError);
  const e = error as KubeApiError;
  expect({ status: e.status, message: e.message }).toEqual({ status, message: expect.stringMatching(message) });
}

/** What the kubelet does for a ConfigMap volume: the files behind a `..data` symlink swapped in one rename. */
function writeConfigMapVolume(dir: string, data: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const version = `..${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(path.join(dir, version));
  for (const [file, text] of Object.entries(data)) writeFileSync(path.join(dir, version, file), text);
  const tmpLink = path.join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(version, tmpLink);
  renameSync(tmpLink, path.join(dir, '..data'));
  for (const file of Object.keys(data)) if (!existsSync(path.join(dir, file))) symlinkSync(path.join('..data', file), path.join(dir, file));
}

async function configMapData(): Promise<Record<string, string>> {
  return (await core.readNamespacedConfigMap({ name: `${RELEASE}-controller-config`, namespace: ns })).data ?? {};
}

async function nodeLabels(name: string): Promise<Record<string, string>> {
  return (await core.readNode({ name })).metadata?.labels ?? {};
}

beforeAll(async () => {
  const template = (await simulatedNodes())[0];
  if (!template) throw new Error('no simulated nodes');
  await createNode(NODE_A, 'eastus-1', template);
  await createNode(NODE_B, 'eastus-2', template);
  ns = await createTestNamespace('nodemeta-chart');
  // With the controller's FlowSchema: the test below checks the API server puts its requests there.
  // The load balancers' wait is 5 s, not the chart's 60 s: no load balancer here, and the wait
  // itself is witnessed by load-balancer-drain.test.ts.
  await helmOk(['install', RELEASE, CHART_DIR, '--namespace', ns, '--set', 'controller.kubeApi.flowSchema.enabled=true', '--set', 'config.drain.loadBalancerDrainDelay=5s', '--wait', '--timeout', '5m']);
  installed = true;
}, 420_000);

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGTERM');
  if (installed) await helm(['uninstall', RELEASE, '--namespace', ns, '--wait', '--timeout', '3m']);
  for (const name of NODES) {
    await core.deleteNode({ name }).catch(() => undefined); // garbage-collects their NodeMetadata
  }
  if (ns) await deleteTestNamespace(ns);
  rmSync(scratch, { recursive: true, force: true });
}, 300_000);

describe('helm chart: rendered manifests', () => {
  test.each(Object.keys(VALUE_SETS))('every manifest of the %s render is accepted by the API server (server-side dry-run)', async (set) => {
    const text = await renderChart(valuesFilesOf(set), ['--namespace', ns]);
    const kinds = parseManifests(text).map((m) => m.kind);
    expect(kinds).toEqual(expect.arrayContaining(['CustomResourceDefinition', 'DaemonSet', 'Deployment', 'ValidatingAdmissionPolicy', 'ClusterRole', 'Job']));
    const r = await kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=chart-dry-run', '--force-conflicts', '-f', '-'], { input: text });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.trim().split('\n')).toHaveLength(kinds.length);
  });

  test('the admission policy type-checks against the CRD schema without warnings', async () => {
    const api = kc.makeApiClient(AdmissionregistrationV1Api);
    const policy = await waitFor('the policy to be type-checked', async () => {
      const p = await api.readValidatingAdmissionPolicy({ name: `${RELEASE}-agent-own-node` });
      return p.status?.observedGeneration === p.metadata?.generation ? p : undefined;
    });
    expect(policy.status?.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });
});

describe('helm install', () => {
  test('an agent pod runs on every node; both controller replicas are ready', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const nodes = (await core.listNode()).items.filter((n) => n.metadata?.labels?.['kubernetes.io/os'] === 'linux').map((n) => n.metadata?.name);
    expect(nodes).toEqual(expect.arrayContaining(NODES));
    const ds = await waitFor('the agent DaemonSet on every node', async () => {
      const d = await apps.readNamespacedDaemonSet({ name: `${RELEASE}-agent`, namespace: ns });
      const s = d.status;
      return s && s.desiredNumberScheduled === nodes.length && s.numberReady === nodes.length ? d : undefined;
    });
    expect(ds.spec?.template.spec?.hostNetwork).toBe(true);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=agent` });
    expect(pods.items.map((p) => p.spec?.nodeName).sort()).toEqual([...nodes].sort());
    const dep = await apps.readNamespacedDeployment({ name: `${RELEASE}-controller`, namespace: ns });
    expect(dep.status?.readyReplicas).toBe(2);
  });
});

describe('an agent, with a token bound to its own DaemonSet pod', () => {
  let agentA: KubeRestClient;
  let agentToken = '';
  beforeAll(async () => {
    agentToken = await tokenFor(AGENT_SA, await chartPod('agent', NODE_A));
    agentA = await restClientFor(agentToken);
  });
  afterAll(async () => {
    await agentA?.close();
  });

  test('creates its own NodeMetadata (owned by its Node) and publishes its status', async () => {
    const publisher = new NodeMetadataPublisher(agentA, NODE_A);
    const created = await publisher.ensure();
    expect(created.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: NODE_A });
    const applied = await publisher.applyStatus(agentStatus(NODE_A, 'eastus-1'));
    expect(applied.status?.instance?.zone).toBe('eastus-1');
  });

  test("is denied by the policy when it creates another node's NodeMetadata", async () => {
    await expectDenied(new NodeMetadataPublisher(agentA, NODE_B).ensure(), 403, new RegExp(`may only write NodeMetadata "${NODE_A}", not "${NODE_B}"`));
  });

  test("is denied by the policy when it writes another node's status", async () => {
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeMetadata', metadata: { name: NODE_B } } });
    await expectDenied(new NodeMetadataPublisher(agentA, NODE_B).applyStatus(agentStatus(NODE_B, 'eastus-2')), 403, /may only write NodeMetadata/);
  });

  test('is denied by the policy when it sets status.maintenance or a controller condition', async () => {
    const publisher = new NodeMetadataPublisher(agentA, NODE_A);
    const maintenance = { phase: 'Approved', eventId: 'fake-event', approve: 'fake-event' } as unknown as NonNullable<NodeMetadata['status']>['maintenance'];
    await expectDenied(publisher.applyStatus({ ...agentStatus(NODE_A, 'eastus-1'), maintenance } as AgentStatus), 403, /status\.maintenance/);
    const drained = setCondition(agentStatus(NODE_A, 'eastus-1').conditions ?? [], { type: Conditions.drained, status: 'True', reason: 'Drained', message: 'fake' }, new Date());
    await expectDenied(publisher.applyStatus({ ...agentStatus(NODE_A, 'eastus-1'), conditions: drained }), 403, /its own condition/);
  });

  test('is denied by the policy when it creates its NodeMetadata with a spec, a finalizer or a foreign owner', async () => {
    const collection = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    const body = (extra: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NodeMetadata',
      metadata: { name: NODE_A, ...metadata },
      ...extra,
    });
    // Admission runs before storage, so these are judged even though NodeMetadata/A exists.
    await expectDenied(agentA.create(collection, body({ spec: { drain: 'Disabled' } })), 403, /may not set or change spec/);
    await expectDenied(agentA.create(collection, body({}, { finalizers: ['example.com/keep'] })), 403, /without finalizers and owned by its own Node/);
    const nodeB = await core.readNode({ name: NODE_B });
    await expectDenied(
      agentA.create(collection, body({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: NODE_B, uid: nodeB.metadata?.uid }] })),
      403,
      /owned by its own Node/,
    );
  });

  test('is denied by RBAC when it patches a Node, deletes or patches NodeMetadata, or reads pods and secrets', async () => {
    await expectDenied(agentA.mergePatch(`/api/v1/nodes/${NODE_A}`, { metadata: { labels: { 'nodemeta.io/zone': 'fake' } } }), 403, /cannot patch resource "nodes"/);
    await expectDenied(agentA.mergePatch(nodeMetadataPath(NODE_A), { spec: { drain: 'Disabled' } }), 403, /cannot patch resource "nodemetadatas"/);
    const agentCustom = kubeConfigForToken(agentToken, 'agent').makeApiClient(CustomObjectsApi);
    const deleted = await expectApiError(agentCustom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: NODE_A }));
    expect(deleted.status).toBe(403);
    expect(deleted.text).toMatch(/cannot delete resource \W*nodemetadatas/);
    await expectDenied(agentA.get(`/api/v1/namespaces/${ns}/pods`), 403, /cannot list resource "pods"/);
    await expectDenied(agentA.get(`/api/v1/namespaces/${ns}/secrets`), 403, /cannot list resource "secrets"/);
  });

  test('a token of the agent account not bound to a pod cannot write at all', async () => {
    const unbound = await restClientFor(await tokenFor(AGENT_SA, undefined));
    try {
      await expectDenied(new NodeMetadataPublisher(unbound, NODE_A).applyStatus(agentStatus(NODE_A, 'eastus-1')), 403, /carries no node name/);
    } finally {
      await unbound.close();
    }
  });
});

describe('the controller, with its ServiceAccount token', () => {
  let controllerPod: V1Pod;
  let token = '';
  const configDir = path.join(scratch, 'config');
  let metricsUrl = '';
  let logs = '';

  beforeAll(async () => {
    // Not a pod on node B: node B is drained below, and a token bound to an evicted pod stops
    // authenticating (401), which would leave the controller unable to finish that very drain.
    controllerPod = await chartPod('controller', undefined, NODE_B);
    token = await tokenFor(CONTROLLER_SA, controllerPod);
  });

  test('may not delete pods nor read secrets; may evict; may use its own Lease only', async () => {
    const ctl = kubeConfigForToken(token, 'controller');
    const ctlCore = ctl.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'not-for-nodemeta' }, stringData: { password: 'x' } } });
    expect((await expectApiError(ctlCore.readNamespacedSecret({ name: 'not-for-nodemeta', namespace: ns }))).status).toBe(403);
    expect((await expectApiError(ctlCore.listSecretForAllNamespaces())).status).toBe(403);

    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'victim' }, spec: { nodeName: NODE_B, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } },
    });
    const denied = await expectApiError(ctlCore.deleteNamespacedPod({ name: 'victim', namespace: ns }));
    expect(denied.status).toBe(403);
    expect(denied.text).toMatch(/cannot delete resource \W*pods/);
    // Pods leave only through the Eviction API (which honours PodDisruptionBudgets).
    await ctlCore.createNamespacedPodEviction({ name: 'victim', namespace: ns, body: { metadata: { name: 'victim', namespace: ns } } });

    const leases = ctl.makeApiClient(CoordinationV1Api);
    const adminLeases = kc.makeApiClient(CoordinationV1Api);
    await adminLeases.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'someone-else' }, spec: { holderIdentity: 'x' } } });
    expect((await expectApiError(leases.readNamespacedLease({ name: 'someone-else', namespace: ns }))).status).toBe(403);
    const own = await leases.createNamespacedLease({ namespace: ns, body: { metadata: { name: LEASE }, spec: { holderIdentity: 'probe', leaseDurationSeconds: 1 } } });
    await leases.replaceNamespacedLease({ name: LEASE, namespace: ns, body: { ...own, spec: { ...own.spec, holderIdentity: '' } } });

    // The policy is the agent's alone: the controller writes status.maintenance (under another
    // field manager here, removed again, so the real controller's fields are untouched).
    const rest = await restClientFor(token);
    try {
      await rest.apply(
        `${nodeMetadataPath(NODE_B)}/status`,
        { apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeMetadata', metadata: { name: NODE_B }, status: { maintenance: { phase: 'None' } } },
        'e2e-controller-probe',
      );
      await rest.apply(`${nodeMetadataPath(NODE_B)}/status`, { apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeMetadata', metadata: { name: NODE_B } }, 'e2e-controller-probe');
    } finally {
      await rest.close();
    }
  });

  test("labels the agent's node from its NodeMetadata, and a `helm upgrade` of the config reaches it without a restart", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const generationBefore = (await apps.readNamespacedDeployment({ name: `${RELEASE}-controller`, namespace: ns })).metadata?.generation;
    writeConfigMapVolume(configDir, await configMapData());
    const kubeconfigFile = path.join(scratch, 'controller.kubeconfig');
    writeFileSync(kubeconfigFile, kubeConfigForToken(token, 'controller').exportConfig());
    const child = spawn(
      process.execPath,
      [
        NODEMETA,
        'controller',
        '--kubeconfig',
        kubeconfigFile,
        '--config',
        path.join(configDir, 'config.yaml'),
        '--lease-namespace',
        ns,
        '--lease-name',
        LEASE,
        '--identity',
        controllerPod.metadata?.name ?? 'e2e',
        '--metrics-addr',
        '127.0.0.1:0',
        // This test's nodes only: the cluster's other simulated nodes run no agent, and while a
        // managed node has not reported its VM name nothing may be approved (docs/maintenance.md).
        '--node-selector',
        'nodemeta.io/e2e=chart',
      ],
      { env: { ...process.env, POD_NAME: controllerPod.metadata?.name, POD_NAMESPACE: ns }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    processes.push(child);
    child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    child.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
    metricsUrl = await waitFor('the controller to listen', () => /"url":"(http:[^"]+)"/.exec(logs)?.[1] ?? (child.exitCode !== null ? Promise.reject(new Error(`controller exited ${child.exitCode}: ${logs}`)) : undefined));

    const labels = await waitFor(`nodemeta labels on ${NODE_A}`, async () => {
      const l = await nodeLabels(NODE_A);
      return l[Labels.zone] === 'eastus-1' ? l : undefined;
    }, { timeoutMs: 90_000 });
    expect(labels).toMatchObject({ [Labels.provider]: 'azure', [Labels.region]: 'eastus', [Labels.faultDomain]: '1', [Labels.updateDomain]: '2', [Labels.priority]: 'regular' });
    expect(labels[`${TAG_LABEL_PREFIX}team`]).toBeUndefined(); // not allow-listed yet
    const node = await core.readNode({ name: NODE_A });
    expect(node.metadata?.managedFields?.some((f) => f.manager === FIELD_MANAGER_CONTROLLER)).toBe(true);

    await helmOk(['upgrade', RELEASE, CHART_DIR, '--namespace', ns, '--reuse-values', '--set-json', 'config={"labels":{"allowedTags":["team"]},"drain":{"loadBalancerDrainDelay":"5s"}}', '--wait', '--timeout', '3m']);
    const data = await configMapData();
    expect(data['config.yaml']).toContain('team');
    // The kubelet refreshes the mounted volume; the controller sees the file change and reloads.
    writeConfigMapVolume(configDir, data);
    await waitFor(`tag label on ${NODE_A} after the upgrade`, async () => (await nodeLabels(NODE_A))[`${TAG_LABEL_PREFIX}team`] === 'blue', { timeoutMs: 90_000 });
    const metrics = await (await fetch(`${metricsUrl.replace(/\/$/, '')}/metrics`)).text();
    expect(metrics).toMatch(/nodemeta_controller_config_reloads_total\{result="success"\} [1-9]/);
    // The process's own figures, as the chart's users' dashboards expect them.
    expect(metrics).toMatch(/^process_resident_memory_bytes [1-9]/m);
    expect(metrics).toMatch(/^nodejs_heap_size_used_bytes [1-9]/m);
    // API Priority and Fairness classified the controller's requests by the chart's FlowSchema.
    const apiServerMetrics = await kubectlOk(['get', '--raw', '/metrics']);
    const dispatched = new RegExp(`^apiserver_flowcontrol_dispatched_requests_total\\{[^}]*flow_schema="${RELEASE}-controller"[^}]*priority_level="workload-high"[^}]*\\} [1-9]`, 'm');
    expect(apiServerMetrics).toMatch(dispatched);
    // No restart: a config-only upgrade leaves the controller's pod template alone.
    expect((await apps.readNamespacedDeployment({ name: `${RELEASE}-controller`, namespace: ns })).metadata?.generation).toBe(generationBefore);
    expect(child.exitCode).toBeNull();
  });

  test("an agent's scheduled event becomes the notice taint and phase Scheduled; its cancellation removes them", async () => {
    const agent = await restClientFor(await tokenFor(AGENT_SA, await chartPod('agent', NODE_A)));
    const publisher = new NodeMetadataPublisher(agent, NODE_A);
    const notice = { key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'PreferNoSchedule' };
    try {
      // Reboot in 2 h, lead time 1 h by default: for now only the notice taint.
      const reboot = {
        id: `e2e-reboot-${suffix}`,
        type: 'Reboot' as const,
        rawType: 'Reboot',
        status: 'Scheduled' as const,
        // Whole seconds, as the metadata services give it.
        notBefore: new Date(Math.floor(Date.now() / 1000 + 2 * 3600) * 1000).toISOString(),
        source: 'Platform' as const,
        resources: [NODE_A],
      };
      await publisher.applyStatus(agentStatus(NODE_A, 'eastus-1', { events: [reboot] }));
      const node = await waitFor('the notice taint', async () => {
        const n = await core.readNode({ name: NODE_A });
        return n.spec?.taints?.some((t) => t.key === notice.key && t.value === notice.value && t.effect === notice.effect) ? n : undefined;
      }, { timeoutMs: 60_000 });
      expect(node.spec?.unschedulable).toBeFalsy();
      const status = await waitFor('phase Scheduled', async () => {
        const o = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: NODE_A })) as NodeMetadata;
        return o.status?.maintenance?.phase === 'Scheduled' ? o.status : undefined;
      });
      expect(status.maintenance).toMatchObject({ eventId: reboot.id, eventType: 'Reboot' });
      expect(Date.parse(status.maintenance?.notBefore ?? '')).toBe(Date.parse(reboot.notBefore));

      // The platform cancels it: the agent publishes no event, the controller removes its taint.
      await publisher.applyStatus(agentStatus(NODE_A, 'eastus-1', { events: [] }));
      await waitFor('the notice taint to go', async () => !(await core.readNode({ name: NODE_A })).spec?.taints?.some((t) => t.key === notice.key), { timeoutMs: 60_000 });
    } finally {
      await agent.close();
    }
  });
});

describe('agent processes with their DaemonSet pods’ tokens, against the IMDS emulator', () => {
  let emulator: RunningEmulator | undefined;
  afterAll(async () => {
    await emulator?.close();
  });

  /** The platform schedules a Reboot of one VM (emulator control API, manual lifecycle); its event id. */
  async function scheduleReboot(vm: string, notBefore: string): Promise<string> {
    const post = await fetch(`${emulator!.url}/_emulator/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'Reboot', resources: [vm], notBefore, lifecycle: 'manual' }),
    });
    expect(post.status).toBe(201);
    return ((await post.json()) as { EventId: string }).EventId;
  }

  test('each agent labels its own node through the controller; a Reboot two hours ahead is a notice taint; one due now is drained, approved by the agent and undone afterwards', async () => {
    emulator = await startEmulator({
      provider: 'azure',
      scenario: [
        'provider: azure',
        'vms:',
        `  - {name: ${NODE_A}, instance: {location: eastus, zone: "1", platformFaultDomain: "0", platformUpdateDomain: "3"}}`,
        `  - {name: ${NODE_B}, instance: {location: eastus, zone: "2", platformFaultDomain: "1", platformUpdateDomain: "4"}}`,
      ].join('\n'),
    });
    const agentLogs: Record<string, string> = {};
    for (const node of NODES) {
      const kubeconfigFile = path.join(scratch, `agent-${node}.kubeconfig`);
      writeFileSync(kubeconfigFile, kubeConfigForToken(await tokenFor(AGENT_SA, await chartPod('agent', node)), `agent-${node}`).exportConfig());
      agentLogs[node] = '';
      const child = spawn(
        process.execPath,
        [NODEMETA, 'agent', '--provider', 'azure', '--endpoint', emulator.endpoint(node), '--kubeconfig', kubeconfigFile, '--metrics-addr', '127.0.0.1:0', '--events-interval', '1s'],
        { env: { ...process.env, NODE_NAME: node }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      processes.push(child);
      child.stderr?.on('data', (d: Buffer) => (agentLogs[node] += d.toString()));
      child.stdout?.on('data', (d: Buffer) => (agentLogs[node] += d.toString()));
    }
    const agentOf = (node: string) => `agent on ${node}: ${agentLogs[node]?.slice(-2000)}`;

    // Each agent publishes its own NodeMetadata; the controller turns it into labels.
    for (const [node, zone] of [[NODE_A, '1'], [NODE_B, '2']] as const) {
      const status = await waitFor(`NodeMetadata ${node} from its agent`, async () => {
        const o = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: node })) as NodeMetadata;
        return o.status?.instance?.faultDomain === (node === NODE_A ? '0' : '1') ? o.status : undefined;
      }, { timeoutMs: 90_000 }).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${agentOf(node)}`)));
      expect(status.provider).toBe('azure');
      expect(status.instance?.zone).toContain(zone);
      const labels = await waitFor(`labels on ${node}`, async () => {
        const l = await nodeLabels(node);
        return l[Labels.zone] === status.instance?.zone && l[Labels.faultDomain] === status.instance?.faultDomain ? l : undefined;
      }, { timeoutMs: 60_000 });
      expect(labels[Labels.provider]).toBe('azure');
      expect(labels[Labels.updateDomain]).toBe(node === NODE_A ? '3' : '4');
    }

    // Azure announces a Reboot of node A two hours ahead: notice taint, phase Scheduled.
    const eventId = await scheduleReboot(NODE_A, '+2h');
    const notice = (n: V1Node) => n.spec?.taints?.some((t) => t.key === 'nodemeta.io/scheduled-event' && t.value === 'Reboot' && t.effect === 'PreferNoSchedule');
    await waitFor('the Reboot notice taint on node A', async () => notice(await core.readNode({ name: NODE_A })), { timeoutMs: 60_000 }).catch((err: Error) =>
      Promise.reject(new Error(`${err.message}\n${agentOf(NODE_A)}`)),
    );
    // The taint is written before the status that records the event (one reconcile, two writes):
    // wait for the status to name this event, then check what it says.
    const scheduled = await waitFor('the status to record the Reboot on node A', async () => {
      const o = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: NODE_A })) as NodeMetadata;
      return o.status?.maintenance?.eventId === eventId ? o : undefined;
    }, { timeoutMs: 30_000 });
    expect(scheduled.status?.maintenance).toMatchObject({ phase: 'Scheduled', eventType: 'Reboot' });
    expect(scheduled.status?.maintenance?.eventId).toBe(eventId);

    // The platform cancels it: the taint goes.
    const all = (await (await fetch(`${emulator.url}/_emulator/events`)).json()) as { EventId: string }[];
    for (const e of all) expect((await fetch(`${emulator.url}/_emulator/events/${e.EventId}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor('the notice taint to go from node A', async () => !notice(await core.readNode({ name: NODE_A })), { timeoutMs: 60_000 });

    // A Reboot with Azure's usual 15 min notice on node B, which runs a Deployment's pod: the
    // controller (its ServiceAccount) cordons and drains through the Eviction API, the agent (its
    // pod's token) approves; when the platform is done, the node comes back into service.
    const apps = kc.makeApiClient(AppsV1Api);
    const appLabels = { app: `drained-${suffix}` };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: appLabels.app },
        spec: {
          replicas: 1,
          selector: { matchLabels: appLabels },
          template: {
            metadata: { labels: appLabels },
            spec: { nodeSelector: { 'kubernetes.io/hostname': NODE_B }, terminationGracePeriodSeconds: 5, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
          },
        },
      },
    });
    const appPods = async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${appLabels.app}` })).items;
    const first = await waitFor('the app pod Running on node B', async () => (await appPods()).find((p) => p.spec?.nodeName === NODE_B && p.status?.phase === 'Running'));
    const rebootId = await scheduleReboot(NODE_B, '+15m');
    const approved = await waitFor('node B drained and the Reboot approved by its agent', async () => {
      const o = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: NODE_B })) as NodeMetadata;
      return o.status?.maintenance?.phase === 'Approved' ? o.status : undefined;
    }, { timeoutMs: 90_000 }).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${agentOf(NODE_B)}`)));
    expect(approved.maintenance).toMatchObject({ eventId: rebootId, eventType: 'Reboot', pendingPods: 0 });
    // The app's pod, and whichever of the chart's own controller pods the scheduler put on node B.
    expect(approved.maintenance?.evictedPods).toBeGreaterThanOrEqual(1);
    expect(approved.approvals?.map((a) => a.eventId)).toContain(rebootId);
    const emulated = (await (await fetch(`${emulator.url}/_emulator/events/${rebootId}`)).json()) as { approved: boolean };
    expect(emulated.approved).toBe(true);
    // The pod left through an eviction (a new one could not land on the cordoned node).
    expect((await appPods()).some((p) => p.metadata?.uid === first.metadata?.uid && p.metadata?.deletionTimestamp === undefined)).toBe(false);
    const cordoned = await core.readNode({ name: NODE_B });
    expect(cordoned.spec?.unschedulable).toBe(true);
    expect(cordoned.metadata?.annotations?.['nodemeta.io/cordoned']).toBe(rebootId);

    expect((await fetch(`${emulator.url}/_emulator/events/${rebootId}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor('node B uncordoned after the Reboot', async () => {
      const node = await core.readNode({ name: NODE_B });
      return node.spec?.unschedulable !== true && node.metadata?.annotations?.['nodemeta.io/cordoned'] === undefined;
    }, { timeoutMs: 60_000 });
    // The uncordon and the Completed status are two requests of one reconcile, the Node first: the
    // status may still say Approved when the uncordon is seen. It must follow, for this Reboot.
    const done = await waitFor('the status of node B to say the Reboot is over', async () => {
      const o = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: NODE_B })) as NodeMetadata;
      return o.status?.maintenance?.phase === 'Approved' ? undefined : o.status;
    }, { timeoutMs: 30_000 });
    expect(done.maintenance).toMatchObject({ phase: 'Completed', eventId: rebootId });
  });
});

describe('helm uninstall', () => {
  // The pre-delete hook runs `nodemeta controller --cleanup` in a Job; kwok completes the Job's pod
  // without running the image, so the test runs that command itself, as the hook would, with the
  // controller's token, while the controller still runs.
  test('the cleanup hook leaves no nodemeta labels, taints or cordons on the nodes', async () => {
    const pod = await chartPod('controller');
    const kubeconfigFile = path.join(scratch, 'cleanup.kubeconfig');
    writeFileSync(kubeconfigFile, kubeConfigForToken(await tokenFor(CONTROLLER_SA, pod), 'cleanup').exportConfig());
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [NODEMETA, 'controller', '--cleanup', '--kubeconfig', kubeconfigFile, '--lease-namespace', ns, '--lease-name', LEASE], { stdio: 'inherit' });
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    for (const name of NODES) {
      const node = await core.readNode({ name });
      expect(Object.keys(node.metadata?.labels ?? {}).filter((k) => k.startsWith('nodemeta.io/') && k !== 'nodemeta.io/e2e' || k.startsWith(TAG_LABEL_PREFIX))).toEqual([]);
      expect((node.spec?.taints ?? []).filter((t) => t.key.startsWith('nodemeta.io/'))).toEqual([]);
      expect(node.metadata?.annotations?.['nodemeta.io/cordoned']).toBeUndefined();
    }
  });

  test('removes every release resource but keeps the CRD and the NodeMetadata objects', async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGTERM');
    await helmOk(['uninstall', RELEASE, '--namespace', ns, '--wait', '--timeout', '3m']);
    installed = false;
    const apps = kc.makeApiClient(AppsV1Api);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const gone = async (p: Promise<unknown>) => {
      try {
        await p;
        return false;
      } catch (err) {
        return apiStatus(err) === 404;
      }
    };
    await waitFor('the release resources to be deleted', async () =>
      (await gone(apps.readNamespacedDaemonSet({ name: `${RELEASE}-agent`, namespace: ns }))) &&
      (await gone(apps.readNamespacedDeployment({ name: `${RELEASE}-controller`, namespace: ns }))) &&
      (await gone(rbac.readClusterRole({ name: `${RELEASE}-agent` }))) &&
      (await gone(rbac.readClusterRole({ name: `${RELEASE}-controller` }))) &&
      (await gone(admission.readValidatingAdmissionPolicy({ name: `${RELEASE}-agent-own-node` }))),
    );
    // Helm never deletes what it installed from crds/: the CRD and the per-node data stay.
    const objects = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: NodeMetadata[] };
    expect(objects.items.map((o) => o.metadata?.name)).toEqual(expect.arrayContaining([NODE_A, NODE_B]));
  });
});
