// Drain readiness: would a drain started now on this node finish, and if not, which pods would
// hold it and why (docs/maintenance.md, "Drain readiness"). Pure: the node's pods, the budgets of
// their namespaces and the ready replicas of their workloads in, a verdict out.
//
// The verdict is the API server's own. For every pod the drain would evict, in the order it evicts
// them (maintenance/drain-plan.ts), the eviction subresource:
// - deletes a Pending, Succeeded or Failed pod, or one already terminating, without looking at any
//   PodDisruptionBudget;
// - refuses (500) a pod that more than one budget selects;
// - lets an unready pod go when its budget's unhealthyPodEvictionPolicy is AlwaysAllow, or when the
//   budget is healthy (currentHealthy >= desiredHealthy > 0), without using up a disruption;
// - refuses (429) while the budget's status lags its spec (observedGeneration < generation);
// - refuses (429) when disruptionsAllowed is 0 (403 when negative), else takes one disruption.
// A drain meets the pods of one budget one after another: with disruptionsAllowed 1 and two
// healthy pods of it on this node, the first takes the disruption and the second blocks.
// Pods the drain never evicts (DaemonSet, mirror, terminating, finished) never block, by the very
// rule the drain skips them with; a pod the drain refuses to evict (Unmanaged, LocalStorage) uses
// up no budget.

import { compareEvictionOrder, emptyDirVolumes, isUnmanaged, skipReason, type DrainOptions, type DrainPod } from '../maintenance/drain-plan.js';
import { DrainBlocker, DrainWarning } from '../../api/event-reasons.js';

/** The public reasons live in api/event-reasons.ts; re-exported for the readiness code. */
export { DrainBlocker, DrainWarning };

/** The unhealthyPodEvictionPolicy that lets an unready pod go whatever the budget says. */
export const ALWAYS_ALLOW = 'AlwaysAllow';

/** A pod as drain readiness reads it: the drain's own fields plus labels, readiness and workload. */
export interface ReadinessPod extends Pick<DrainPod, 'namespace' | 'name' | 'ownerKinds' | 'annotations' | 'deletionTimestamp' | 'phase' | 'volumes' | 'priority' | 'priorityClassName'> {
  labels: Readonly<Record<string, string>>;
  /** The Ready condition is True. */
  ready: boolean;
  /** `<Kind>/<namespace>/<name>` of the Deployment, ReplicaSet or StatefulSet it belongs to. */
  workload?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  /** In, NotIn, Exists, DoesNotExist. */
  operator: string;
  values?: readonly string[];
}

export interface LabelSelector {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

/** A PodDisruptionBudget as drain readiness reads it. */
export interface ReadinessPdb {
  namespace: string;
  name: string;
  /** policy/v1: null selects no pod, an empty selector every pod of the namespace. */
  selector: LabelSelector | null;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  generation: number;
  observedGeneration: number;
  /** IfHealthyBudget (the default) or AlwaysAllow. */
  unhealthyPodEvictionPolicy?: string;
}

export interface ReadinessEntry {
  /** `<namespace>/<name>`. */
  pod: string;
  reason: string;
  message: string;
}

export interface VerdictInput {
  /** The pods bound to the node, in any order. */
  pods: readonly ReadinessPod[];
  /** The budgets of one namespace. */
  pdbsIn: (namespace: string) => readonly ReadinessPdb[];
  /** Pods of the workload, cluster-wide, that count as a ready replica (countsAsReadyReplica). */
  readyReplicas: (workload: string) => number;
  options: Pick<DrainOptions, 'deleteEmptyDirData' | 'forceUnmanagedPods'>;
}

export interface DrainVerdict {
  /** Every pod that would block, in the order the drain meets them. */
  blockers: ReadinessEntry[];
  /** blockers.length (the status keeps only the first entries). */
  blockedPods: number;
  warnings: ReadinessEntry[];
  /** The reason of the first blocker: the DrainReady condition's reason. */
  firstReason?: DrainBlocker;
  /** The DrainReady condition's message, e.g. `3 pods would block a drain: 2 under …, 1 without a controller`. */
  message: string;
}

export const DRAIN_READY_MESSAGE = 'no pod would block a drain';

interface Blocker extends ReadinessEntry {
  /** Pods of one group are summed in the condition message. */
  group: string;
}

/** What is left of a budget as the drain goes through the node's pods. */
interface BudgetLeft {
  disruptionsAllowed: number;
  currentHealthy: number;
}

export function drainVerdict(input: VerdictInput): DrainVerdict {
  const pods = [...input.pods].sort(compareEvictionOrder);
  const budgets = new Map<ReadinessPdb, BudgetLeft>();
  const blockers: Blocker[] = [];
  const warnings: ReadinessEntry[] = [];
  const readyOnNode = readyReplicasByWorkload(pods);
  for (const pod of pods) {
    if (skipReason(pod) !== undefined) continue;
    const key = `${pod.namespace}/${pod.name}`;
    const blocker = configBlocker(pod, input.options) ?? budgetBlocker(pod, input.pdbsIn(pod.namespace), budgets);
    if (blocker !== undefined) blockers.push({ pod: key, ...blocker });
    const single = singleReplicaWarning(pod, readyOnNode, input.readyReplicas);
    if (single !== undefined) warnings.push({ pod: key, reason: DrainWarning.SingleReplica, message: single });
  }
  return {
    blockers: blockers.map(({ pod, reason, message }) => ({ pod, reason, message })),
    blockedPods: blockers.length,
    warnings,
    ...(blockers[0] === undefined ? {} : { firstReason: blockers[0].reason as DrainBlocker }),
    message: summary(blockers),
  };
}

/** The drain itself refuses to evict the pod (drain.forceUnmanagedPods, drain.deleteEmptyDirData). */
function configBlocker(pod: ReadinessPod, options: VerdictInput['options']): Omit<Blocker, 'pod'> | undefined {
  if (isUnmanaged(pod) && !options.forceUnmanagedPods) {
    return { reason: DrainBlocker.Unmanaged, message: 'no controller owns it (drain.forceUnmanagedPods is false)', group: 'without a controller' };
  }
  const emptyDirs = emptyDirVolumes(pod);
  if (emptyDirs.length > 0 && !options.deleteEmptyDirData) {
    const volumes = emptyDirs.length === 1 ? `emptyDir volume ${emptyDirs[0]}` : `emptyDir volumes ${emptyDirs.join(', ')}`;
    return { reason: DrainBlocker.LocalStorage, message: `${volumes} would be lost (drain.deleteEmptyDirData is false)`, group: 'with emptyDir data' };
  }
  return undefined;
}

/** The eviction subresource's answer for this pod, given the evictions before it on this node. */
function budgetBlocker(pod: ReadinessPod, pdbs: readonly ReadinessPdb[], budgets: Map<ReadinessPdb, BudgetLeft>): Omit<Blocker, 'pod'> | undefined {
  if (canIgnoreBudgets(pod)) return undefined;
  const matching = pdbs.filter((pdb) => pdb.namespace === pod.namespace && selects(pdb.selector, pod.labels));
  if (matching.length === 0) return undefined;
  if (matching.length > 1) {
    const names = matching.map((pdb) => `${pdb.namespace}/${pdb.name}`).join(', ');
    return {
      reason: DrainBlocker.MultiplePodDisruptionBudgets,
      message: `under more than one PodDisruptionBudget (${names}): the API server refuses to evict it`,
      group: `under more than one PodDisruptionBudget (${names})`,
    };
  }
  const pdb = matching[0]!;
  let left = budgets.get(pdb);
  if (left === undefined) budgets.set(pdb, (left = { disruptionsAllowed: pdb.disruptionsAllowed, currentHealthy: pdb.currentHealthy }));
  if (!pod.ready && pdb.unhealthyPodEvictionPolicy === ALWAYS_ALLOW) return undefined;
  if (!pod.ready && left.currentHealthy >= pdb.desiredHealthy && pdb.desiredHealthy > 0) return undefined;
  const name = `PodDisruptionBudget ${pdb.namespace}/${pdb.name}`;
  if (pdb.observedGeneration < pdb.generation) {
    const label = `under ${name} (not yet processed by the disruption controller)`;
    return { reason: DrainBlocker.PodDisruptionBudget, message: label, group: label };
  }
  if (left.disruptionsAllowed <= 0) {
    const label = `under ${name} (allows ${plural(Math.max(0, pdb.disruptionsAllowed), 'disruption')})`;
    const used = pdb.disruptionsAllowed > 0 ? `under ${name} (allows ${plural(pdb.disruptionsAllowed, 'disruption')}, used by pods of this node evicted before it)` : label;
    return { reason: DrainBlocker.PodDisruptionBudget, message: used, group: label };
  }
  left.disruptionsAllowed--;
  if (pod.ready) left.currentHealthy--;
  return undefined;
}

/** The eviction subresource deletes these without looking at any budget. */
function canIgnoreBudgets(pod: ReadinessPod): boolean {
  return pod.phase === 'Pending' || pod.phase === 'Succeeded' || pod.phase === 'Failed' || pod.deletionTimestamp !== undefined;
}

/**
 * metav1.LabelSelectorAsSelector(...).Matches(labels) as the eviction subresource uses it: null
 * selects nothing, an empty selector everything; a selector that does not convert (an unknown
 * operator, In without values, Exists with values) selects nothing.
 */
export function selects(selector: LabelSelector | null, labels: Readonly<Record<string, string>>): boolean {
  if (selector === null) return false;
  const matchLabels = selector.matchLabels;
  for (const key in matchLabels) if (!Object.prototype.hasOwnProperty.call(labels, key) || labels[key] !== matchLabels[key]) return false;
  for (const requirement of selector.matchExpressions ?? []) {
    const matched = requirementMatches(requirement, labels);
    if (matched !== true) return false;
  }
  return true;
}

/** true / false, or undefined when the requirement is invalid (then the whole selector selects nothing). */
function requirementMatches(requirement: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean | undefined {
  const values = requirement.values ?? [];
  const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
  switch (requirement.operator) {
    case 'In':
      return values.length === 0 ? undefined : has && values.includes(labels[requirement.key]!);
    case 'NotIn':
      return values.length === 0 ? undefined : !has || !values.includes(labels[requirement.key]!);
    case 'Exists':
      return values.length > 0 ? undefined : has;
    case 'DoesNotExist':
      return values.length > 0 ? undefined : !has;
    default:
      return undefined;
  }
}

/**
 * A pod that serves as a replica of its workload right now: Running, Ready and not on its way out.
 * The pod index counts these cluster-wide with this same rule.
 */
export function countsAsReadyReplica(pod: Pick<ReadinessPod, 'ready' | 'phase' | 'deletionTimestamp' | 'workload'>): boolean {
  return pod.workload !== undefined && pod.ready && pod.phase === 'Running' && pod.deletionTimestamp === undefined;
}

function readyReplicasByWorkload(pods: readonly ReadinessPod[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const pod of pods) if (countsAsReadyReplica(pod)) counts.set(pod.workload!, (counts.get(pod.workload!) ?? 0) + 1);
  return counts;
}

/** Every ready replica of the pod's workload is on this node: the drain means an outage until a replacement is Ready. */
function singleReplicaWarning(pod: ReadinessPod, readyOnNode: ReadonlyMap<string, number>, readyReplicas: (workload: string) => number): string | undefined {
  if (!countsAsReadyReplica(pod)) return undefined;
  const onNode = readyOnNode.get(pod.workload!) ?? 0;
  if (onNode < readyReplicas(pod.workload!)) return undefined;
  const workload = describeWorkload(pod.workload!);
  return onNode === 1 ? `the only ready replica of ${workload} is on this node` : `all ${onNode} ready replicas of ${workload} are on this node`;
}

/** `Deployment/shop/web` -> `Deployment shop/web`. */
export function describeWorkload(workload: string): string {
  const slash = workload.indexOf('/');
  return slash < 0 ? workload : `${workload.slice(0, slash)} ${workload.slice(slash + 1)}`;
}

/** `3 pods would block a drain: 2 under PodDisruptionBudget payments/checkout (allows 0 disruptions), 1 without a controller`. */
function summary(blockers: readonly Blocker[]): string {
  if (blockers.length === 0) return DRAIN_READY_MESSAGE;
  const groups = new Map<string, number>();
  for (const blocker of blockers) groups.set(blocker.group, (groups.get(blocker.group) ?? 0) + 1);
  const parts = [...groups].map(([group, count]) => `${count} ${group}`);
  return `${plural(blockers.length, 'pod')} would block a drain: ${parts.join(', ')}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
