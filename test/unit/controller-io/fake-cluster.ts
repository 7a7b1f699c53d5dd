// A small in-memory cluster for the reconciler's unit tests: it is both the informer cache and the
// writer, and plays the API server's rules that matter here (SSA label ownership with conflicts,
// the JSON-patch `test` guards on taints and cordon, status apply of the controller's fields, the
// Eviction API's answers). Every write is recorded, so tests can assert "zero writes".
import type { ControllerStatus, NodeMetadata, NodeMetadataStatus } from '../../../src/api/nodemetadata.js';
import { Annotations, EXCLUDE_FROM_LOAD_BALANCERS_LABEL, FIELD_MANAGER_CONTROLLER } from '../../../src/api/names.js';
import { WriteConflictError, type ClusterCache, type DeletionResult, type EvictionResult, type NodeState, type NodeWriter } from '../../../src/controller/cache/cluster-state.js';
import type { CordonOptions } from '../../../src/controller/decide/cordon.js';
import { OUT_OF_SERVICE_TAINT, outOfServicePatch } from '../../../src/controller/decide/out-of-service.js';
import type { DrainPod, PodToEvict } from '../../../src/controller/maintenance/drain-plan.js';
import { FleetIndex } from '../../../src/controller/cache/fleet-index.js';
import type { Protection } from '../../../src/controller/decide/protection.js';
import type { Taint } from '../../../src/controller/decide/taints.js';
import type { EventRecorder, EventType, ObjectReference } from '../../../src/observability/events.js';

export interface RecordedWrite {
  kind: 'labels' | 'taints' | 'status' | 'cordon' | 'uncordon' | 'eviction' | 'deletion' | 'protect' | 'outOfService';
  name: string;
  body: unknown;
}

interface FakeNode {
  uid: string;
  labels: Record<string, string>;
  /** key → manager for labels other writers set. */
  foreignOwners: Map<string, string>;
  /** Keys nodemeta-controller owns through its Apply entry. */
  owned: Set<string>;
  taints: Taint[] | undefined;
  unschedulable: boolean;
  annotations: Record<string, string>;
  ready: boolean;
  providerID?: string;
  resourceVersion: number;
}

/** How the fake Eviction API answers for a pod: evict it (default), refuse it, or say it is gone. */
export type EvictionAnswer = (pod: PodToEvict) => EvictionResult | Error;
/** How the fake answers a DELETE of a pod: delete it (default), 403, or gone. */
export type DeletionAnswer = (pod: PodToEvict) => DeletionResult | Error;

export class FakeCluster implements ClusterCache, NodeWriter {
  readonly writes: RecordedWrite[] = [];
  readonly reads: string[] = [];
  isWarm = true;
  private readonly nodes = new Map<string, FakeNode>();
  private readonly nodeMetadatas = new Map<string, NodeMetadata>();
  private readonly pods = new Map<string, DrainPod[]>();
  /** Pods evicted (accepted), in order, as namespace/name. */
  readonly evicted: string[] = [];
  evictionAnswer: EvictionAnswer = () => ({ kind: 'evicted' });
  /** Pods deleted (atDeadline: Delete), in order, as namespace/name. */
  readonly deleted: string[] = [];
  deletionAnswer: DeletionAnswer = () => ({ kind: 'deleted' });
  /** While set, the cache answers from this snapshot: a watch that has not delivered our writes yet. */
  private frozen: { nodes: Map<string, NodeState>; nodeMetadatas: Map<string, NodeMetadata> } | undefined;
  private nodeMetadataVersion = 100;
  /** Runs once just before the next write of that kind reaches the "server" (to stage races). */
  private beforeNextWrite: Partial<Record<RecordedWrite['kind'], () => void>> = {};

  addNode(name: string, init: { labels?: Record<string, string>; labelManager?: string; taints?: Taint[]; unschedulable?: boolean; ready?: boolean; providerID?: string } = {}): void {
    const labels = { ...init.labels };
    const foreignOwners = new Map(Object.keys(labels).map((key) => [key, init.labelManager ?? 'kubelet']));
    this.nodes.set(name, {
      uid: `uid-${name}`,
      labels,
      foreignOwners,
      owned: new Set(),
      taints: init.taints,
      unschedulable: init.unschedulable ?? false,
      annotations: {},
      ready: init.ready ?? true,
      ...(init.providerID === undefined ? {} : { providerID: init.providerID }),
      resourceVersion: 1,
    });
  }

  /** Pods bound to the node (a ReplicaSet's, unless ownerKinds says otherwise). */
  addPods(nodeName: string, names: readonly string[], init: Partial<DrainPod> = {}): void {
    const pods = this.pods.get(nodeName) ?? [];
    for (const name of names) pods.push({ namespace: 'default', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'], phase: 'Running', ...init });
    this.pods.set(nodeName, pods);
  }

  /** The kubelet finished the terminating pods: they are gone. */
  finishTerminating(nodeName: string): void {
    this.pods.set(nodeName, (this.pods.get(nodeName) ?? []).filter((pod) => pod.deletionTimestamp === undefined));
  }

  /** Someone (an admin, a controller scaling down) deletes pods outright. */
  deletePods(nodeName: string): void {
    this.pods.set(nodeName, []);
  }

  /** The Node is deleted (a spot VM reclaimed): its pods and NodeMetadata go with it. */
  removeNode(name: string): void {
    this.nodes.delete(name);
    this.pods.delete(name);
    this.nodeMetadatas.delete(name);
  }

  /** A person deletes the NodeMetadata (`kubectl delete nmd`); the Node stays. */
  deleteNodeMetadata(name: string): void {
    this.nodeMetadatas.delete(name);
  }

  setReady(name: string, ready: boolean): void {
    const node = this.mustNode(name);
    node.ready = ready;
    node.resourceVersion++;
  }

  /** Someone else cordons (or uncordons) the node, without nodemeta's annotation. */
  setUnschedulable(name: string, unschedulable: boolean): void {
    const node = this.mustNode(name);
    node.unschedulable = unschedulable;
    node.resourceVersion++;
  }

  setNodeMetadata(name: string, status: NodeMetadataStatus | undefined, spec?: NodeMetadata['spec']): void {
    const existing = this.nodeMetadatas.get(name);
    const controllerPart = existing?.status === undefined ? {} : controllerFields(existing.status);
    const agentConditions = status?.conditions ?? [];
    const merged: NodeMetadataStatus | undefined = status === undefined && existing?.status === undefined ? undefined : { ...status, ...controllerPart };
    if (merged !== undefined) merged.conditions = [...agentConditions.filter((c) => !['Labeled', 'Drained'].includes(c.type)), ...(controllerPart.conditions ?? [])];
    const nodeMetadata: NodeMetadata = { apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name, generation: existing?.metadata.generation ?? 1 } };
    if (spec !== undefined) {
      nodeMetadata.spec = spec;
      nodeMetadata.metadata.generation = (existing?.metadata.generation ?? 0) + 1;
    } else if (existing?.spec !== undefined) nodeMetadata.spec = existing.spec;
    if (merged !== undefined) nodeMetadata.status = merged;
    nodeMetadata.metadata.resourceVersion = String(++this.nodeMetadataVersion);
    this.nodeMetadatas.set(name, nodeMetadata);
  }

  /** Another writer (e.g. a person with kubectl) sets a label. */
  setForeignLabel(name: string, key: string, value: string, manager = 'kubectl'): void {
    const node = this.mustNode(name);
    node.labels[key] = value;
    node.foreignOwners.set(key, manager);
    node.resourceVersion++;
  }

  /** Another writer replaces the taint list. */
  setTaints(name: string, taints: Taint[] | undefined): void {
    const node = this.mustNode(name);
    node.taints = taints;
    node.resourceVersion++;
  }

  onNextWrite(kind: RecordedWrite['kind'], action: () => void): void {
    this.beforeNextWrite[kind] = action;
  }

  labels(name: string): Record<string, string> {
    return { ...this.mustNode(name).labels };
  }

  taints(name: string): Taint[] | undefined {
    return this.mustNode(name).taints;
  }

  status(name: string): NodeMetadataStatus | undefined {
    return this.nodeMetadatas.get(name)?.status;
  }

  /** The cache stops seeing changes (its watch lags) until thawCache(). */
  freezeCache(): void {
    const nodes = new Map([...this.nodes.keys()].map((name) => [name, this.node(name)!]));
    const nodeMetadatas = new Map([...this.nodeMetadatas].map(([name, value]) => [name, structuredClone(value)]));
    this.frozen = { nodes, nodeMetadatas };
  }

  thawCache(): void {
    this.frozen = undefined;
  }

  clearWrites(): void {
    this.writes.length = 0;
    this.reads.length = 0;
  }

  // ---- ClusterCache ----

  node(name: string): NodeState | undefined {
    if (this.frozen !== undefined) return this.frozen.nodes.get(name);
    const node = this.nodes.get(name);
    return node === undefined ? undefined : this.stateOf(name, node);
  }

  nodeMetadata(name: string): NodeMetadata | undefined {
    const value = this.frozen !== undefined ? this.frozen.nodeMetadatas.get(name) : this.nodeMetadatas.get(name);
    return value === undefined ? undefined : structuredClone(value);
  }

  /** The fleet's facts, built afresh from the fake's objects, as the informers would keep them. */
  fleet(): FleetIndex {
    const index = new FleetIndex();
    for (const [name, node] of this.nodes) index.updateNode(name, { providerID: node.providerID });
    for (const [name, nodeMetadata] of this.nodeMetadatas) index.updateNodeMetadata(name, nodeMetadata);
    return index;
  }

  /** Nodes whose pods are not known yet (their watch has not listed): podsOn answers undefined. */
  readonly podsUnknown = new Set<string>();
  /** Nodes whose pods the reconciler asked for and has not released since (the watches it holds). */
  readonly podWatches = new Set<string>();

  podsOn(nodeName: string): DrainPod[] | undefined {
    this.podWatches.add(nodeName);
    if (this.podsUnknown.has(nodeName)) return undefined;
    return (this.pods.get(nodeName) ?? []).map((pod) => ({ ...pod }));
  }

  releasePods(nodeName: string): void {
    this.podWatches.delete(nodeName);
  }

  warm(): boolean {
    return this.isWarm;
  }

  // ---- NodeWriter ----

  async applyLabels(nodeName: string, labels: Record<string, string>): Promise<NodeState> {
    this.runStaged('labels');
    this.writes.push({ kind: 'labels', name: nodeName, body: { ...labels } });
    const node = this.mustNode(nodeName);
    for (const [key, value] of Object.entries(labels)) {
      const other = node.foreignOwners.get(key);
      if (other !== undefined && node.labels[key] !== value) throw new WriteConflictError(`Apply failed with 1 conflict: conflict with "${other}": .metadata.labels.${key}`);
    }
    for (const key of node.owned) {
      if (!(key in labels) && !node.foreignOwners.has(key)) delete node.labels[key];
    }
    Object.assign(node.labels, labels);
    node.owned = new Set(Object.keys(labels));
    node.resourceVersion++;
    return this.stateOf(nodeName, node);
  }

  async patchTaints(nodeName: string, current: readonly Taint[] | undefined, next: readonly Taint[]): Promise<NodeState> {
    this.runStaged('taints');
    this.writes.push({ kind: 'taints', name: nodeName, body: { current, next } });
    const node = this.mustNode(nodeName);
    const stored = node.taints === undefined || node.taints.length === 0 ? null : node.taints;
    const tested = current === undefined || current.length === 0 ? null : current;
    if (JSON.stringify(stored) !== JSON.stringify(tested)) throw new WriteConflictError('testing value /spec/taints failed');
    node.taints = next.length === 0 ? undefined : next.map((taint) => ({ ...taint }));
    node.resourceVersion++;
    return this.stateOf(nodeName, node);
  }

  async applyControllerStatus(name: string, status: ControllerStatus): Promise<NodeMetadata> {
    this.runStaged('status');
    this.writes.push({ kind: 'status', name, body: structuredClone(status) });
    const nodeMetadata = this.nodeMetadatas.get(name);
    if (nodeMetadata === undefined) throw new Error(`NodeMetadata ${name} not found`);
    const previous = nodeMetadata.status ?? {};
    const agentConditions = (previous.conditions ?? []).filter((c) => !['Labeled', 'Drained', 'DrainReady'].includes(c.type));
    const next: NodeMetadataStatus = { ...previous, conditions: [...agentConditions, ...(status.conditions ?? [])] };
    if (status.maintenance === undefined) delete next.maintenance;
    else next.maintenance = status.maintenance;
    if (status.observedGeneration !== undefined) next.observedGeneration = status.observedGeneration;
    // Server-side apply: a field the manager applied before and leaves out now is removed.
    if (status.notifications === undefined) delete next.notifications;
    else next.notifications = status.notifications;
    if (status.drainReadiness === undefined) delete next.drainReadiness;
    else next.drainReadiness = status.drainReadiness;
    nodeMetadata.status = next;
    nodeMetadata.metadata.resourceVersion = String(++this.nodeMetadataVersion);
    return structuredClone(nodeMetadata);
  }

  async readNode(nodeName: string): Promise<NodeState | undefined> {
    this.reads.push(nodeName);
    const node = this.nodes.get(nodeName);
    return node === undefined ? undefined : this.stateOf(nodeName, node);
  }

  /** The fast path's one write: the taints and the cordon, each guarded, all or nothing. */
  async protect(state: NodeState, protection: Protection): Promise<NodeState> {
    this.runStaged('protect');
    const name = state.metadata.name;
    this.writes.push({ kind: 'protect', name, body: structuredClone(protection) });
    const node = this.mustNode(name);
    const stored = node.taints === undefined || node.taints.length === 0 ? null : node.taints;
    const tested = state.spec?.taints === undefined || state.spec.taints.length === 0 ? null : state.spec.taints;
    if (protection.taints !== undefined && JSON.stringify(stored) !== JSON.stringify(tested)) throw new WriteConflictError('testing value /spec/taints failed');
    if (protection.cordonFor !== undefined) {
      const sameCordon = node.unschedulable === (state.spec?.unschedulable === true);
      const sameAnnotation = node.annotations[Annotations.cordoned] === state.metadata.annotations?.[Annotations.cordoned];
      if (!sameCordon || !sameAnnotation) throw new WriteConflictError('testing value /spec/unschedulable failed');
      node.unschedulable = true;
      node.annotations[Annotations.cordoned] = protection.cordonFor;
      if (protection.excludeFromLoadBalancers === true) excludeFromLoadBalancers(node);
    }
    if (protection.taints !== undefined) node.taints = protection.taints.map((taint) => ({ ...taint }));
    node.resourceVersion++;
    return this.stateOf(name, node);
  }

  async cordon(state: NodeState, eventId: string, options: CordonOptions = { excludeFromLoadBalancers: false }): Promise<NodeState> {
    this.runStaged('cordon');
    const name = state.metadata.name;
    this.writes.push({ kind: 'cordon', name, body: { eventId } });
    const node = this.mustNode(name);
    // The patch's `test` ops: what the caller read must still be so.
    const sameCordon = node.unschedulable === (state.spec?.unschedulable === true);
    const sameAnnotation = node.annotations[Annotations.cordoned] === state.metadata.annotations?.[Annotations.cordoned];
    if (!sameCordon || !sameAnnotation) throw new WriteConflictError('testing value /spec/unschedulable failed');
    node.unschedulable = true;
    node.annotations[Annotations.cordoned] = eventId;
    if (options.excludeFromLoadBalancers) excludeFromLoadBalancers(node);
    node.resourceVersion++;
    return this.stateOf(name, node);
  }

  /** outOfServicePatch's semantics: the taint list and nodemeta's annotation tested as `state` shows them. */
  async setOutOfService(state: NodeState, wantedFor: string | undefined): Promise<NodeState> {
    if (outOfServicePatch(state, wantedFor) === undefined) return state;
    const name = state.metadata.name;
    this.writes.push({ kind: 'outOfService', name, body: { wantedFor: wantedFor ?? null } });
    const node = this.mustNode(name);
    const stored = node.taints === undefined || node.taints.length === 0 ? null : node.taints;
    const tested = state.spec?.taints === undefined || state.spec.taints.length === 0 ? null : state.spec.taints;
    if (JSON.stringify(stored) !== JSON.stringify(tested)) throw new WriteConflictError('testing value /spec/taints failed');
    if (node.annotations[Annotations.outOfService] !== state.metadata.annotations?.[Annotations.outOfService]) throw new WriteConflictError('testing value /metadata/annotations/nodemeta.io~1out-of-service failed');
    const others = (node.taints ?? []).filter((taint) => taint.key !== OUT_OF_SERVICE_TAINT.key);
    if (wantedFor !== undefined) {
      node.taints = [...(node.taints ?? []), { ...OUT_OF_SERVICE_TAINT }];
      node.annotations[Annotations.outOfService] = wantedFor;
    } else {
      node.taints = others.length === 0 ? undefined : others;
      delete node.annotations[Annotations.outOfService];
    }
    node.resourceVersion++;
    return this.stateOf(name, node);
  }

  /** releasePatch's semantics: the `test`s of what `state` showed, then nodemeta's cordon and exclusion go. */
  async release(state: NodeState): Promise<NodeState> {
    const name = state.metadata.name;
    const cordonedFor = state.metadata.annotations?.[Annotations.cordoned];
    const excluded = state.metadata.annotations?.[Annotations.excludedFromLoadBalancers];
    if (cordonedFor === undefined && excluded === undefined) return state;
    this.runStaged('uncordon');
    this.writes.push({ kind: 'uncordon', name, body: { cordonedFor } });
    const node = this.mustNode(name);
    if (cordonedFor !== undefined && node.annotations[Annotations.cordoned] !== cordonedFor) throw new WriteConflictError('testing value /metadata/annotations/nodemeta.io~1cordoned failed');
    if (excluded !== undefined && node.annotations[Annotations.excludedFromLoadBalancers] !== excluded) throw new WriteConflictError('testing value /metadata/annotations/nodemeta.io~1excluded-from-load-balancers failed');
    if (cordonedFor !== undefined) {
      delete node.annotations[Annotations.cordoned];
      node.unschedulable = false;
    }
    if (excluded !== undefined) {
      delete node.annotations[Annotations.excludedFromLoadBalancers];
      if (node.labels[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === 'true') delete node.labels[EXCLUDE_FROM_LOAD_BALANCERS_LABEL];
    }
    node.resourceVersion++;
    return this.stateOf(name, node);
  }

  async deletePod(pod: PodToEvict): Promise<DeletionResult> {
    this.writes.push({ kind: 'deletion', name: `${pod.namespace}/${pod.name}`, body: { gracePeriodSeconds: pod.gracePeriodSeconds } });
    const answer = this.deletionAnswer(pod);
    if (answer instanceof Error) throw answer;
    if (answer.kind === 'deleted') this.deleted.push(`${pod.namespace}/${pod.name}`);
    return answer;
  }

  async evictPod(pod: PodToEvict): Promise<EvictionResult> {
    this.writes.push({ kind: 'eviction', name: `${pod.namespace}/${pod.name}`, body: { gracePeriodSeconds: pod.gracePeriodSeconds } });
    const answer = this.evictionAnswer(pod);
    if (answer instanceof Error) throw answer;
    if (answer.kind === 'evicted') {
      for (const pods of this.pods.values()) {
        const found = pods.find((candidate) => candidate.uid === pod.uid);
        if (found !== undefined) found.deletionTimestamp = new Date(T_EVICTED).toISOString();
      }
      this.evicted.push(`${pod.namespace}/${pod.name}`);
    }
    return answer;
  }

  /** The taints, cordon and annotation of a node, for assertions. */
  cordonOf(name: string): { unschedulable: boolean; cordonedFor: string | undefined } {
    const node = this.mustNode(name);
    return { unschedulable: node.unschedulable, cordonedFor: node.annotations[Annotations.cordoned] };
  }

  private runStaged(kind: RecordedWrite['kind']): void {
    const action = this.beforeNextWrite[kind];
    delete this.beforeNextWrite[kind];
    action?.();
  }

  private mustNode(name: string): FakeNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`node ${name} not found`);
    return node;
  }

  private stateOf(name: string, node: FakeNode): NodeState {
    const ownedFields = Object.fromEntries([...node.owned].map((key) => [`f:${key}`, {}]));
    const state: NodeState = {
      metadata: {
        name,
        uid: node.uid,
        resourceVersion: String(node.resourceVersion),
        labels: { ...node.labels },
        managedFields: [
          { manager: 'kubelet', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: {} },
          { manager: FIELD_MANAGER_CONTROLLER, operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': ownedFields } } },
        ],
      },
      spec: {},
      ready: node.ready,
    };
    if (Object.keys(node.annotations).length > 0) state.metadata.annotations = { ...node.annotations };
    if (node.taints !== undefined) state.spec!.taints = node.taints.map((taint) => ({ ...taint }));
    if (node.unschedulable) state.spec!.unschedulable = true;
    if (node.providerID !== undefined) state.spec!.providerID = node.providerID;
    return state;
  }
}

function controllerFields(status: NodeMetadataStatus): Pick<NodeMetadataStatus, 'maintenance' | 'observedGeneration' | 'conditions' | 'notifications'> {
  const part: Pick<NodeMetadataStatus, 'maintenance' | 'observedGeneration' | 'conditions' | 'notifications'> = {
    conditions: (status.conditions ?? []).filter((c) => ['Labeled', 'Drained'].includes(c.type)),
  };
  if (status.maintenance !== undefined) part.maintenance = status.maintenance;
  if (status.notifications !== undefined) part.notifications = status.notifications;
  if (status.observedGeneration !== undefined) part.observedGeneration = status.observedGeneration;
  return part;
}

/** deletionTimestamp of pods the fake Eviction API accepted (its value does not matter to a drain). */
const T_EVICTED = Date.UTC(2026, 10, 22, 4, 0, 0);

export interface RecordedEvent {
  object: ObjectReference;
  type: EventType;
  reason: string;
  message: string;
}

export class RecordingEvents implements EventRecorder {
  readonly events: RecordedEvent[] = [];
  record(object: ObjectReference, type: EventType, reason: string, message: string): void {
    this.events.push({ object, type, reason, message });
  }
  reasons(): string[] {
    return this.events.map((event) => event.reason);
  }
}

/** cordonPatch's exclusion: the label and nodemeta's annotation, only when the label is absent. */
function excludeFromLoadBalancers(node: FakeNode): void {
  if (node.labels[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] !== undefined) return;
  node.labels[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] = 'true';
  node.annotations[Annotations.excludedFromLoadBalancers] = 'true';
}
