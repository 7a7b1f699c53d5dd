// The NodeMetadata custom resource as TypeScript types, mirroring crds/nodemetadatas.nodemeta.io.yaml
// (docs/architecture.md, "Public contract"). Status has two writers, each applying only its own part with
// server-side apply: the agent (AgentStatus) and the controller (ControllerStatus). Conditions are
// shared as a list-map keyed by type, each writer owning its own condition types.

import { API_VERSION, KIND } from './names.js';
import type { EventType, InstanceInfo, Observation, ProviderName, ScheduledEvent, SpotInfo, Tag } from './observation.js';

/** Per-node overrides written by people. Absent fields mean "as configured". */
export interface NodeMetadataSpec {
  /** Disabled: nodemeta never cordons or drains this node; events only taint it (notice). */
  drain?: 'Enabled' | 'Disabled';
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  /** PascalCase, machine-readable. */
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339; changes only when `status` changes. */
  lastTransitionTime: string;
}

export interface Approval {
  eventId: string;
  /** RFC 3339 time the agent approved (POSTed StartRequests). */
  time: string;
}

/** What the agent writes (field manager nodemeta-agent): its Observation plus the approvals it made. */
export interface AgentStatus {
  provider?: ProviderName;
  observedTime?: string;
  instance?: InstanceInfo;
  tags?: Tag[];
  events?: ScheduledEvent[];
  spot?: SpotInfo;
  incarnation?: number;
  rawSystemEvents?: string;
  warnings?: string[];
  approvals?: Approval[];
  /** The agent's conditions: MetadataAvailable. */
  conditions?: Condition[];
}

export const MaintenancePhase = {
  None: 'None',
  Scheduled: 'Scheduled',
  Cordoned: 'Cordoned',
  Draining: 'Draining',
  Drained: 'Drained',
  Approved: 'Approved',
  Completed: 'Completed',
  Failed: 'Failed',
} as const;
export type MaintenancePhase = (typeof MaintenancePhase)[keyof typeof MaintenancePhase];
export const MAINTENANCE_PHASES: readonly MaintenancePhase[] = Object.values(MaintenancePhase);

/** A spot reclaim is not a scheduled event in the metadata service, but the controller handles it as one. */
export const SPOT_TERMINATION = 'SpotTermination';
export type MaintenanceEventType = EventType | typeof SPOT_TERMINATION;

export interface BlockedPod {
  namespace: string;
  name: string;
  /** Why it could not be evicted yet, e.g. `PodDisruptionBudget default/web allows no disruption`. */
  reason: string;
}

export interface MaintenanceStatus {
  phase: MaintenancePhase;
  eventId?: string;
  eventType?: MaintenanceEventType;
  notBefore?: string;
  startedTime?: string;
  drainedTime?: string;
  completedTime?: string;
  totalPods?: number;
  pendingPods?: number;
  evictedPods?: number;
  /** The first few pods that block the drain (bounded, see the CRD). */
  blockedPods?: BlockedPod[];
  lastError?: string;
  /** The event id the controller asks the agent to approve. */
  approve?: string;
  /** Drained, but early approval waits for the approval window opening at this time (config approvalWindows). */
  approvalWaitsUntil?: string;
  /**
   * When the controller first saw the node carry node.kubernetes.io/exclude-from-external-load-balancers
   * for this event: drain.loadBalancerDrainDelay counts from here, so a restart or a new leader resumes
   * the wait instead of starting it again (docs/maintenance.md, "Load balancers first").
   */
  excludedTime?: string;
  /** Draining, but no pod is evicted before this time: the load balancers let go of the node (drain.loadBalancerDrainDelay). */
  loadBalancerDrainUntil?: string;
  /**
   * The controller runs in dry run (config `dryRun`) and this status is what a real run would have
   * reached: nothing was written to the Node, no pod was evicted (docs/maintenance.md, "Dry run").
   */
  dryRun?: boolean;
  /** Dry run: the event id a real run would have asked the agent to approve (`approve` is never set in dry run). */
  wouldApprove?: string;
  /**
   * Another controller acting on the node, recognised by its marks (docs/maintenance.md, "Other
   * controllers on the node"); absent when nobody else is.
   */
  otherDrainer?: OtherDrainer;
  /** When nodemeta saw someone uncordon the node it had cordoned for this event; it does not cordon it again. */
  uncordonedTime?: string;
}

/** Who else acts on a node (status.maintenance.otherDrainer): a public contract, in the CRD's enum. */
export const OTHER_DRAINERS = ['aks-remediator', 'karpenter', 'cluster-autoscaler', 'kured', 'unrecorded-cordon'] as const;
export type OtherDrainer = (typeof OTHER_DRAINERS)[number];

/**
 * The maintenance transitions a notification sink can ask for (docs/notifications.md). A public
 * contract: users write these names into the configuration, receivers read them in the body. Each
 * is one Kubernetes Event the controller records on the Node when the phase changes.
 */
export const NotificationTransition = {
  /** A maintenance event is handled (phase Scheduled); a spot reclaim is SpotReclaim instead. */
  Scheduled: 'Scheduled',
  /** A spot VM is being reclaimed (Azure Preempt, Alibaba spot termination): Scheduled for spot. */
  SpotReclaim: 'SpotReclaim',
  /** Cordoned, pods stay (action Cordon, or a drain waiting for the drain budget). */
  Cordoned: 'Cordoned',
  /** Cordoned and evicting (phase Draining). */
  DrainStarted: 'DrainStarted',
  Drained: 'Drained',
  /** The eviction timeout passed with pods left (phase Failed). */
  DrainFailed: 'DrainFailed',
  /** The agent approved the Azure event (phase Approved). */
  Approved: 'Approved',
  /** The event ran and is over, the node is back in service. */
  Completed: 'Completed',
  /** The event went away before it ran. */
  Cancelled: 'Cancelled',
  /** An event was scheduled on a node whose drain would not finish (its blockers in the detail). */
  DrainAtRisk: 'DrainAtRisk',
  /** atDeadline: Delete deleted a pod still on the node at the deadline (the pod and its overridden PDB in the detail). */
  PodDeletedAtDeadline: 'PodDeletedAtDeadline',
} as const;
export type NotificationTransition = (typeof NotificationTransition)[keyof typeof NotificationTransition];
export const NOTIFICATION_TRANSITIONS: readonly NotificationTransition[] = Object.values(NotificationTransition);

/**
 * A transition recorded for the notification sinks in the same status write as the transition itself,
 * and removed once every sink that wants it has sent (or dropped) it: an outbox, so that a new leader
 * sends what the old one recorded and did not confirm (status.notifications.pending). What the
 * maintenance status said at that moment, so the body is the same whoever sends it.
 */
export interface PendingNotification {
  transition: NotificationTransition;
  /** RFC 3339 with milliseconds: when the controller recorded it. With node and event id, its identity. */
  time: string;
  eventId: string;
  eventType?: MaintenanceEventType;
  notBefore?: string;
  phase: MaintenancePhase;
  totalPods?: number;
  evictedPods?: number;
  pendingPods?: number;
  /** How many pods block the drain (status.maintenance.blockedPods). */
  blockedPods?: number;
  /** DrainFailed: why (status.maintenance.lastError). */
  detail?: string;
  /** Recorded in dry run: a transition a real run would have made (status.maintenance.dryRun). */
  dryRun?: boolean;
}

export interface NotificationsStatus {
  /** Oldest first; bounded (the CRD's maxItems). */
  pending?: PendingNotification[];
}

/** What the controller writes (field manager nodemeta-controller). */
/** One pod that would block a drain, or a risk that would not (docs/maintenance.md, "Drain readiness"). */
export interface DrainReadinessEntry {
  /** `<namespace>/<name>`. */
  pod: string;
  /** Blockers: PodDisruptionBudget, MultiplePodDisruptionBudgets, Unmanaged, LocalStorage; warnings: SingleReplica. */
  reason: string;
  message: string;
}

/** Whether a drain started now would finish, and what would hold it (condition DrainReady says the same in short). */
export interface DrainReadinessStatus {
  /** The first blockers, in the order the drain meets them (at most 20). */
  blockers: DrainReadinessEntry[];
  /** Every blocked pod, also those beyond the listed blockers. */
  blockedPods: number;
  /** Risks that do not block (at most 20). */
  warnings: DrainReadinessEntry[];
  /** RFC 3339, whole seconds: when this verdict was first reached (refreshed only when it changes). */
  lastEvaluated: string;
}

export interface ControllerStatus {
  maintenance?: MaintenanceStatus;
  /** Maintenance notifications recorded and not yet sent to every sink (absent when none). */
  notifications?: NotificationsStatus;
  /** Drain readiness (absent while drainReadiness.enabled is false, or before a first verdict). */
  drainReadiness?: DrainReadinessStatus;
  /** The controller's conditions: Labeled, Drained, DrainReady. */
  conditions?: Condition[];
  /** metadata.generation (spec) the controller last acted on. */
  observedGeneration?: number;
}

export type NodeMetadataStatus = Omit<AgentStatus, 'conditions'> & Omit<ControllerStatus, 'conditions'> & { conditions?: Condition[] };

export interface NodeMetadata {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  spec?: NodeMetadataSpec;
  status?: NodeMetadataStatus;
}

/**
 * The agent's observation as the controller reads it back from status; undefined until the agent
 * has reported at least once (no provider or observedTime yet).
 */
export function observationOf(status: NodeMetadataStatus | undefined): Observation | undefined {
  if (status?.provider === undefined || status.observedTime === undefined) return undefined;
  const observation: Observation = {
    provider: status.provider,
    observedTime: status.observedTime,
    instance: status.instance ?? {},
    // The status cannot tell "no tags" from "tags not exposed"; either way there is nothing to label.
    tags: status.tags,
    events: status.events ?? [],
    spot: status.spot,
  };
  if (status.incarnation !== undefined) observation.incarnation = status.incarnation;
  return observation;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string };

/**
 * Sets a condition with apimachinery's meta.SetStatusCondition semantics: lastTransitionTime moves
 * only when the status changes (or the condition is new); reason, message and observedGeneration
 * always take the new values. Returns a new list, or the given list itself when nothing changed,
 * so `result !== conditions` tells the caller whether a status write is needed.
 */
export function setCondition(conditions: readonly Condition[] | undefined, update: ConditionUpdate, now: Date | string): Condition[] {
  const existing = conditions ?? [];
  const nowText = typeof now === 'string' ? now : now.toISOString();
  const index = existing.findIndex((condition) => condition.type === update.type);
  if (index < 0) {
    return [...existing, withoutUndefined({ ...update, lastTransitionTime: update.lastTransitionTime ?? nowText })];
  }
  const current = existing[index]!;
  const next: Condition = withoutUndefined({
    ...current,
    status: update.status,
    reason: update.reason,
    message: update.message,
    observedGeneration: update.observedGeneration,
    lastTransitionTime: current.status === update.status ? current.lastTransitionTime : (update.lastTransitionTime ?? nowText),
  });
  if (sameCondition(current, next)) return existing as Condition[];
  return existing.map((condition, i) => (i === index ? next : condition));
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime
  );
}

/** Server-side apply treats an explicit null/undefined differently from absence: leave them out. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
