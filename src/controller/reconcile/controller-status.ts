// The controller's part of NodeMetadata status after a maintenance step: its conditions (Labeled,
// Drained), the maintenance status to store (marked in dry run: dry-run/dry-run-status.ts) and the
// notification outbox, and whether the write is a mere report (conditions only) or state others
// wait on. Pure.

import { ConditionReasons } from '../../api/event-reasons.js';
import { Conditions, EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../api/names.js';
import { MaintenancePhase, setCondition, type Condition, type ConditionUpdate, type ControllerStatus, type MaintenanceStatus, type NodeMetadata, type NodeMetadataStatus, type NotificationsStatus } from '../../api/nodemetadata.js';
import type { NodeState } from '../cache/node-state.js';
import { heldByNodemeta } from '../decide/cordon.js';
import { otherDrainerOn } from '../decide/other-drainers.js';
import { labeledCondition, type DesiredLabels, type LabelPlan } from '../decide/labels.js';
import { sameJson } from '../decide/same-json.js';
import { conditionInDryRun, maintenanceToDecide, maintenanceToStore, type AfterDryRunFacts } from '../dry-run/dry-run-status.js';
import { describeStatus, type MaintenanceStep, type NodeScheduling } from '../maintenance/state-machine.js';
import type { ReadinessLook } from '../readiness/drain-readiness.js';
import { withDrainReadiness } from '../readiness/readiness-update.js';

/** The controller's condition types: it applies these and only these in status.conditions. */
const CONTROLLER_CONDITIONS: readonly string[] = [Conditions.labeled, Conditions.drained, Conditions.drainReady];

export interface StatusInput {
  /** The status as stored (with a report handed over and not yet seen in the cache). */
  stored: NodeMetadataStatus;
  generation: number | undefined;
  desired: DesiredLabels;
  plan: LabelPlan;
  step: MaintenanceStep;
  dryRun: boolean;
  now: Date;
  /** The notification outbox after the step (notifications/notifier.ts), given the maintenance status to store. */
  notifications: (maintenance: MaintenanceStatus) => NotificationsStatus | undefined;
  /** Drain readiness of the node (readiness/readiness-update.ts); absent: as when it is off. */
  readiness?: ReadinessLook;
}

export interface NextStatus {
  /** What to write. */
  next: ControllerStatus;
  /** The maintenance status in it. */
  maintenance: MaintenanceStatus;
  /** Nothing differs from what is stored: no write. */
  unchanged: boolean;
  /** Conditions alone (or a first phase None): a report, which may wait behind the work. */
  report: boolean;
  /** The controller's conditions as stored, and the Labeled condition as decided (before dry run marks it). */
  ours: Condition[];
  labeledNow: ConditionUpdate;
}

export function nextControllerStatus(input: StatusInput): NextStatus {
  const { stored: status, generation, step, dryRun, now } = input;
  const ours = (status.conditions ?? []).filter((condition) => CONTROLLER_CONDITIONS.includes(condition.type));
  const labeledNow = labeledCondition(input.desired, input.plan, generation);
  const labeled = dryRun ? conditionInDryRun(labeledNow) : labeledNow;
  const drained = withDrainedCondition(setCondition(ours, labeled, now), step.status, generation, now, dryRun);
  // Not marked in dry run: the verdict is read, not a write nodemeta would make.
  const { conditions, drainReadiness } = withDrainReadiness(drained, status.drainReadiness, input.readiness ?? { kind: 'off' }, generation, now);
  // In dry run: marked, and `wouldApprove` instead of `approve` (dry-run-status.ts).
  const maintenance = maintenanceToStore(step.status, status.maintenance, dryRun);
  const next: ControllerStatus = { maintenance, conditions };
  if (drainReadiness !== undefined) next.drainReadiness = drainReadiness;
  if (generation !== undefined) next.observedGeneration = generation;
  // The step's transitions are recorded in this same write (a transition always changes the
  // maintenance status, so it is never a report); notifications sent since are left out.
  const notifications = input.notifications(maintenance);
  if (notifications !== undefined) next.notifications = notifications;
  const unchanged =
    sameJson(conditions, ours) &&
    sameJson(status.maintenance, maintenance) &&
    sameJson(status.notifications, notifications) &&
    sameJson(status.drainReadiness, drainReadiness) &&
    (generation === undefined || status.observedGeneration === generation);
  // Conditions alone (or a first phase None) are a report: like Events they wait behind the work.
  // A maintenance step is state others wait on.
  const idle = (value: MaintenanceStatus | undefined) => value === undefined || value.phase === MaintenancePhase.None;
  const report = sameJson(status.maintenance, maintenance) || (idle(status.maintenance) && idle(maintenance));
  return { next, maintenance, unchanged, report, ours, labeledNow };
}

/**
 * The Drained condition follows the drain: True once the node is empty (Drained, Approved), False
 * while it drains or after a failed drain, absent when no drain is under way.
 */
function withDrainedCondition(conditions: Condition[], maintenance: MaintenanceStatus, observedGeneration: number | undefined, now: Date, dryRun: boolean): Condition[] {
  const drained = drainedCondition(maintenance, observedGeneration);
  const update = dryRun && drained !== undefined ? conditionInDryRun(drained) : drained;
  if (update === undefined) {
    const kept = conditions.filter((condition) => condition.type !== Conditions.drained);
    return kept.length === conditions.length ? conditions : kept;
  }
  return setCondition(conditions, update, now);
}

function drainedCondition(maintenance: MaintenanceStatus, observedGeneration: number | undefined): ConditionUpdate | undefined {
  const base = { type: Conditions.drained, ...(observedGeneration === undefined ? {} : { observedGeneration }) };
  const event = describeStatus(maintenance);
  switch (maintenance.phase) {
    case MaintenancePhase.Draining:
      if (maintenance.loadBalancerDrainUntil !== undefined) {
        return { ...base, status: 'False', reason: ConditionReasons.WaitingForLoadBalancers, message: `${event}: the first eviction waits until ${maintenance.loadBalancerDrainUntil} for the load balancers to let go of the node (${maintenance.pendingPods ?? 0} pods to evict)` };
      }
      return { ...base, status: 'False', reason: ConditionReasons.Draining, message: `${event}: ${maintenance.pendingPods ?? 0} of ${maintenance.totalPods ?? 0} pods left` };
    case MaintenancePhase.Failed:
      return { ...base, status: 'False', reason: ConditionReasons.DrainFailed, message: maintenance.lastError ?? `${event}: drain failed` };
    case MaintenancePhase.Drained:
    case MaintenancePhase.Approved:
      return { ...base, status: 'True', reason: ConditionReasons.Drained, message: `${event}: ${maintenance.evictedPods ?? 0} pods evicted` };
    default:
      return undefined;
  }
}

/** The node as the state machine sees it. */
export function nodeScheduling(node: NodeState): NodeScheduling {
  const held = heldByNodemeta(node);
  const scheduling: NodeScheduling = {
    unschedulable: node.spec?.unschedulable === true,
    cordonedFor: held.cordonedFor,
    excludedFromLoadBalancers: held.excludedFromLoadBalancers,
    hasExclusionLabel: node.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] !== undefined,
    ready: node.ready ?? false,
  };
  const other = otherDrainerOn(node);
  if (other !== undefined) scheduling.otherDrainer = other;
  return scheduling;
}

/** `nodeMetadata` with the maintenance status the state machine decides from (dry-run-status.ts). */
export function withMaintenanceToDecide(nodeMetadata: NodeMetadata, dryRun: boolean, afterDryRun: AfterDryRunFacts): NodeMetadata {
  const stored = nodeMetadata.status?.maintenance;
  const decideFrom = maintenanceToDecide(stored, dryRun, afterDryRun);
  if (decideFrom === stored) return nodeMetadata;
  const status = { ...nodeMetadata.status };
  if (decideFrom === undefined) delete status.maintenance;
  else status.maintenance = decideFrom;
  return { ...nodeMetadata, status };
}
