// Shared parts of the maintenance end-to-end scenarios (issue 5), every one against the real
// control plane: each scenario has its own kwok nodes, its own emulated VMs (one in-process
// emulator per scenario, real agent processes talking to it over HTTP), its own controller
// process(es) selecting only its nodes (--node-selector) and its own namespace, so scenarios run
// side by side in one file without disturbing each other.
//
// Nodes:
// - managed nodes carry MANAGED_LABEL=<scenario id>: the scenario's controller selects them, an agent
//   runs for each;
// - a spare node (not managed, no agent) takes the pods a drain evicts: it is created only once the
//   workload sits on the managed nodes, so nothing is scheduled onto it before.
// Workloads pin themselves with a required node affinity on kubernetes.io/hostname (the managed
// nodes they start on plus the spare), so a replacement pod has somewhere to go.
//
// Watches record every change the API server reports (NodeMetadata, Pods, a Node) from the start of
// a scenario: invariants ("never more than one node Draining", "never below minAvailable", "the
// annotation was never there") are checked over the whole history, not over samples.
import { Annotations } from '../../src/api/names.js';
import { AppsV1Api, CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions, Watch, type V1Pod, type V1PodDisruptionBudgetSpec } from '@kubernetes/client-node';
import { expect } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { MaintenanceStatus, NodeMetadataStatus } from '../../src/api/nodemetadata.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator.js';
import { startAgent, type AgentProcess } from './agent-harness.js';
import { createBareNode, createNode, deleteNode, openNode, runId, startController, writeConfig, type ControllerProcess } from './controller-harness.js';
import { auditLog, describeAudit } from './lib/audit.js';
import { apiStatus, clusterDir, createTestNamespace, deleteTestNamespace, kubeConfig, kubeconfigPath, kubectlOk, waitFor } from './lib/cluster.js';

export const MANAGED_LABEL = 'nodemeta-e2e-maintenance';
/**
 * Writes to a drained Node by a scenario's controllers (every patch or update the API server
 * received, refused ones included), from the scenario's start to its end: the labels once, the
 * cordon with its taint, their removal, and as many again for a conflict or for a new leader that
 * re-reads and writes again after a takeover or an outage. A controller that rewrote its cordon on
 * every reconcile (every pod change of the drain) goes far past it.
 */
export const NODE_WRITES_PER_DRAIN = 8;
/** nodemeta's cordon annotation (the public name, from src/api/names.ts). */
export const CORDONED_ANNOTATION = Annotations.cordoned;
const KWOK_TOLERATION = { key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' };

/** The raw JSON a watch delivers (no client-node models: timestamps are strings). */
export interface RawObject {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; controller?: boolean }[];
  };
}
export interface RawNodeMetadata extends RawObject {
  status?: NodeMetadataStatus;
}
export interface RawPod extends RawObject {
  spec?: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
export interface RawNode extends RawObject {
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
}

export interface WatchEntry<T> {
  /** Epoch ms when the test process received it. */
  at: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
  /** Found by a list after the watch could not resume: the change may be several in one. */
  relisted?: boolean;
}

/**
 * A watch that records every change, restarting from the last resourceVersion if the server closes
 * it. `state` is the latest object per name; `history` every change in the server's order.
 */
export class Recorder<T extends RawObject> {
  readonly state = new Map<string, T>();
  readonly history: WatchEntry<T>[] = [];
  private abort: AbortController | undefined;
  private stopped = false;
  private lastResourceVersion: string | undefined;
  private retries = 0;
  /** Set when the watch could not be resumed: the history has a hole and invariants cannot be trusted. */
  failure: string | undefined;
  /** How many times the watch had to list again (410 Gone after an API server restart). */
  relists = 0;
  private gone = false;

  private constructor(
    private readonly path: string,
    private readonly query: Record<string, string>,
    private readonly keep: (object: T) => boolean,
  ) {}

  static async start<T extends RawObject>(path: string, query: Record<string, string> = {}, keep: (object: T) => boolean = () => true): Promise<Recorder<T>> {
    const recorder = new Recorder<T>(path, query, keep);
    await recorder.connect();
    return recorder;
  }

  private async connect(): Promise<void> {
    const query: Record<string, string | boolean> = { ...this.query, allowWatchBookmarks: true };
    if (this.lastResourceVersion !== undefined) query.resourceVersion = this.lastResourceVersion;
    this.abort = await new Watch(kubeConfig()).watch(
      this.path,
      query,
      (type, object: T) => {
        this.retries = 0;
        if (object?.metadata?.resourceVersion !== undefined) this.lastResourceVersion = object.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        if (type === 'ERROR') {
          // 410 Gone: the version to resume from is older than the server keeps (an API server that
          // restarted rebuilds its watch cache from now). List, record the difference, and go on.
          if ((object as unknown as { code?: number }).code === 410) this.gone = true;
          else this.failure = `watch ${this.path} error: ${JSON.stringify(object)}`;
          return;
        }
        if (!this.keep(object)) return;
        const entry: WatchEntry<T> = { at: Date.now(), type: type as WatchEntry<T>['type'], object };
        this.history.push(entry);
        if (type === 'DELETED') this.state.delete(object.metadata.name);
        else this.state.set(object.metadata.name, object);
      },
      (err: unknown) => {
        if (this.stopped || this.failure !== undefined) return;
        // Closed by the server (timeout), refused while its watch cache initializes (429 for a new
        // CRD), or the server is away (a fault scenario, up to 2 min): resume from the last
        // resourceVersion seen, so no change is missed.
        this.retries++;
        if (this.retries > 240) {
          this.failure = `watch ${this.path} could not be resumed: ${String(err)}`;
          return;
        }
        setTimeout(() => this.resume(), 500);
      },
    );
  }

  private resume(): void {
    if (this.stopped || this.failure !== undefined) return;
    const next = this.gone ? this.relist() : Promise.resolve();
    next
      .then(() => this.connect())
      .catch((error: unknown) => {
        if (++this.retries > 240) this.failure = `watch ${this.path} could not resume: ${String(error)}`;
        else setTimeout(() => this.resume(), 500);
      });
  }

  /**
   * Lists the objects and records, as changes received now, what differs from the state the watch
   * had (marked `relisted`): what happened between the last change delivered and the list is
   * known only by its result.
   */
  private async relist(): Promise<void> {
    const query = new URLSearchParams(this.query).toString();
    const list = JSON.parse(await kubectlOk(['get', '--raw', query ? `${this.path}?${query}` : this.path])) as { metadata: { resourceVersion: string }; items: T[] };
    const at = Date.now();
    const listed = new Map(list.items.filter((object) => this.keep(object)).map((object) => [object.metadata.name, object]));
    for (const [name, object] of this.state) {
      if (!listed.has(name)) this.history.push({ at, type: 'DELETED', object, relisted: true });
    }
    for (const [name, object] of listed) {
      const before = this.state.get(name);
      if (before?.metadata.resourceVersion !== object.metadata.resourceVersion) this.history.push({ at, type: before === undefined ? 'ADDED' : 'MODIFIED', object, relisted: true });
    }
    this.state.clear();
    for (const [name, object] of listed) this.state.set(name, object);
    this.lastResourceVersion = list.metadata.resourceVersion;
    this.relists += 1;
    this.gone = false;
  }

  /** Waits until `fn(state)` returns a value (not undefined/false/null). */
  until<R>(what: string, fn: (state: ReadonlyMap<string, T>) => R | undefined | false | null, timeoutMs = 60_000): Promise<R> {
    return waitFor(
      what,
      () => {
        if (this.failure !== undefined) throw new Error(this.failure);
        return fn(this.state);
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Replays the history: `check` sees the state after every change. */
  replay(check: (state: ReadonlyMap<string, T>, entry: WatchEntry<T>) => void): void {
    const state = new Map<string, T>();
    for (const entry of this.history) {
      if (entry.type === 'DELETED') state.delete(entry.object.metadata.name);
      else state.set(entry.object.metadata.name, entry.object);
      check(state, entry);
    }
  }

  /** Fails the test when the recording has a hole. */
  expectComplete(): void {
    expect(this.failure).toBeUndefined();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

export const maintenanceOf = (object: RawNodeMetadata | undefined): MaintenanceStatus | undefined => object?.status?.maintenance;
export const phaseOf = (object: RawNodeMetadata | undefined): string => maintenanceOf(object)?.phase ?? 'None';
export const isReady = (pod: RawPod): boolean => pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
export const isTerminating = (pod: RawPod): boolean => pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;

export interface EmulatorEvent {
  EventId?: string;
  Id?: string;
  EventStatus?: string;
  approved?: boolean;
  approvals?: { vm: string; time: string }[];
}

export interface DeploymentOptions {
  replicas: number;
  /** The nodes its pods may run on, besides the spare. */
  nodes: string[];
  /** Whether replacements may go to the spare node (default true). */
  spare?: boolean;
  terminationGracePeriodSeconds?: number;
  /** spec.priorityClassName of its pods (the API server fills spec.priority from it). */
  priorityClassName?: string;
  /** Finalizers on every pod: an evicted pod then stays Terminating until the test removes them. */
  finalizers?: string[];
}

export interface NodeEvent {
  reason: string;
  message: string;
  type: string;
  count: number;
}

/** One scenario's world: namespace, nodes, emulator, agents, controllers; torn down by tearDown(). */
export class Scenario {
  /** The value of MANAGED_LABEL on this scenario's managed nodes. */
  readonly id: string;
  /** Lower-case, short: goes into node names. */
  readonly short: string;
  readonly spare: string;
  namespace = '';
  emulator: RunningEmulator | undefined;
  readonly agents: AgentProcess[] = [];
  readonly controllers: ControllerProcess[] = [];
  private readonly configFiles: string[] = [];
  private readonly nodes: string[] = [];
  private readonly recorders: Recorder<RawObject>[] = [];
  private holdsPods = false;

  constructor(readonly name: string) {
    this.short = `${name}${runId()}`;
    this.id = this.short;
    this.spare = `spare-${this.short}`;
  }

  /** An AKS-style node name (`<scale set>vmss<6 chars>`): the emulator gives its VM compute.name `<scale set>vmss_<n>`. */
  azureNode(index: number): string {
    return `aks-${this.short}-12345678-vmss${index.toString(36).padStart(6, '0')}`;
  }

  async setUp(): Promise<void> {
    this.namespace = await createTestNamespace(`maint-${this.name}`);
  }

  /** An emulator serving one VM per managed node (default metadata derived from each name). */
  async startEmulator(provider: 'azure' | 'alibaba', vms: string[]): Promise<RunningEmulator> {
    this.emulator = await startEmulator({ provider, scenario: stringify({ provider, vms: vms.map((name) => ({ name })) }) });
    return this.emulator;
  }

  /** A kwok node the scenario's controller manages, and its agent (with `agentArgs` more flags) against its emulated VM. */
  async managedNode(name: string, provider: 'azure' | 'alibaba' = 'azure', agentArgs: string[] = [], kind: 'kwok' | 'bare' = 'kwok'): Promise<void> {
    this.nodes.push(name);
    // A bare node: no kwok; the test plays its kubelet (createBareNode, nodeHeartbeat).
    if (kind === 'bare') await createBareNode(name, { [MANAGED_LABEL]: this.id });
    else await createNode(name, { [MANAGED_LABEL]: this.id });
    if (this.emulator === undefined) throw new Error('start the emulator before the managed nodes');
    const extraArgs = [...(provider === 'alibaba' ? ['--events-interval', '1s', '--instance-interval', '30s'] : ['--instance-interval', '30s']), ...agentArgs];
    this.agents.push(await startAgent({ node: name, provider, endpoint: this.emulator.endpoint(name), kubeconfig: kubeconfigPath(), extraArgs }));
  }

  /**
   * The scenario's VMs: a watch on their NodeMetadata (started first, so it sees every change), one
   * emulator serving them, and for each a managed kwok node with its agent (`agentArgs`: more flags, e.g. `--dry-run`).
   */
  async managedVms(provider: 'azure' | 'alibaba', nodes: string[], agentArgs: string[] = []): Promise<Recorder<RawNodeMetadata>> {
    const nodeMetadata = await this.watchNodeMetadata(nodes);
    await this.startEmulator(provider, nodes);
    for (const node of nodes) await this.managedNode(node, provider, agentArgs);
    return nodeMetadata;
  }

  /**
   * The spare node (not managed): where evicted pods' replacements go. `closed`: created cordoned,
   * for a scenario whose replacements wait before there is room: openSpareNode() makes the room.
   */
  async spareNode(options: { closed?: boolean } = {}): Promise<void> {
    this.nodes.push(this.spare);
    await createNode(this.spare, { 'nodemeta-e2e-spare': this.id }, { cordoned: options.closed === true });
  }

  /** Opens the spare node created closed, once kwok is sure to run the pods that wait for it (openNode). */
  async openSpareNode(): Promise<void> {
    await openNode(this.spare);
  }

  /** A controller process for this scenario's nodes only, with its own Lease namespace (`env`: variables of its own). */
  async startController(configYaml: string, identity = 'a', extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ControllerProcess> {
    const configFile = writeConfig(configYaml);
    this.configFiles.push(configFile);
    const controller = await startController(`${this.short}-${identity}`, [
      '--config',
      configFile,
      '--node-selector',
      `${MANAGED_LABEL}=${this.id}`,
      '--lease-namespace',
      this.namespace,
      ...extraArgs,
    ], env);
    this.controllers.push(controller);
    return controller;
  }

  /** Rewrites every controller's configuration file; they reload it (config-watcher.ts). */
  reconfigure(configYaml: string): void {
    for (const file of this.configFiles) writeFileSync(file, configYaml);
  }

  /** Waits until a controller leads and every managed node's agent has published its VM. */
  async ready(nodeMetadata: Recorder<RawNodeMetadata>, nodes: string[]): Promise<void> {
    await waitFor(`a leader among the ${this.name} controllers`, async () => {
      for (const controller of this.controllers) if (await controller.isLeader().catch(() => false)) return true;
      return false;
    });
    await nodeMetadata.until(`every agent of ${this.name} to publish its instance`, (state) =>
      nodes.every((node) => state.get(node)?.status?.instance !== undefined && state.get(node)?.status?.conditions?.some((c) => c.type === 'MetadataAvailable' && c.status === 'True')),
    );
  }

  /** The emulator's control API (docs/emulator.md), over HTTP like any user of it. */
  async control<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    if (this.emulator === undefined) throw new Error('no emulator');
    const res = await fetch(`${this.emulator.url}/_emulator${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Posts an event; returns its id. */
  async postEvent(body: Record<string, unknown>): Promise<string> {
    const event = await this.control<EmulatorEvent>('POST', '/events', body);
    const id = event.EventId ?? event.Id;
    if (id === undefined) throw new Error(`the emulator returned no event id: ${JSON.stringify(event)}`);
    return id;
  }

  async deployment(name: string, options: DeploymentOptions): Promise<void> {
    if (options.finalizers !== undefined) this.holdsPods = true;
    const hosts = [...options.nodes, ...(options.spare === false ? [] : [this.spare])];
    await kubeConfig()
      .makeApiClient(AppsV1Api)
      .createNamespacedDeployment({
        namespace: this.namespace,
        body: {
          metadata: { name },
          spec: {
            replicas: options.replicas,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name }, ...(options.finalizers === undefined ? {} : { finalizers: options.finalizers }) },
              spec: {
                affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: hosts }] }] } } },
                tolerations: [KWOK_TOLERATION],
                terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 5,
                ...(options.priorityClassName === undefined ? {} : { priorityClassName: options.priorityClassName }),
                containers: [{ name: 'app', image: 'registry.example/app:1' }],
              },
            },
          },
        },
      });
  }

  /** A DaemonSet on `nodes`: its pods are never evicted by a drain. */
  async daemonSet(name: string, nodes: string[]): Promise<void> {
    await kubeConfig()
      .makeApiClient(AppsV1Api)
      .createNamespacedDaemonSet({
        namespace: this.namespace,
        body: {
          metadata: { name },
          spec: {
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: {
                affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: nodes }] }] } } },
                tolerations: [KWOK_TOLERATION],
                containers: [{ name: 'agent', image: 'registry.example/agent:1' }],
              },
            },
          },
        },
      });
  }

  async pdb(name: string, spec: Omit<V1PodDisruptionBudgetSpec, 'selector'>, app = name): Promise<void> {
    const policy = kubeConfig().makeApiClient(PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({ namespace: this.namespace, body: { metadata: { name }, spec: { ...spec, selector: { matchLabels: { app } } } } });
    // The disruption controller must have computed the budget, or the Eviction API refuses everything.
    await waitFor(`PDB ${name} status`, async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name, namespace: this.namespace });
      return pdb.status?.observedGeneration === pdb.metadata?.generation && (pdb.status?.expectedPods ?? 0) > 0;
    });
  }

  /** Waits until `app` has exactly `count` Running/Ready pods, all on `nodes`; returns them. */
  async runningPods(app: string, count: number, nodes: string[]): Promise<{ name: string; uid: string; node: string }[]> {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    return waitFor(`${count} Running pods of ${app} on ${nodes.join(', ')}`, async () => {
      const pods = (await core.listNamespacedPod({ namespace: this.namespace, labelSelector: `app=${app}` })).items;
      const ready = pods.filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && nodes.includes(p.spec?.nodeName ?? ''));
      return pods.length === count && ready.length === count ? ready.map((p) => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, node: p.spec!.nodeName! })) : undefined;
    });
  }

  /** Records every NodeMetadata change of `nodes`. */
  async watchNodeMetadata(nodes: string[]): Promise<Recorder<RawNodeMetadata>> {
    return this.record(await Recorder.start<RawNodeMetadata>('/apis/nodemeta.io/v1alpha1/nodemetadatas', {}, (object) => nodes.includes(object.metadata.name)));
  }

  /** Records every change of the scenario namespace's pods. */
  async watchPods(): Promise<Recorder<RawPod>> {
    return this.record(await Recorder.start<RawPod>(`/api/v1/namespaces/${this.namespace}/pods`));
  }

  async watchNode(name: string): Promise<Recorder<RawNode>> {
    return this.record(await Recorder.start<RawNode>('/api/v1/nodes', { fieldSelector: `metadata.name=${name}` }));
  }

  private record<T extends RawObject>(recorder: Recorder<T>): Recorder<T> {
    this.recorders.push(recorder as unknown as Recorder<RawObject>);
    return recorder;
  }

  /** The Kubernetes Events on a Node (the controller records them in namespace default). */
  async nodeEvents(node: string): Promise<NodeEvent[]> {
    const list = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.kind=Node,involvedObject.name=${node}` });
    return list.items.map((e) => ({ reason: e.reason ?? '', message: e.message ?? '', type: e.type ?? '', count: e.count ?? 1 }));
  }

  /** Waits until the Node has Events with every one of `reasons`; returns all its Events. */
  async expectEvents(node: string, reasons: string[], timeoutMs = 30_000): Promise<NodeEvent[]> {
    return waitFor(
      `Events ${reasons.join(', ')} on ${node}`,
      async () => {
        const events = await this.nodeEvents(node);
        const seen = new Set(events.map((e) => e.reason));
        return reasons.every((reason) => seen.has(reason)) ? events : undefined;
      },
      { timeoutMs },
    ).catch(async (error: unknown) => {
      const seen = (await this.nodeEvents(node)).map((e) => e.reason);
      throw new Error(`${(error as Error).message}; Events seen: ${seen.join(', ')}\n${this.logTail()}`);
    });
  }

  /** Every process's log and the watches' history, kept with the cluster's logs (kept after the run). */
  private keepLogs(): void {
    try {
      const dir = path.join(clusterDir(), 'logs', 'maintenance', this.short);
      mkdirSync(dir, { recursive: true });
      for (const c of this.controllers) writeFileSync(path.join(dir, `controller-${c.identity}.log`), `${c.logs.join('\n')}\n`);
      for (const a of this.agents) writeFileSync(path.join(dir, `agent-${a.node}.log`), `${a.logs.join('\n')}\n`);
      const history = this.recorders.flatMap((r) => r.history.map((e) => JSON.stringify({ at: new Date(e.at).toISOString(), type: e.type, object: e.object })));
      writeFileSync(path.join(dir, 'watches.jsonl'), `${history.join('\n')}\n`);
    } catch {
      // best effort: logs are for people
    }
  }

  /** The last log lines of this scenario's controllers, for failure messages. */
  logTail(lines = 30): string {
    return this.controllers.map((c) => `--- controller ${c.identity}\n${c.logs.slice(-lines).join('\n')}`).join('\n');
  }

  /** Accepted evictions per pod ("ns/name"), from every controller's JSON logs ('pod evicted'). */
  evictionsLogged(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const controller of this.controllers) {
      for (const line of controller.logs) {
        if (!line.includes('"pod evicted"')) continue;
        const entry = JSON.parse(line) as { message?: string; pod?: string };
        if (entry.message !== 'pod evicted' || entry.pod === undefined) continue;
        counts.set(entry.pod, (counts.get(entry.pod) ?? 0) + 1);
      }
    }
    return counts;
  }

  /**
   * Per the API server's audit log: the scenario's controllers wrote each of `nodes` (each drained
   * once) at most NODE_WRITES_PER_DRAIN times since `since`; prints how many.
   */
  expectNodeWritesBounded(nodes: readonly string[], since: number): void {
    const audit = auditLog();
    const users = this.controllers.map((c) => c.user);
    for (const node of nodes) {
      const writes = audit.writesBy(users, since, { resource: 'nodes', subresource: null, name: node });
      console.log(`[audit] ${this.name}: ${writes.length} write(s) to the drained Node ${node} by the controllers`);
      expect({ node, writes: writes.length <= NODE_WRITES_PER_DRAIN ? 'bounded' : describeAudit(writes) }).toEqual({ node, writes: 'bounded' });
    }
  }

  /** Removes the finalizers of the namespace's Terminating pods (what a kubelet's confirmation would let go); returns how many. */
  releaseTerminatingPods(): Promise<number> {
    return this.releasePods((pod) => Boolean(pod.metadata?.deletionTimestamp));
  }

  private async releasePods(which: (pod: V1Pod) => boolean): Promise<number> {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace: this.namespace })).items.filter((p) => (p.metadata?.finalizers ?? []).length > 0 && which(p));
    for (const pod of pods) {
      await core
        .patchNamespacedPod({ name: pod.metadata!.name!, namespace: this.namespace, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
        .catch(() => undefined);
    }
    return pods.length;
  }

  async tearDown(): Promise<void> {
    for (const recorder of this.recorders) recorder.stop();
    await Promise.all(this.controllers.map((c) => c.stop('SIGKILL')));
    await Promise.all(this.agents.map((a) => a.stop()));
    this.keepLogs();
    await this.emulator?.close();
    // The namespace first, while the nodes still exist: kwok then confirms its pods' deletion at once
    // (pods bound to a deleted node wait for the pod garbage collector). Finalizers a scenario put
    // on its pods are let go as the deletion reaches them.
    if (this.namespace) {
      await deleteTestNamespace(this.namespace).catch(() => undefined);
      const core = kubeConfig().makeApiClient(CoreV1Api);
      await waitFor(
        `namespace ${this.namespace} to go`,
        async () => {
          if (this.holdsPods) await this.releasePods(() => true);
          return core.readNamespace({ name: this.namespace }).then(
            () => false,
            (error: unknown) => apiStatus(error) === 404,
          );
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      ).catch(() => undefined);
    }
    await Promise.all(this.nodes.map((name) => deleteNode(name).catch(() => undefined)));
  }
}

/** Runs `body` with a fresh scenario, torn down afterwards whatever happens; adds the controllers' logs to a failure. */
export async function withScenario(name: string, body: (scenario: Scenario) => Promise<void>): Promise<void> {
  const scenario = new Scenario(name);
  try {
    await scenario.setUp();
    await body(scenario);
  } catch (error) {
    if (error instanceof Error) error.message += `\n${scenario.logTail()}`;
    throw error;
  } finally {
    await scenario.tearDown();
  }
}

/**
 * A controller configuration with short timings; `extra` is YAML merged at top level (its keys
 * replace these). drain.loadBalancerDrainDelay is 0 unless `extra.drain` sets it: these clusters
 * have no load balancer, and the wait before the first eviction is load-balancer-drain.test.ts's subject.
 */
export function controllerConfig(extra: Record<string, unknown> = {}): string {
  const base: Record<string, unknown> = {
    drain: { maxConcurrentDrains: '100%', maxGracePeriod: '5s', evictionTimeout: '5m' },
    approve: 'AfterDrain',
  };
  const merged = { ...base, ...extra };
  return stringify({ ...merged, drain: { loadBalancerDrainDelay: '0s', ...(merged.drain as Record<string, unknown>) } });
}

/** A duration from now as ISO 8601 at whole seconds (what the metadata services serve). */
export function isoIn(ms: number): string {
  return new Date(Math.floor((Date.now() + ms) / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}
