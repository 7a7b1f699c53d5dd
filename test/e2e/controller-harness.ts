// Helpers for the controller's end-to-end tests: the controller runs as a real process
// (`node dist/cmd/nodemeta.js controller ...`) against the local control plane; nodes are
// kwok-managed Node objects of the test's own, and their NodeMetadata status is written the way
// the agent writes it (server-side apply on /status, field manager nodemeta-agent).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import type { NodeMetadataStatus } from '../../src/api/nodemetadata.js';
import { REPO_ROOT, apiStatus, kubeConfig, kubectlOk, waitFor } from './lib/cluster.js';
import { identityFor } from './lib/identities.js';
import { startNodemeta } from './lib/nodemeta-process.js';

export async function installCrd(): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager', 'nodemeta-e2e', '-f', path.join(REPO_ROOT, 'crds/nodemetadatas.nodemeta.io.yaml')]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout', '60s']);
}

/** A unique, short id for this test file's objects. */
export function runId(): string {
  return `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * A kwok-managed Node labelled for this run (the controllers under test select on that label),
 * returned once it has settled: Ready, and without the `node.kubernetes.io/` taints the API server's
 * NodeTaint admission puts on a new node and the node-lifecycle controller takes off once kwok
 * reports it Ready. A test that reads the taints before then races that controller.
 * `cordoned`: created unschedulable, for a node pods will wait for (openNode).
 */
export async function createNode(name: string, selectorLabel: Record<string, string>, options: { cordoned?: boolean } = {}): Promise<V1Node> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  await core.createNode({
    body: {
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { ...selectorLabel, 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
      },
      spec: options.cordoned === true ? { unschedulable: true } : {},
    },
  });
  // A cordoned node keeps the unschedulable taint that goes with its cordon.
  const kept = options.cordoned === true ? ['node.kubernetes.io/unschedulable'] : [];
  return waitFor(`node ${name} Ready without lifecycle taints`, async () => {
    const node = await core.readNode({ name });
    const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const lifecycleTaints = (node.spec?.taints ?? []).filter((t) => t.key.startsWith('node.kubernetes.io/') && !kept.includes(t.key));
    return ready && lifecycleTaints.length === 0 ? node : undefined;
  });
}

/** kwok renews a node's Lease every quarter of its 40 s duration (scripts/cluster-up.sh, docs/cluster.md). */
const KWOK_LEASE_RENEW_MS = 10_000;

/**
 * Opens a node created `cordoned` (uncordons it) once kwok is sure to play the pods that land on it.
 * kwok plays a pod's stages only on a node whose Lease its own cache shows it holding, and looks once,
 * when the pod's binding arrives: a pod bound in the instant between a new node turning Ready and
 * that cache catching up is skipped for good, stays Pending and never Ready (what turned a drain
 * red in issue 21: its PDB never had room again). Pods that already wait for a node are bound the
 * moment it opens, so it opens only once kwok has renewed its Lease once, which it does from that
 * cache: from then on the cache holds it.
 */
export async function openNode(name: string): Promise<void> {
  const coordination = kubeConfig().makeApiClient(CoordinationV1Api);
  await waitFor(
    `kwok to renew the Lease of node ${name}`,
    async () => {
      const lease = await coordination.readNamespacedLease({ name, namespace: 'kube-node-lease' }).catch(() => undefined);
      const created = lease?.metadata?.creationTimestamp;
      const renewed = lease?.spec?.renewTime;
      // Created with a renewTime of its creation (to the second); a renewal is at least one interval later.
      return created !== undefined && renewed !== undefined && new Date(renewed as unknown as string).getTime() - new Date(created as unknown as string).getTime() >= 2_000;
    },
    { timeoutMs: 3 * KWOK_LEASE_RENEW_MS, intervalMs: 500 },
  );
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .patchNode({ name, body: { spec: { unschedulable: false } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

/**
 * A Node no kubelet runs (kwok does not manage it either): the test plays its kubelet with
 * nodeHeartbeat, Ready or not. Without a Lease the node-lifecycle controller goes by the Ready
 * condition's heartbeat, so a test that wants it to stay Ready heartbeats it every few seconds.
 */
export async function createBareNode(name: string, selectorLabel: Record<string, string>): Promise<void> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  await core.createNode({
    body: { metadata: { name, labels: { ...selectorLabel, 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } }, spec: {} },
  });
  await nodeHeartbeat(name, true);
}

/** What the kubelet posts: the Ready condition, True or False, with a fresh heartbeat. */
export async function nodeHeartbeat(name: string, ready: boolean): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = { type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', message: ready ? 'played by the test' : 'the VM is gone', lastHeartbeatTime: now, lastTransitionTime: now };
  await kubectlOk(['patch', 'node', name, '--subresource=status', '--type=strategic', '-p', JSON.stringify({ status: { conditions: [condition] } })]);
}

export async function deleteNode(name: string): Promise<void> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.deleteNode({ name });
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
  }
}

export async function readNode(name: string): Promise<V1Node> {
  return kubeConfig().makeApiClient(CoreV1Api).readNode({ name });
}

/** The NodeMetadata the agent creates for its node, owned by the Node (garbage-collected with it). */
export async function createNodeMetadata(node: V1Node): Promise<void> {
  const custom = kubeConfig().makeApiClient(CustomObjectsApi);
  await custom.createClusterCustomObject({
    group: 'nodemeta.io',
    version: 'v1alpha1',
    plural: 'nodemetadatas',
    body: {
      apiVersion: 'nodemeta.io/v1alpha1',
      kind: 'NodeMetadata',
      metadata: {
        name: node.metadata!.name,
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.metadata!.name!, uid: node.metadata!.uid!, blockOwnerDeletion: false }],
      },
    },
  });
}

/** Applies the agent's part of the status, as the agent does (SSA, field manager nodemeta-agent). */
export async function applyAgentStatus(name: string, status: NodeMetadataStatus): Promise<void> {
  const custom = kubeConfig().makeApiClient(CustomObjectsApi);
  await custom.patchClusterCustomObjectStatus(
    {
      group: 'nodemeta.io',
      version: 'v1alpha1',
      plural: 'nodemetadatas',
      name,
      body: { apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name }, status },
      fieldManager: 'nodemeta-agent',
      force: true,
    },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
}

export async function readNodeMetadataStatus(name: string): Promise<NodeMetadataStatus | undefined> {
  const custom = kubeConfig().makeApiClient(CustomObjectsApi);
  const object = (await custom.getClusterCustomObjectStatus({ group: 'nodemeta.io', version: 'v1alpha1', plural: 'nodemetadatas', name })) as { status?: NodeMetadataStatus };
  return object.status;
}

export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodemeta-e2e-controller-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface ControllerProcess {
  identity: string;
  /** The user the API server knows it as (its own ServiceAccount): what the audit log names (lib/audit.ts). */
  user: string;
  child: ChildProcess;
  healthUrl: string;
  /** Every stderr line (JSON logs), for failure messages. */
  logs: string[];
  exited: Promise<number | null>;
  metrics(): Promise<string>;
  /** Sum of nodemeta_controller_api_writes_total, optionally for some resources only. */
  apiWrites(resources?: string[]): Promise<number>;
  isLeader(): Promise<boolean>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Lease timings short enough for a takeover within a test; the relations client-go requires still hold. */
export const FAST_LEASE = ['--lease-duration', '6s', '--renew-deadline', '4s', '--retry-period', '1s'];

export interface ControllerFlags {
  /** `--config FILE`. */
  config?: string;
  /** `--default-config`: the defaults, no file. */
  defaultConfig?: boolean;
  /** `--leader-elect` or `--leader-elect=false`; the flag's default (on) when absent. */
  leaderElect?: boolean;
  /** The Lease (`--lease-namespace`, `--lease-name`); `fast`: FAST_LEASE's timings. */
  lease?: { namespace: string; name?: string; fast?: boolean };
  /** `--node-selector`: only the test's own nodes. */
  nodeSelector?: string;
}

/** The flags of `nodemeta controller` a test chooses, as startController (and `--cleanup`) take them. */
export function controllerArgs(flags: ControllerFlags): string[] {
  const args: string[] = [];
  if (flags.config !== undefined) args.push('--config', flags.config);
  if (flags.defaultConfig === true) args.push('--default-config');
  if (flags.leaderElect !== undefined) args.push(flags.leaderElect ? '--leader-elect' : '--leader-elect=false');
  if (flags.lease !== undefined) {
    args.push('--lease-namespace', flags.lease.namespace);
    if (flags.lease.name !== undefined) args.push('--lease-name', flags.lease.name);
    if (flags.lease.fast === true) args.push(...FAST_LEASE);
  }
  if (flags.nodeSelector !== undefined) args.push('--node-selector', flags.nodeSelector);
  return args;
}

/**
 * Starts `nodemeta controller` as a user of its own (a ServiceAccount per identity, lib/identities.ts,
 * with cluster-admin's rights), so that the audit log tells the replicas apart; resolves once its
 * health server listens. `env`: variables of its own (e.g. a proxy's), over this process's
 * environment without the pod's and the proxy variables (a machine's proxy must not change what a
 * test sees).
 */
export async function startController(identity: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ControllerProcess> {
  const { user, kubeconfig } = await identityFor(identity);
  const controller = await startNodemeta(
    `controller ${identity}`,
    ['controller', '--kubeconfig', kubeconfig, '--identity', identity, '--metrics-addr', '127.0.0.1:0', '--log-level', 'debug', ...args],
    'health and metrics server listening',
    { ...withoutPodEnv(process.env), ...env },
  );
  const metrics = async () => (await fetch(`${controller.url}/metrics`)).text();
  return {
    identity,
    user,
    child: controller.child,
    get healthUrl() {
      return controller.url;
    },
    logs: controller.logs,
    exited: controller.exited,
    metrics,
    async apiWrites(resources) {
      const text = await metrics();
      let sum = 0;
      for (const match of text.matchAll(/^nodemeta_controller_api_writes_total\{resource="([^"]+)",verb="[^"]+"\} (\d+)/gm)) {
        if (resources === undefined || resources.includes(match[1]!)) sum += Number(match[2]);
      }
      return sum;
    },
    async isLeader() {
      return /^nodemeta_controller_is_leader 1$/m.test(await metrics());
    },
    stop: (signal) => controller.stop(signal),
  };
}

export function nodemetaTaints(node: V1Node): { key: string; value?: string; effect: string }[] {
  return (node.spec?.taints ?? []).filter((taint) => taint.key.startsWith('nodemeta.io/')).map(({ key, value, effect }) => (value === undefined ? { key, effect } : { key, value, effect }));
}

const PROXY_VARIABLES = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'].flatMap((name) => [name, name.toLowerCase()]);

function withoutPodEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.POD_NAME;
  delete copy.POD_NAMESPACE;
  for (const name of PROXY_VARIABLES) delete copy[name];
  return copy;
}
