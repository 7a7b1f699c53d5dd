// The NodeMetadata custom resource as TypeScript types, mirroring crds/nodemetadatas.nodemeta.io.yaml
// (DESIGN.md, "Custom resource"). Status has two writers, each applying only its own part with
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
}

/** What the controller writes (field manager nodemeta-controller). */
export interface ControllerStatus {
  maintenance?: MaintenanceStatus;
  /** The controller's conditions: Labeled, Drained. */
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
