// Dry run (config `dryRun`, flag `--dry-run`; docs/maintenance.md, "Dry run"): the controller reads
// everything and decides everything as usual, and writes nothing to Nodes and evicts nothing. This
// module is the one place that knows how: a ClusterCache and NodeWriter pair laid over the real ones.
//
// - A node write (labels, taints, cordon, uncordon, the fast path's taint-and-cordon, the
//   out-of-service taint) is not sent. The writer computes the node as the write would have left it
//   from the same patch the real writer sends (cordonPatch, releasePatch, taintsPatch,
//   outOfServicePatch, protectionPatch applied to the node by json-patch.ts; a label apply as
//   server-side apply would do it), records the decision once, as a `DryRun` Event on the Node and
//   a log line ("would cordon (spec.unschedulable, nodemeta.io/cordoned=<id>)"), and returns that node.
// - The simulated fields are kept per node (an overlay), and the cache lays them over the real node
//   it reads, so the next reconcile plans from the state a real run would have reached and decides
//   nothing twice; every other field, and every later real change of the node, comes from the cache.
// - An eviction is not sent either: the pod counts as gone for the drain's bookkeeping (the cache
//   leaves it out of the node's pods), so the drain ends Drained as a real one would. The reconciler
//   reports the evictions of a step in one Event ("would evict 3 pods: ..."). A deletion at the
//   deadline (atDeadline: Delete) likewise: not sent, its PodDeletedAtDeadline Event marked.
// - NodeMetadata status writes go through: they tell the story (dry-run-status.ts says what they hold).
//
// A node read in dry run carries a resourceVersion the API server never stored (`<version>+dry-run`):
// it is not a stored version, and so the reconciler's read-your-writes memory of a simulated write
// never mistakes the real node for it once dry run is turned off. Then everything simulated is
// dropped at once, and the controller acts for real from what the Nodes really are.

import { EventReasons } from '../../api/event-reasons.js';
import { Annotations, FIELD_MANAGER_CONTROLLER } from '../../api/names.js';
import type { EventRecorder } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { ClusterCache, DeletionResult, EvictionResult, NodeState, NodeWriter } from '../cache/cluster-state.js';
import { cordonPatch, releasePatch } from '../decide/cordon.js';
import { applyJsonPatch } from './json-patch.js';
import { ownedLabelKeys, type ManagedFieldsEntry } from '../decide/labels.js';
import type { DrainPod, PodToEvict } from '../maintenance/drain-plan.js';
import { outOfServicePatch } from '../decide/out-of-service.js';
import { protectionPatch } from '../decide/protection.js';
import { bareTaint, taintsPatch, taintText, type Taint } from '../decide/taints.js';
import type { JsonPatchOperation } from '../decide/patch-ops.js';

/** Appended to the resourceVersion of a node read in dry run: no version the API server stored. */
export const DRY_RUN_VERSION_SUFFIX = '+dry-run';

// ---- the overlay: what a real run would have written, per node ----

/** The fields nodemeta's writes would have changed on one node; undefined values: removed. */
export interface NodeOverlay {
  unschedulable?: boolean;
  labels: Map<string, string | undefined>;
  annotations: Map<string, string | undefined>;
  /** By taint key (nodemeta's taints are one per key). */
  taints: Map<string, Taint | undefined>;
  /** The label keys field manager nodemeta-controller would own (its server-side apply entry). */
  ownedLabels?: string[];
}

export function emptyOverlay(): NodeOverlay {
  return { labels: new Map(), annotations: new Map(), taints: new Map() };
}

/** `overlay` plus what changed from `before` to `after` (a simulated write). */
export function recordChange(overlay: NodeOverlay, before: NodeState, after: NodeState): NodeOverlay {
  const next: NodeOverlay = { ...overlay, labels: new Map(overlay.labels), annotations: new Map(overlay.annotations), taints: new Map(overlay.taints) };
  diffMap(before.metadata.labels, after.metadata.labels, next.labels);
  diffMap(before.metadata.annotations, after.metadata.annotations, next.annotations);
  if ((before.spec?.unschedulable === true) !== (after.spec?.unschedulable === true)) next.unschedulable = after.spec?.unschedulable === true;
  const beforeTaints = taintsByKey(before.spec?.taints);
  const afterTaints = taintsByKey(after.spec?.taints);
  for (const key of new Set([...beforeTaints.keys(), ...afterTaints.keys()])) {
    const was = beforeTaints.get(key);
    const is = afterTaints.get(key);
    if (was === undefined || is === undefined ? was !== is : taintText(was) !== taintText(is)) next.taints.set(key, is === undefined ? undefined : bareTaint(is));
  }
  return next;
}

/**
 * The real node with the overlay laid over it. Entries the real node now agrees with are dropped
 * from the overlay (returned as `overlay`), so a real change that matches the simulation ends it.
 */
export function withOverlay(real: NodeState, overlay: NodeOverlay): { node: NodeState; overlay: NodeOverlay } {
  const node = structuredClone(real);
  node.spec ??= {};
  const kept = emptyOverlay();
  if (overlay.ownedLabels !== undefined) kept.ownedLabels = overlay.ownedLabels;
  node.metadata.labels = overlayMap(real.metadata.labels, overlay.labels, kept.labels);
  node.metadata.annotations = overlayMap(real.metadata.annotations, overlay.annotations, kept.annotations);
  if (node.metadata.labels === undefined) delete node.metadata.labels;
  if (node.metadata.annotations === undefined) delete node.metadata.annotations;
  if (overlay.unschedulable !== undefined && overlay.unschedulable !== (real.spec?.unschedulable === true)) {
    kept.unschedulable = overlay.unschedulable;
    if (overlay.unschedulable) node.spec.unschedulable = true;
    else delete node.spec.unschedulable;
  }
  const realTaints = taintsByKey(real.spec?.taints);
  for (const [key, taint] of overlay.taints) {
    const current = realTaints.get(key);
    const agrees = taint === undefined || current === undefined ? taint === current : taintText(taint) === taintText(current);
    if (!agrees) kept.taints.set(key, taint);
  }
  if (kept.taints.size > 0) {
    const taints = [...(real.spec?.taints ?? []).filter((taint) => !kept.taints.has(taint.key)), ...[...kept.taints.values()].filter((taint) => taint !== undefined)];
    if (taints.length > 0) node.spec.taints = taints;
    else delete node.spec.taints;
  }
  if (kept.ownedLabels !== undefined) node.metadata.managedFields = withOwnedLabels(real.metadata.managedFields, kept.ownedLabels);
  return { node, overlay: kept };
}

export function isEmptyOverlay(overlay: NodeOverlay): boolean {
  return overlay.unschedulable === undefined && overlay.labels.size === 0 && overlay.annotations.size === 0 && overlay.taints.size === 0 && overlay.ownedLabels === undefined;
}

// ---- simulated writes ----

/**
 * A server-side apply of `labels` as field manager nodemeta-controller (labels.ts): the labels it
 * owned and leaves out go (the cache keeps no other manager's entries, so a label also owned
 * elsewhere is taken as ours alone), the applied ones are set, and it owns exactly those keys.
 */
export function applyLabelsTo(node: NodeState, labels: Readonly<Record<string, string>>, owned: ReadonlySet<string>): NodeState {
  const next = structuredClone(node);
  const current = { ...next.metadata.labels };
  for (const key of owned) if (!(key in labels)) delete current[key];
  Object.assign(current, labels);
  next.metadata.labels = current;
  next.metadata.managedFields = withOwnedLabels(node.metadata.managedFields, Object.keys(labels));
  return next;
}

// ---- what a decision says ----

/** One sentence of what a write from `before` to `after` does, e.g. `cordon (spec.unschedulable, nodemeta.io/cordoned=EV-1)`; undefined when nothing. */
export function describeNodeChange(before: NodeState, after: NodeState): string | undefined {
  const phrases: string[] = [];
  const annotationsBefore = before.metadata.annotations ?? {};
  const annotationsAfter = after.metadata.annotations ?? {};
  const changedAnnotations = new Set([...Object.keys(annotationsBefore), ...Object.keys(annotationsAfter)].filter((key) => annotationsBefore[key] !== annotationsAfter[key]));
  const cordonedAfter = annotationsAfter[Annotations.cordoned];
  const wasUnschedulable = before.spec?.unschedulable === true;
  const isUnschedulable = after.spec?.unschedulable === true;
  if (!wasUnschedulable && isUnschedulable) {
    const why = cordonedAfter === undefined ? '' : `, ${Annotations.cordoned}=${cordonedAfter}`;
    phrases.push(`cordon (spec.unschedulable${why})`);
    changedAnnotations.delete(Annotations.cordoned);
  } else if (wasUnschedulable && !isUnschedulable) {
    const why = cordonedAfter === undefined && annotationsBefore[Annotations.cordoned] !== undefined ? `, remove ${Annotations.cordoned}` : '';
    phrases.push(`uncordon (spec.unschedulable=false${why})`);
    if (why !== '') changedAnnotations.delete(Annotations.cordoned);
  }
  const beforeTaints = new Set((before.spec?.taints ?? []).map(taintText));
  const afterTaints = new Set((after.spec?.taints ?? []).map(taintText));
  const added = [...afterTaints].filter((taint) => !beforeTaints.has(taint));
  const removed = [...beforeTaints].filter((taint) => !afterTaints.has(taint));
  if (added.length > 0) phrases.push(`add taint${added.length === 1 ? '' : 's'} ${added.join(', ')}`);
  if (removed.length > 0) phrases.push(`remove taint${removed.length === 1 ? '' : 's'} ${removed.join(', ')}`);
  const labelsBefore = before.metadata.labels ?? {};
  const labelsAfter = after.metadata.labels ?? {};
  const setLabels = Object.entries(labelsAfter).filter(([key, value]) => labelsBefore[key] !== value).map(([key, value]) => `${key}=${value}`);
  const removedLabels = Object.keys(labelsBefore).filter((key) => !(key in labelsAfter));
  if (setLabels.length > 0) phrases.push(`set label${setLabels.length === 1 ? '' : 's'} ${setLabels.join(', ')}`);
  if (removedLabels.length > 0) phrases.push(`remove label${removedLabels.length === 1 ? '' : 's'} ${removedLabels.join(', ')}`);
  const setAnnotations = [...changedAnnotations].filter((key) => annotationsAfter[key] !== undefined).map((key) => `${key}=${annotationsAfter[key]}`);
  const removedAnnotations = [...changedAnnotations].filter((key) => annotationsAfter[key] === undefined);
  if (setAnnotations.length > 0) phrases.push(`set annotation${setAnnotations.length === 1 ? '' : 's'} ${setAnnotations.join(', ')}`);
  if (removedAnnotations.length > 0) phrases.push(`remove annotation${removedAnnotations.length === 1 ? '' : 's'} ${removedAnnotations.join(', ')}`);
  return phrases.length === 0 ? undefined : phrases.join('; ');
}

/** The one Event of a step's evictions in dry run: `would evict 3 pods: default/web-1, …`. */
export function describeEvictions(pods: readonly Pick<PodToEvict, 'namespace' | 'name' | 'gracePeriodSeconds'>[]): string {
  const shown = pods.slice(0, 10).map((pod) => `${pod.namespace}/${pod.name}`);
  const more = pods.length > shown.length ? `, and ${pods.length - shown.length} more` : '';
  const grace = pods.length === 0 ? '' : ` (grace period up to ${Math.max(...pods.map((pod) => pod.gracePeriodSeconds))}s)`;
  return `would evict ${pods.length} pod${pods.length === 1 ? '' : 's'}: ${shown.join(', ')}${more}${grace}`;
}

// ---- the decorator ----

export interface DryRunOptions {
  /** The real caches. */
  cache: ClusterCache;
  /** The real writer: only its NodeMetadata status writes and reads are used in dry run. */
  writer: NodeWriter;
  /** Whether dry run is in force now (the configuration in force, or the flag); read at every call. */
  enabled: () => boolean;
  events: EventRecorder;
  logger: Logger;
}

/**
 * The cache and writer the reconciler uses: the real ones while dry run is off, the simulation while
 * it is on (see the top of this file).
 */
export class DryRunNodes {
  readonly cache: ClusterCache;
  readonly writer: NodeWriter;
  private readonly overlays = new Map<string, NodeOverlay>();
  /** The uids of the pods a simulated eviction took away (uids are unique cluster-wide). */
  private readonly evicted = new Set<string>();
  /** Per draining node: the uids of its pods last listed, to forget evictions of pods really gone. */
  private readonly listed = new Map<string, Set<string>>();

  constructor(private readonly options: DryRunOptions) {
    const real = options.cache;
    this.cache = {
      node: (name) => this.node(name),
      nodeMetadata: (name) => real.nodeMetadata(name),
      fleet: () => real.fleet(),
      podsOn: (nodeName) => this.podsOn(nodeName),
      releasePods: (nodeName) => {
        for (const uid of this.listed.get(nodeName) ?? []) this.evicted.delete(uid);
        this.listed.delete(nodeName);
        real.releasePods(nodeName);
      },
      warm: () => real.warm(),
    };
    const writer = options.writer;
    this.writer = {
      applyLabels: (nodeName, labels) => (this.active() ? this.simulateLabels(nodeName, labels) : writer.applyLabels(nodeName, labels)),
      patchTaints: (nodeName, current, next) => (this.active() ? this.simulateTaints(nodeName, current, next) : writer.patchTaints(nodeName, current, next)),
      applyControllerStatus: (name, status, statusOptions) => writer.applyControllerStatus(name, status, statusOptions),
      readNode: async (nodeName) => {
        const node = await writer.readNode(nodeName);
        return node === undefined || !this.active() ? node : this.laidOver(node);
      },
      protect: (node, protection) => (this.active() ? this.simulate(node, protectionPatch(node, protection)) : writer.protect(node, protection)),
      cordon: (node, eventId, cordonOptions) => (this.active() ? this.simulate(node, cordonPatch(node, eventId, cordonOptions)) : writer.cordon(node, eventId, cordonOptions)),
      release: (node) => (this.active() ? this.simulate(node, releasePatch(node)) : writer.release(node)),
      setOutOfService: (node, wantedFor) => (this.active() ? this.simulate(node, outOfServicePatch(node, wantedFor)) : writer.setOutOfService(node, wantedFor)),
      evictPod: (pod) => (this.active() ? this.simulateEviction(pod) : writer.evictPod(pod)),
      deletePod: (pod) => (this.active() ? this.simulateDeletion(pod) : writer.deletePod(pod)),
    };
  }

  /** How many nodes carry simulated changes (tests, logs). */
  simulatedNodes(): number {
    return this.overlays.size;
  }

  /** Dry run on? When it has just been turned off, everything simulated goes. */
  private active(): boolean {
    if (this.options.enabled()) return true;
    if (this.overlays.size > 0 || this.evicted.size > 0) {
      this.options.logger.info('dry run ended: the simulated node changes are dropped, the controller acts on the nodes as they are', { nodes: this.overlays.size });
      this.overlays.clear();
      this.evicted.clear();
      this.listed.clear();
    }
    return false;
  }

  private node(name: string): NodeState | undefined {
    const real = this.options.cache.node(name);
    if (!this.active()) return real;
    if (real === undefined) {
      // The node is gone, and what was simulated for it with it.
      this.overlays.delete(name);
      return undefined;
    }
    return this.laidOver(real);
  }

  private laidOver(real: NodeState): NodeState {
    const name = real.metadata.name;
    const overlay = this.overlays.get(name);
    let node = real;
    if (overlay !== undefined) {
      const merged = withOverlay(real, overlay);
      if (isEmptyOverlay(merged.overlay)) this.overlays.delete(name);
      else this.overlays.set(name, merged.overlay);
      node = merged.node;
    }
    return { ...node, metadata: { ...node.metadata, resourceVersion: `${real.metadata.resourceVersion ?? ''}${DRY_RUN_VERSION_SUFFIX}` } };
  }

  private podsOn(nodeName: string): DrainPod[] | undefined {
    const pods = this.options.cache.podsOn(nodeName);
    if (pods === undefined || !this.active()) return pods;
    const listed = new Set(pods.map((pod) => pod.uid));
    // A pod that is really gone needs no remembering.
    for (const uid of this.listed.get(nodeName) ?? []) if (!listed.has(uid)) this.evicted.delete(uid);
    this.listed.set(nodeName, listed);
    return pods.filter((pod) => !this.evicted.has(pod.uid));
  }

  private async simulateLabels(nodeName: string, labels: Record<string, string>): Promise<NodeState> {
    const before = this.node(nodeName) ?? (await this.options.writer.readNode(nodeName).then((node) => (node === undefined ? undefined : this.laidOver(node))));
    if (before === undefined) throw new Error(`dry run: apply labels of node ${nodeName}: the node is gone`);
    const owned = ownedLabelKeys(before.metadata.managedFields, FIELD_MANAGER_CONTROLLER);
    const after = applyLabelsTo(before, labels, owned);
    const overlay = recordChange(this.overlays.get(nodeName) ?? emptyOverlay(), before, after);
    overlay.ownedLabels = Object.keys(labels).sort();
    return this.decided(before, after, overlay);
  }

  private async simulateTaints(nodeName: string, current: readonly Taint[] | undefined, next: readonly Taint[]): Promise<NodeState> {
    const before = this.node(nodeName);
    if (before === undefined) throw new Error(`dry run: patch taints of node ${nodeName}: the node is gone`);
    return this.simulate(before, taintsPatch(current, next));
  }

  /**
   * The node as `ops` would leave it, recorded; `seen` itself when there is nothing to write. As on
   * the API server, the patch applies to the node as it is now (with what was simulated since the
   * caller read it), and its `test` ops fail if that differs from what the caller planned from.
   */
  private async simulate(seen: NodeState, ops: readonly JsonPatchOperation[] | undefined): Promise<NodeState> {
    if (ops === undefined || ops.length === 0) return seen;
    const before = this.node(seen.metadata.name) ?? seen;
    const after = applyJsonPatch(before, ops);
    return this.decided(before, after, recordChange(this.overlays.get(before.metadata.name) ?? emptyOverlay(), before, after));
  }

  /** Keeps the simulated node and tells what a real run would have written: one Event, one log line. */
  private decided(before: NodeState, after: NodeState, overlay: NodeOverlay): NodeState {
    const name = before.metadata.name;
    this.overlays.set(name, overlay);
    const change = describeNodeChange(before, after);
    if (change !== undefined) {
      this.options.logger.info('dry run: node write not sent', { node: name, would: change });
      const node = { apiVersion: 'v1', kind: 'Node', name, ...(before.metadata.uid === undefined ? {} : { uid: before.metadata.uid }) };
      this.options.events.record(node, 'Normal', EventReasons.DryRun, `would ${change}`);
    }
    return { ...after, metadata: { ...after.metadata, resourceVersion: before.metadata.resourceVersion ?? DRY_RUN_VERSION_SUFFIX } };
  }

  /** A deletion at the deadline is not sent either: the pod counts as gone, as an evicted one. */
  private async simulateDeletion(pod: PodToEvict): Promise<DeletionResult> {
    this.evicted.add(pod.uid);
    this.options.logger.info('dry run: deletion at the deadline not sent', { pod: `${pod.namespace}/${pod.name}`, gracePeriodSeconds: pod.gracePeriodSeconds });
    return { kind: 'deleted' };
  }

  private async simulateEviction(pod: PodToEvict): Promise<EvictionResult> {
    this.evicted.add(pod.uid);
    this.options.logger.debug('dry run: eviction not sent', { pod: `${pod.namespace}/${pod.name}`, gracePeriodSeconds: pod.gracePeriodSeconds });
    return { kind: 'evicted' };
  }
}

// ---- helpers ----

function diffMap(before: Readonly<Record<string, string>> | undefined, after: Readonly<Record<string, string>> | undefined, into: Map<string, string | undefined>): void {
  const a = before ?? {};
  const b = after ?? {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[key] !== b[key]) into.set(key, b[key]);
}

/** The real map with the overlay's entries; `kept` gets the entries the real map does not agree with. */
function overlayMap(real: Readonly<Record<string, string>> | undefined, overlay: ReadonlyMap<string, string | undefined>, kept: Map<string, string | undefined>): Record<string, string> | undefined {
  if (overlay.size === 0) return real === undefined ? undefined : { ...real };
  const merged: Record<string, string> = { ...real };
  for (const [key, value] of overlay) {
    if (merged[key] === value) continue;
    kept.set(key, value);
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  // No map at all on the real node and nothing left: still none (an empty map means "has some", see cordon.ts).
  return real === undefined && Object.keys(merged).length === 0 ? undefined : merged;
}

function taintsByKey(taints: readonly Taint[] | undefined): Map<string, Taint> {
  return new Map((taints ?? []).map((taint) => [taint.key, taint]));
}

/** managedFields with nodemeta-controller's Apply entry owning exactly `keys`. */
function withOwnedLabels(managedFields: readonly ManagedFieldsEntry[] | undefined, keys: readonly string[]): ManagedFieldsEntry[] {
  const others = (managedFields ?? []).filter((entry) => !(entry.manager === FIELD_MANAGER_CONTROLLER && entry.operation === 'Apply' && (entry.subresource ?? '') === ''));
  const labels = Object.fromEntries(keys.map((key) => [`f:${key}`, {}]));
  return [...others, { manager: FIELD_MANAGER_CONTROLLER, operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': labels } } }];
}
