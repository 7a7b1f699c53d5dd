// The reconciler's view of the cluster and the writes it may make, as small interfaces: the
// informer caches and the client-node writer implement them in production (controller.ts,
// node-writer.ts), plain maps and a recording writer in the unit tests.

import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { rfc3339Seconds } from '../../time/rfc3339.js';
import { Annotations, FIELD_MANAGER_CONTROLLER, OtherDrainerMarks } from '../../api/names.js';
import type { ControllerStatus, NodeMetadata } from '../../api/nodemetadata.js';
import type { CordonOptions } from '../decide/cordon.js';
import type { ManagedFieldsEntry } from '../decide/labels.js';
import { MIRROR_POD_ANNOTATION, type DrainPod, type PodToEvict } from '../maintenance/drain-plan.js';
import type { FleetView } from './fleet-index.js';
import type { Protection } from '../decide/protection.js';
import type { Taint, TaintEffect } from '../decide/taints.js';
import type { NodeState } from './node-state.js';

export type { NodeState };

/** What reconcile reads: the informer caches. */
export interface ClusterCache {
  node(name: string): NodeState | undefined;
  nodeMetadata(name: string): NodeMetadata | undefined;
  /** Fleet-wide facts for the drain budget and approvals, kept by the informers (fleet-index.ts). */
  fleet(): FleetView;
  /**
   * The pods bound to a node (spec.nodeName), as a drain sees them; undefined while they are not
   * known yet. Asking starts watching them (drain-pods.ts): ask only for a node that drains.
   */
  podsOn(nodeName: string): DrainPod[] | undefined;
  /** The node no longer drains: its pods need not be watched any more. */
  releasePods(nodeName: string): void;
  /** The Node and NodeMetadata informers have listed since their last (re)start; false means "do not remove anything". */
  warm(): boolean;
}

/** What one eviction request came to (Eviction API, policy/v1). */
export type EvictionResult =
  /** Accepted: the pod is terminating now. */
  | { kind: 'evicted' }
  /** Refused for now, typically 429 from a PodDisruptionBudget; `reason` says which and why. */
  | { kind: 'blocked'; reason: string }
  /** The pod is gone, or its name now belongs to another pod (uid precondition): nothing to evict. */
  | { kind: 'gone' };

/** What one deletion at the deadline came to (DELETE pods, atDeadline: Delete). */
export type DeletionResult =
  /** Accepted: the pod is terminating now, with the grace period asked for. */
  | { kind: 'deleted' }
  /** The pod is gone, or its name now belongs to another pod (uid precondition). */
  | { kind: 'gone' }
  /** 403: the controller may not delete pods (its ClusterRole lacks it); `reason` is the server's. */
  | { kind: 'forbidden'; reason: string };

/** The writes reconcile makes. Each returns the object as the API server stored it. */
export interface NodeWriter {
  /** SSA of the node's labels, field manager nodemeta-controller, force=false. Throws WriteConflictError on 409. */
  applyLabels(nodeName: string, labels: Record<string, string>): Promise<NodeState>;
  /** JSON patch of spec.taints guarded by a `test` of `current`. Throws WriteConflictError when the list changed meanwhile. */
  patchTaints(nodeName: string, current: readonly Taint[] | undefined, next: readonly Taint[]): Promise<NodeState>;
  /**
   * SSA of the controller's part of NodeMetadata status, field manager nodemeta-controller. A
   * `report` (conditions only, no maintenance step) waits behind every other request, as Events do.
   */
  applyControllerStatus(name: string, status: ControllerStatus, options?: { report?: boolean }): Promise<NodeMetadata>;
  /** A fresh read from the API server after a conflict; undefined when the node is gone. */
  readNode(nodeName: string): Promise<NodeState | undefined>;
  /**
   * The fast path's one write (protection.ts): nodemeta's NoSchedule taint and the cordon together,
   * guarded by what `node` shows, sent ahead of other requests. Throws WriteConflictError when that changed.
   */
  protect(node: NodeState, protection: Protection): Promise<NodeState>;
  /** cordonPatch(node, eventId, options): guarded by what `node` shows. Throws WriteConflictError when that changed. */
  cordon(node: NodeState, eventId: string, options: CordonOptions): Promise<NodeState>;
  /**
   * releasePatch(node): nodemeta's cordon and load-balancer exclusion taken off, guarded by what `node`
   * shows (WriteConflictError when that changed). Returns `node` unchanged when nodemeta holds nothing.
   */
  release(node: NodeState): Promise<NodeState>;
  /**
   * outOfServicePatch(node, wantedFor): the out-of-service taint added for that event, or nodemeta's
   * taken away (undefined); guarded by what `node` shows. Returns `node` when nothing is to change.
   */
  setOutOfService(node: NodeState, wantedFor: string | undefined): Promise<NodeState>;
  /** One Eviction API call (never a delete), with the pod's uid as precondition. Throws on other errors. */
  evictPod(pod: PodToEvict): Promise<EvictionResult>;
  /**
   * `atDeadline: Delete` only (docs/maintenance.md, "The end of a blocked drain"): DELETE of the pod
   * with its grace period and uid as precondition, overriding its PodDisruptionBudget. Throws on
   * errors other than 403 and gone.
   */
  deletePod(pod: PodToEvict): Promise<DeletionResult>;
}

/** Someone else changed what we based a write on: re-read, re-plan, try again (never force). */
export class WriteConflictError extends Error {
  override name = 'WriteConflictError';
}

/** This replica is no longer the leader: it must not write anything more. */
export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
}

/**
 * A client-node V1Node as NodeState. Objects from a list come through client-node's deserializer
 * (timestamps become Date objects), objects from a watch are raw JSON; both become raw JSON here,
 * because a JSON-patch `test` must match the stored list exactly, timestamps included.
 */
export function nodeStateOf(node: V1Node): NodeState {
  const metadata = node.metadata ?? {};
  const state: NodeState = {
    metadata: {
      name: metadata.name ?? '',
      ...(metadata.uid === undefined ? {} : { uid: metadata.uid }),
      ...(metadata.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion }),
      ...(metadata.labels === undefined ? {} : { labels: metadata.labels }),
      ...(metadata.annotations === undefined ? {} : { annotations: metadata.annotations }),
      ...(metadata.managedFields === undefined ? {} : { managedFields: metadata.managedFields as ManagedFieldsEntry[] }),
    },
  };
  if (node.spec !== undefined) {
    state.spec = {};
    if (node.spec.taints !== undefined) {
      state.spec.taints = node.spec.taints.map((taint) => {
        const wire: Taint = { key: taint.key, effect: taint.effect as TaintEffect };
        if (taint.value !== undefined) wire.value = taint.value;
        if (taint.timeAdded !== undefined && taint.timeAdded !== null) wire.timeAdded = rfc3339(taint.timeAdded as Date | string);
        return wire;
      });
    }
    if (node.spec.unschedulable !== undefined) state.spec.unschedulable = node.spec.unschedulable;
    if (node.spec.providerID !== undefined) state.spec.providerID = node.spec.providerID;
  }
  const ready = node.status?.conditions?.find((condition) => condition.type === 'Ready');
  if (ready !== undefined) state.ready = ready.status === 'True';
  return state;
}

/**
 * The part of a Node the controller keeps in its cache: what nodeStateOf reads. Of managedFields
 * only nodemeta-controller's entries (label ownership), of the annotations only nodemeta's and kured's reboot mark (an
 * empty map still says "the node has annotations", which the cordon's JSON-patch `test` relies
 * on), of the status only the Ready condition. A node's images, addresses, capacity, other
 * managers' field sets and status conditions are most of its size, and the controller needs none.
 */
export function nodeForCache(node: V1Node): V1Node {
  const metadata = node.metadata ?? {};
  const kept: V1Node = {
    metadata: {
      ...pick(metadata, ['name', 'uid', 'resourceVersion', 'labels']),
      ...(metadata.annotations === undefined ? {} : { annotations: ourAnnotations(metadata.annotations) }),
      ...(metadata.managedFields === undefined ? {} : { managedFields: metadata.managedFields.filter((entry) => entry.manager === FIELD_MANAGER_CONTROLLER) }),
    },
  };
  if (node.spec !== undefined) kept.spec = pick(node.spec, ['taints', 'unschedulable', 'providerID']);
  const ready = node.status?.conditions?.find((condition) => condition.type === 'Ready');
  if (ready !== undefined) kept.status = { conditions: [{ type: ready.type, status: ready.status }] };
  return kept;
}

/** metav1.Time's wire form (a watch's raw JSON has it already; a list's Date is put back). */
function rfc3339(time: Date | string): string {
  return typeof time === 'string' ? time : rfc3339Seconds(time);
}

/** A client-node V1Pod (deserialized from a list, or raw JSON from a watch) as a drain sees it. */
export function drainPodOf(pod: V1Pod): DrainPod {
  const metadata = pod.metadata ?? {};
  const drainPod: DrainPod = {
    namespace: metadata.namespace ?? 'default',
    name: metadata.name ?? '',
    uid: metadata.uid ?? '',
    ownerKinds: (metadata.ownerReferences ?? []).filter((owner) => owner.controller === true).map((owner) => owner.kind),
  };
  // The one annotation a drain reads (mirror pods are skipped).
  const mirror = metadata.annotations?.[MIRROR_POD_ANNOTATION];
  if (mirror !== undefined) drainPod.annotations = { [MIRROR_POD_ANNOTATION]: mirror };
  if (metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null) drainPod.deletionTimestamp = rfc3339(metadata.deletionTimestamp as Date | string);
  if (pod.spec?.terminationGracePeriodSeconds !== undefined) drainPod.terminationGracePeriodSeconds = pod.spec.terminationGracePeriodSeconds;
  if (pod.spec?.volumes !== undefined) drainPod.volumes = pod.spec.volumes.map((volume) => ({ name: volume.name, emptyDir: volume.emptyDir !== undefined && volume.emptyDir !== null }));
  if (pod.status?.phase !== undefined) drainPod.phase = pod.status.phase;
  // The eviction order (maintenance/drain-plan.ts): lower priority first, critical classes last.
  if (pod.spec?.priority !== undefined && pod.spec.priority !== null) drainPod.priority = pod.spec.priority;
  if (pod.spec?.priorityClassName !== undefined && pod.spec.priorityClassName !== null) drainPod.priorityClassName = pod.spec.priorityClassName;
  return drainPod;
}

/** The annotations the controller reads: nodemeta's own (the cordon, the load-balancer exclusion, out-of-service), and kured's reboot mark. */
const READ_ANNOTATIONS: readonly string[] = [...Object.values(Annotations), OtherDrainerMarks.kuredRebootInProgressAnnotation];

/** Of a node's annotations, those the controller reads (READ_ANNOTATIONS; decide/other-drainers.ts reads kured's). */
function ourAnnotations(annotations: Record<string, string>): Record<string, string> {
  return Object.fromEntries(READ_ANNOTATIONS.flatMap((key) => (annotations[key] === undefined ? [] : [[key, annotations[key]]])));
}

/** A NodeMetadata as the controller caches it: without managedFields, which it never reads. */
export function nodeMetadataForCache<T extends { metadata?: { managedFields?: unknown } }>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
