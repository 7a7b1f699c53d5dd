// Which pods of a node a drain evicts, which it leaves alone and which hold it up, and how long
// each evicted pod may take to stop. Pure: the wiring turns the informer's pods into DrainPod.
//
// Rules and their reasons (docs/maintenance.md):
// - DaemonSet pods are skipped: the DaemonSet controller ignores `unschedulable` and would put them
//   straight back (kubectl drain --ignore-daemonsets does the same).
// - Mirror pods (annotation kubernetes.io/config.mirror) are skipped: the API server cannot evict
//   them, the kubelet owns them.
// - Pods already terminating (deletionTimestamp) are not evicted again: counted, waited for.
// - Succeeded/Failed pods hold no workload: skipped.
// - A pod no controller owns is gone for good once evicted: it blocks unless forceUnmanagedPods.
// - A pod with an emptyDir loses that data: it blocks unless deleteEmptyDirData.
// - Pods are evicted lowest `priority` first, pods of the system-cluster-critical and
//   system-node-critical classes last, so that what the cluster needs to recover (DNS, CNI
//   helpers, ingress) keeps running until the rest is gone; ties by namespace/name. The plan marks
//   the critical ones, and the state machine holds them back while other pods the drain moves are
//   still on the node (docs/maintenance.md, "Eviction order").
// - The grace period is capped by maxGracePeriod and by the time left before NotBefore minus a
//   margin, so the pod has stopped before the platform takes the VM; never below 1 s (0 would be a
//   force delete with no SIGTERM at all).

import type { BlockedPod } from '../../api/nodemetadata.js';

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
/** Kubernetes' default terminationGracePeriodSeconds. */
export const DEFAULT_GRACE_PERIOD_SECONDS = 30;
/** Evictions should end this long before NotBefore: API latency, kubelet reaction, volume detach. */
export const GRACE_MARGIN_MS = 10_000;
/** PriorityClasses whose pods a drain evicts last, whatever their `priority` says. */
export const CRITICAL_PRIORITY_CLASSES: readonly string[] = ['system-cluster-critical', 'system-node-critical'];

/** The fields of a Pod a drain looks at. */
export interface DrainPod {
  namespace: string;
  name: string;
  uid: string;
  /** Kinds of metadata.ownerReferences, e.g. ['ReplicaSet']. */
  ownerKinds: readonly string[];
  annotations?: Readonly<Record<string, string>>;
  deletionTimestamp?: string;
  terminationGracePeriodSeconds?: number;
  volumes?: readonly { name: string; emptyDir: boolean }[];
  /** status.phase: Pending, Running, Succeeded, Failed, Unknown. */
  phase?: string;
  /** spec.priority (the admission plugin fills it from the PriorityClass; unset counts as 0). */
  priority?: number;
  /** spec.priorityClassName. */
  priorityClassName?: string;
}

export interface DrainOptions {
  maxGracePeriodMs: number;
  deleteEmptyDirData: boolean;
  forceUnmanagedPods: boolean;
}

export interface PodToEvict {
  namespace: string;
  name: string;
  uid: string;
  /** The grace period an eviction (or a deletion) now gives it: capped by the time left before NotBefore. */
  gracePeriodSeconds: number;
  /**
   * min(its own grace period, maxGracePeriod), in whole seconds: with GRACE_MARGIN_MS, how long before
   * NotBefore a pod still on the node is deleted under `atDeadline: Delete`. Absent: gracePeriodSeconds.
   */
  deadlineGracePeriodSeconds?: number;
  /** Of a CRITICAL_PRIORITY_CLASSES class: evicted once the other pods the drain moves are gone. */
  critical?: boolean;
  /** spec.priority: the evictor sends the pods of a lower priority before those of a higher one. */
  priority?: number;
}

export type SkipReason = 'DaemonSet' | 'Mirror' | 'Terminating' | 'Completed';

export interface SkippedPod {
  namespace: string;
  name: string;
  reason: SkipReason;
}

export interface DrainPlan {
  evict: PodToEvict[];
  skipped: SkippedPod[];
  /** Pods the configuration forbids evicting; the drain cannot finish while they are there. */
  blocked: BlockedPod[];
  /** Pods already on their way out: the drain waits for them but does not evict them. */
  terminating: number;
  /** How many of `terminating` are of a critical class (they do not hold the critical pods back). */
  terminatingCritical?: number;
}

export function planDrain(pods: readonly DrainPod[], options: DrainOptions, now: Date, notBefore: number | undefined): DrainPlan {
  const plan: DrainPlan = { evict: [], skipped: [], blocked: [], terminating: 0, terminatingCritical: 0 };
  for (const pod of sortedPods(pods)) {
    const skip = skipReason(pod);
    if (skip !== undefined) {
      plan.skipped.push({ namespace: pod.namespace, name: pod.name, reason: skip });
      if (skip === 'Terminating') plan.terminating++;
      if (skip === 'Terminating' && isCritical(pod)) plan.terminatingCritical!++;
      continue;
    }
    const block = blockReason(pod, options);
    if (block !== undefined) {
      plan.blocked.push({ namespace: pod.namespace, name: pod.name, reason: block });
      continue;
    }
    const evict: PodToEvict = {
      namespace: pod.namespace,
      name: pod.name,
      uid: pod.uid,
      gracePeriodSeconds: gracePeriodSeconds(pod.terminationGracePeriodSeconds, options.maxGracePeriodMs, now, notBefore),
      deadlineGracePeriodSeconds: gracePeriodSeconds(pod.terminationGracePeriodSeconds, options.maxGracePeriodMs, now, undefined),
    };
    if (isCritical(pod)) evict.critical = true;
    if (pod.priority !== undefined) evict.priority = pod.priority;
    plan.evict.push(evict);
  }
  return plan;
}

/** The fields the skip rule reads: drain readiness applies the same rule (controller/readiness). */
export type SkipFields = Pick<DrainPod, 'ownerKinds' | 'annotations' | 'deletionTimestamp' | 'phase'>;

/** Why a drain leaves this pod alone, or undefined when the drain evicts it. */
export function skipReason(pod: SkipFields): SkipReason | undefined {
  if (pod.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return 'Mirror';
  if (pod.ownerKinds.includes('DaemonSet')) return 'DaemonSet';
  if (pod.deletionTimestamp !== undefined) return 'Terminating';
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return 'Completed';
  return undefined;
}

function blockReason(pod: DrainPod, options: DrainOptions): string | undefined {
  if (isUnmanaged(pod) && !options.forceUnmanagedPods) return 'unmanaged pod (no controller recreates it; drain.forceUnmanagedPods is false)';
  const emptyDirs = emptyDirVolumes(pod);
  if (emptyDirs.length > 0 && !options.deleteEmptyDirData) return `emptyDir volume ${emptyDirs.join(', ')} would be lost (drain.deleteEmptyDirData is false)`;
  return undefined;
}

/** No controller owns the pod: once evicted it is gone for good. */
export function isUnmanaged(pod: Pick<DrainPod, 'ownerKinds'>): boolean {
  return pod.ownerKinds.length === 0;
}

/** The names of the pod's emptyDir volumes, whose data an eviction loses. */
export function emptyDirVolumes(pod: Pick<DrainPod, 'volumes'>): string[] {
  return (pod.volumes ?? []).filter((volume) => volume.emptyDir).map((volume) => volume.name);
}

/**
 * min(the pod's own grace period, maxGracePeriod, time left before NotBefore minus GRACE_MARGIN_MS),
 * in whole seconds, at least 1.
 */
export function gracePeriodSeconds(podSeconds: number | undefined, maxGracePeriodMs: number, now: Date, notBefore: number | undefined): number {
  const limits = [podSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS, Math.floor(maxGracePeriodMs / 1000)];
  if (notBefore !== undefined) limits.push(Math.floor((notBefore - now.getTime() - GRACE_MARGIN_MS) / 1000));
  return Math.max(1, Math.min(...limits));
}

/** The fields the eviction order reads. */
export type OrderFields = Pick<DrainPod, 'namespace' | 'name' | 'priority' | 'priorityClassName'>;

/**
 * The order a drain evicts in: critical classes last, then lower `priority` first, then
 * namespace/name, so the same pods give the same plan and the same status.
 */
export function compareEvictionOrder(a: OrderFields, b: OrderFields): number {
  const critical = Number(isCritical(a)) - Number(isCritical(b));
  if (critical !== 0) return critical;
  const priority = (a.priority ?? 0) - (b.priority ?? 0);
  if (priority !== 0) return priority;
  const keyA = `${a.namespace}/${a.name}`;
  const keyB = `${b.namespace}/${b.name}`;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}

/** Of the system-cluster-critical or system-node-critical class. */
export function isCritical(pod: Pick<OrderFields, 'priorityClassName'>): boolean {
  return pod.priorityClassName !== undefined && CRITICAL_PRIORITY_CLASSES.includes(pod.priorityClassName);
}

function sortedPods(pods: readonly DrainPod[]): DrainPod[] {
  return [...pods].sort(compareEvictionOrder);
}
