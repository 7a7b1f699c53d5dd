// The maintenance state machine of one node (docs/maintenance.md): from what status.maintenance says
// and what is true now (the active plan, the Node, its pods, the drain budget, approvals), the next
// status and the writes that take the node there, as data. Pure and stateless: everything it needs
// is in the input, so it resumes after a crash or a leader change at any step, and given its own
// output back with the facts unchanged it asks for nothing more.
//
// Phases: None → Scheduled → Cordoned (waiting for budget) → Draining → Drained → Approved →
// Completed, and Failed when the eviction timeout passes with pods left. One transition per call;
// a transition returns requeueAfterMs 0 so the wiring looks again at once.
//
// Within a drain (docs/maintenance.md, "Eviction order" and "The end of a blocked drain"): pods of
// the critical classes are evicted once the other pods the drain moves are gone, or when only the
// time a drain needs is left before NotBefore; with `atDeadline: Delete`, a pod still on the node
// when only its grace period plus GRACE_MARGIN_MS is left is deleted (DeletePods), once.

import { EventReasons, type EventReason } from '../../api/event-reasons.js';
import { rfc3339Seconds } from '../../time/rfc3339.js';
import { MaintenancePhase, SPOT_TERMINATION, type BlockedPod, type MaintenanceStatus } from '../../api/nodemetadata.js';
import type { ProviderName } from '../../api/observation.js';
import type { ControllerConfig } from '../config/config.js';
import { uncordonedUnderNodemeta, type OtherDrainerSeen } from '../decide/other-drainers.js';
import type { PlannedAction } from '../decide/policy.js';
import { approvalWindowState, describeWindows } from './approval-window.js';
import { GRACE_MARGIN_MS, type DrainPlan, type PodToEvict } from './drain-plan.js';
import { announcedCut, cutMessage, loadBalancerDrain, recordExclusion } from './load-balancer-drain.js';

/** The CRD bounds status.maintenance.blockedPods. */
export const MAX_BLOCKED_PODS = 20;
/** How often to look at a node whose pods are terminating or that waits to become Ready. */
export const POLL_MS = 10_000;

export type Action =
  /** spec.unschedulable=true and annotation nodemeta.io/cordoned=<eventId>, in one conflict-checked write. */
  | { kind: 'Cordon'; eventId: string }
  /**
   * What nodemeta holds on the node given back, in one write: its cordon (spec.unschedulable=false,
   * the annotation removed) and the load-balancer exclusion label it added.
   */
  | { kind: 'Uncordon' }
  /** Eviction API calls, concurrently; each pod with its own capped grace period. */
  | { kind: 'EvictPods'; pods: PodToEvict[] }
  /**
   * `atDeadline: Delete`: DELETE of each pod (uid precondition) with its grace period, overriding the
   * PodDisruptionBudget that refused its eviction; the wiring reports each outcome (deadline-deletion.ts).
   */
  | { kind: 'DeletePods'; eventType: string; notBefore: string; pods: PodToDelete[] }
  /** status.maintenance.approve = eventId (already in the returned status); for the dry run's Event (dry-run-status.stepEvents). */
  | { kind: 'RequestApproval'; eventId: string }
  /** status.maintenance.approve removed (already so in the returned status); for the dry run's Event (dry-run-status.stepEvents). */
  | { kind: 'ClearApprovalRequest' }
  /** A Kubernetes Event on the Node. */
  | { kind: 'Emit'; type: 'Normal' | 'Warning'; reason: EventReason; message: string };

/** Whether the node takes pods, whose cordon holds it, and whether it is Ready (not notifications/formats.ts NodeFacts). */
export interface NodeScheduling {
  unschedulable: boolean;
  /** Value of the nodemeta.io/cordoned annotation: the event nodemeta cordoned the node for. */
  cordonedFor: string | undefined;
  /** nodemeta added the load-balancer exclusion label (its nodemeta.io/excluded-from-load-balancers annotation is there). */
  excludedFromLoadBalancers?: boolean;
  /** node.kubernetes.io/exclude-from-external-load-balancers is on the node, whoever added it (drain.loadBalancerDrainDelay waits after it). */
  hasExclusionLabel?: boolean;
  ready: boolean;
  /** Another controller acting on the node (decide/other-drainers.ts), by its marks. */
  otherDrainer?: OtherDrainerSeen;
}

/** A pod deleted at the deadline, and what it overrides. */
export interface PodToDelete extends PodToEvict {
  /** The refusal of its last eviction (the PodDisruptionBudget that holds it), if one was recorded. */
  refusal?: string;
}

/** What a deletion at the deadline came to: once recorded, the pod is never deleted again. */
export type DeletionOutcome = 'deleted' | 'gone' | 'forbidden' | 'error';

/** What the wiring remembers of the evictions it made (in memory: lost on restart, which is fine). */
export interface EvictionAttempt {
  uid: string;
  attempts: number;
  /** Epoch ms of the last attempt. */
  lastAttemptMs: number;
  /** Why the last attempt was refused, e.g. `PodDisruptionBudget default/web allows no disruption`. */
  blockedBy?: string;
  /**
   * With blockedBy: epoch ms from which the pod may be tried again. The ledger draws it from the one
   * jittered backoff when it records the refusal (evictor.ts), so this machine stays pure and a
   * repeated step sees the same time.
   */
  retryAtMs?: number;
  /**
   * The pod's deletion at the deadline was tried (atDeadline: Delete): never again, whatever it came
   * to, so a cache that still shows the pod running cannot cause a second delete, and a refused one
   * (403) falls back to waiting.
   */
  deletion?: DeletionOutcome;
}

export interface DrainBudgetFacts {
  /** Other nodes in phase Draining now (this node not counted). */
  draining: number;
  /** config.drainBudget(maxConcurrentDrains, managed nodes). */
  limit: number;
}

export interface ApprovalFacts {
  /** approvalReady(...) for the active event: every cluster node in its Resources is drained. */
  resourcesDrained: boolean;
  /** Event ids the agent recorded in status.approvals. */
  approvedEventIds: readonly string[];
  /**
   * Event ids the agents of other managed nodes recorded: one approval starts an Azure event for
   * every VM in its Resources, so a node whose neighbour approved it has had its maintenance.
   */
  approvedByPeers?: readonly string[];
}

export interface MaintenanceInput {
  current: MaintenanceStatus | undefined;
  /** policy.selectActive(...): the event the node acts on, or none. */
  active: PlannedAction | undefined;
  provider: ProviderName | undefined;
  node: NodeScheduling;
  /** planDrain(...) over the node's pods now. */
  pods: DrainPlan;
  evictions: readonly EvictionAttempt[];
  budget: DrainBudgetFacts;
  approval: ApprovalFacts;
  config: Pick<ControllerConfig, 'drain' | 'approve' | 'approvalWindows' | 'uncordonAfterCompletion'>;
  now: Date;
  /** False while the caches are cold: an event that seems gone is not trusted to be gone. */
  cacheWarm: boolean;
}

export interface MaintenanceStep {
  status: MaintenanceStatus;
  actions: Action[];
  requeueAfterMs?: number;
}

/**
 * The step of a node with no event and none under way: nothing to do, except give back a
 * load-balancer exclusion nodemeta left on a node that is in service again (uncordonAfterCompletion
 * off and someone uncordoned it by hand), and a cordon of nodemeta's that no maintenance on record
 * explains: the NodeMetadata was deleted while the node was held, and its event ended before the
 * agent created it again. Nothing else would ever give that node back. Not while the caches are cold.
 */
export function idleStep(current: MaintenanceStatus | undefined, node?: NodeScheduling, cacheWarm = false, uncordonAfterCompletion = false): MaintenanceStep {
  return withOtherDrainer(idleStepAlone(current, node, cacheWarm, uncordonAfterCompletion), current, node);
}

function idleStepAlone(current: MaintenanceStatus | undefined, node: NodeScheduling | undefined, cacheWarm: boolean, uncordonAfterCompletion: boolean): MaintenanceStep {
  const status = current ?? { phase: MaintenancePhase.None };
  if (!cacheWarm || node === undefined) return { status, actions: [] };
  // Schedulable again with a mark of ours still on it (someone uncordoned it, or uncordonAfterCompletion
  // is off and a person did): the marks go, so that the next event does not read them as someone's uncordon.
  if ((node.excludedFromLoadBalancers === true || node.cordonedFor !== undefined) && !node.unschedulable) return { status, actions: [{ kind: 'Uncordon' }] };
  if (uncordonAfterCompletion && node.cordonedFor !== undefined && node.ready && status.phase === MaintenancePhase.None) {
    return { status, actions: [{ kind: 'Uncordon' }, emit('Normal', EventReasons.MaintenanceCompleted, `event ${node.cordonedFor} is over (no maintenance on record for it): uncordoned`)] };
  }
  return { status, actions: [] };
}

/** The status of an event under way (any phase but None and Completed), else undefined. */
export function eventUnderWay(current: MaintenanceStatus | undefined): MaintenanceStatus | undefined {
  return current !== undefined && current.phase !== MaintenancePhase.None && current.phase !== MaintenancePhase.Completed ? current : undefined;
}

export function nextMaintenanceStep(input: MaintenanceInput): MaintenanceStep {
  return withOtherDrainer(nextStepAlone(input), input.current, input.node, input.now);
}

function nextStepAlone(input: MaintenanceInput): MaintenanceStep {
  const { current, active } = input;
  const underWay = eventUnderWay(current);
  if (active === undefined) {
    if (underWay === undefined) return idleStepAlone(current, input.node, input.cacheWarm, input.config.uncordonAfterCompletion);
    if (!input.cacheWarm) return { status: underWay, actions: [] };
    return finish(underWay, input);
  }
  if (underWay === undefined && current?.phase === MaintenancePhase.Completed && current.eventId === active.eventId) {
    // An event id is never reused (Azure: a GUID; Alibaba: an event id; a spot reclaim ends the
    // node): one that is back after it was completed is a glitch in what the agent saw, not new
    // maintenance. Draining the node again for it would be double work.
    return { status: current, actions: [] };
  }
  if (underWay?.eventId !== active.eventId) {
    // A new event, or one that replaces the event handled so far: start over from Scheduled. A
    // cordon made for the old event is re-labelled (Cordon) or undone (Uncordon) in the next steps.
    const replaced = underWay === undefined ? '' : ` (replaces ${underWay.eventId ?? 'an event'})`;
    return transition(scheduledStatus(active), [emit('Normal', EventReasons.MaintenanceScheduled, `${describe(active)}: action ${active.action}${active.due ? ' now' : ` at ${iso(active.startAt)}`}${replaced}`)]);
  }
  // The event's NotBefore as the platform gives it now: Azure may move it, and drops it once the
  // event has started (EventStatus Started). finish() tells a run from a cancellation by it, so an
  // event that started (a neighbour's approval starts it for every VM in Resources) and then left
  // the metadata service is over, not cancelled.
  const status = followNotBefore(underWay, active);
  switch (status.phase) {
    case MaintenancePhase.Scheduled:
    case MaintenancePhase.Cordoned:
      return beforeDrain(status, active, input);
    case MaintenancePhase.Draining:
    case MaintenancePhase.Drained:
    case MaintenancePhase.Failed:
      // The policy no longer drains for this event (spec.drain: Disabled, or a new configuration):
      // stop and fall back to what it asks for now. An approved event is under way: left alone.
      if (active.action !== 'Drain') return stopDrain(status, active, input);
      return status.phase === MaintenancePhase.Draining ? draining(status, active, input) : status.phase === MaintenancePhase.Drained ? drained(status, active, input) : failed(status, active, input);
    case MaintenancePhase.Approved:
      return approved(status, input);
    default:
      return { status, actions: [] };
  }
}

/** `status` with notBefore set to the active event's deadline now (absent once the event has started). */
function followNotBefore(status: MaintenanceStatus, active: PlannedAction): MaintenanceStatus {
  const notBefore = active.deadline === undefined ? undefined : iso(active.deadline);
  if (status.notBefore === notBefore) return status;
  const next: MaintenanceStatus = { ...status };
  if (notBefore === undefined) delete next.notBefore;
  else next.notBefore = notBefore;
  return next;
}

// ---- phases ----

/** Scheduled and Cordoned: decide whether the node should be cordoned, and whether to drain now. */
function beforeDrain(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput): MaintenanceStep {
  const wantsCordon = active.due && (active.action === 'Cordon' || active.action === 'Drain');
  if (!wantsCordon) {
    // Not due yet, or the policy now says Taint (or spec.drain: Disabled): no cordon of ours.
    const actions: Action[] = ownsCordon(input.node) ? [{ kind: 'Uncordon' }] : [];
    // The exclusion goes with the cordon: a later one starts the load balancers' wait again.
    const released = status.excludedTime === undefined ? status : withoutExcludedTime(status);
    if (status.phase !== MaintenancePhase.Scheduled) return transition({ ...released, phase: MaintenancePhase.Scheduled }, actions);
    return withWait({ status: released, actions }, active.due ? undefined : active.startAt - input.now.getTime());
  }
  if (givenUp(input.node)) {
    // The cluster autoscaler deletes the node: nodemeta neither cordons nor drains it (a cordon of its
    // own made before stays: the node is going). Status and the OtherDrainerActing Event say so.
    if (status.phase !== MaintenancePhase.Scheduled) return transition({ ...status, phase: MaintenancePhase.Scheduled }, []);
    return { status, actions: [] };
  }
  const cordon = ensureCordon(status, input.node);
  if (active.action === 'Drain') {
    const forceAt = drainForcedAt(active, input);
    const delayMs = input.config.drain.loadBalancerDrainDelayMs;
    // This step's cordon adds the load-balancer exclusion label: the wait counts from when the label
    // is known to be on the node, so the cordon goes first and the next look (at once) goes on.
    if (delayMs > 0 && input.config.drain.excludeFromLoadBalancers && input.node.hasExclusionLabel !== true && cordon.length > 0) return { status, actions: cordon, requeueAfterMs: 0 };
    // The load balancers' wait counts from the exclusion label, also while the node waits for budget.
    const recorded = recordExclusion(status, delayMs, input.node.hasExclusionLabel === true, input.now);
    if (input.budget.draining < input.budget.limit || input.now.getTime() >= forceAt) return startDrain(recorded, active, input, cordon);
    if (recorded.phase === MaintenancePhase.Cordoned) return withWait({ status: recorded, actions: cordon }, forceAt - input.now.getTime());
    const message = `${describe(active)}: ${input.budget.draining} of ${input.budget.limit} drains under way; cordoned, drains when budget frees up or at ${iso(forceAt)}`;
    return withWait(transition({ ...recorded, phase: MaintenancePhase.Cordoned }, [...cordon, emit('Normal', EventReasons.DrainWaitingForBudget, message)]), undefined);
  }
  if (status.phase === MaintenancePhase.Cordoned) return { status, actions: cordon };
  return transition({ ...status, phase: MaintenancePhase.Cordoned }, [...cordon, emit('Normal', EventReasons.NodeCordoned, `${describe(active)}: cordoned, pods stay (action Cordon)`)]);
}

function stopDrain(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput): MaintenanceStep {
  const stopped: MaintenanceStatus = { phase: MaintenancePhase.Scheduled, eventId: status.eventId, eventType: status.eventType };
  if (status.notBefore !== undefined) stopped.notBefore = status.notBefore;
  const next = beforeDrain(stopped, active, input);
  const clear: Action[] = status.approve === undefined ? [] : [{ kind: 'ClearApprovalRequest' }];
  const message = `${describe(active)}: the policy now says ${active.action}; drain stopped`;
  return transition(next.status, [...clear, ...next.actions.filter((action) => action.kind !== 'Emit'), emit('Normal', EventReasons.DrainStopped, message)]);
}

function startDrain(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput, cordon: Action[]): MaintenanceStep {
  const started: MaintenanceStatus = { ...status, phase: MaintenancePhase.Draining, startedTime: isoNow(input.now) };
  const counted = withPodCounts(started, input, remainingPods(input.pods));
  const budget = input.budget.draining < input.budget.limit ? '' : ' (deadline reached: drains beyond the budget)';
  if (othersEvict(input.node)) {
    // Another drainer evicts: nodemeta waits for the pods to go, so no load balancers' wait of its own.
    const other = input.node.otherDrainer!;
    return transition(counted, [...cordon, emit('Normal', EventReasons.DrainStarted, `${describe(active)}: ${other.name} drains the node (${other.mark}): nodemeta evicts nothing and waits for ${remainingPods(input.pods)} pods to go${budget}`)]);
  }
  const delayMs = input.config.drain.loadBalancerDrainDelayMs;
  const wait = loadBalancerDrain(counted, delayMs, drainForcedAt(active, input));
  const cut = wait?.cut === true && wait.fullEndMs > input.now.getTime() ? [emit('Warning', EventReasons.LoadBalancerDrainCut, cutMessage(describe(active), wait, delayMs, counted.notBefore))] : [];
  if (wait !== undefined && input.now.getTime() < wait.endMs) {
    // Draining (the drain holds its budget slot), but nothing is evicted before the wait ends.
    const waiting: MaintenanceStatus = { ...counted, loadBalancerDrainUntil: iso(wait.endMs) };
    const message = `${describe(active)}: the load balancers let go of the node until ${iso(wait.endMs)} (drain.loadBalancerDrainDelay), then evicting ${input.pods.evict.length} pods${budget}`;
    return transition(waiting, [...cordon, emit('Normal', EventReasons.DrainStarted, message), ...cut]);
  }
  const actions: Action[] = [...cordon, ...evictions(input, active, new Set()), emit('Normal', EventReasons.DrainStarted, `${describe(active)}: evicting ${input.pods.evict.length} pods${budget}`), ...cut];
  return transition(counted, actions);
}

/**
 * Draining while the load balancers let go of the node: no eviction, and no Drained either (a node
 * with nothing to evict still forwards LoadBalancer traffic to pods elsewhere, and Drained leads to
 * the approval that starts the maintenance). The end moves with NotBefore and the configuration; a
 * cut the status did not show yet gets its Event. Once the wait is over: the status without it, and
 * that Event if it is due, for the step that evicts.
 */
function waitForLoadBalancers(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput, cordon: Action[]): { step: MaintenanceStep } | { over: MaintenanceStatus; actions: Action[] } {
  if (status.loadBalancerDrainUntil === undefined) return { over: status, actions: [] };
  const delayMs = input.config.drain.loadBalancerDrainDelayMs;
  const wait = loadBalancerDrain(status, delayMs, drainForcedAt(active, input));
  const nowMs = input.now.getTime();
  const cutDue = wait !== undefined && wait.cut && wait.fullEndMs > nowMs && !announcedCut(status, wait);
  const cut = cutDue ? [emit('Warning', EventReasons.LoadBalancerDrainCut, cutMessage(describe(active), wait, delayMs, status.notBefore))] : [];
  if (wait === undefined || nowMs >= wait.endMs) {
    const over: MaintenanceStatus = { ...status };
    delete over.loadBalancerDrainUntil;
    return { over, actions: cut };
  }
  const counted = withPodCounts(status, input, remainingPods(input.pods));
  const until = iso(wait.endMs);
  if (until === status.loadBalancerDrainUntil) return { step: withWait({ status: counted, actions: cordon }, wait.endMs - nowMs) };
  return { step: transition({ ...counted, loadBalancerDrainUntil: until }, [...cordon, ...cut]) };
}

function draining(current: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput): MaintenanceStep {
  const waited = waitForLoadBalancers(current, active, input, ensureCordon(current, input.node));
  if ('step' in waited) return waited.step;
  const status = waited.over;
  const cordon = [...ensureCordon(status, input.node), ...waited.actions];
  const remaining = remainingPods(input.pods);
  if (remaining === 0) {
    const drained = withPodCounts({ ...status, phase: MaintenancePhase.Drained, drainedTime: isoNow(input.now) }, input, 0);
    delete drained.lastError;
    return transition(drained, [...cordon, emit('Normal', EventReasons.Drained, `${describe(active)}: all pods evicted`)]);
  }
  // The eviction timeout counts from the first eviction, after the load balancers' wait.
  const startedMs = status.startedTime === undefined ? input.now.getTime() : Date.parse(status.startedTime);
  const evictingFromMs = Math.max(startedMs, loadBalancerDrain(status, input.config.drain.loadBalancerDrainDelayMs, drainForcedAt(active, input))?.endMs ?? startedMs);
  const timeoutAt = evictingFromMs + input.config.drain.evictionTimeoutMs;
  const counted = withPodCounts(status, input, remaining);
  if (input.now.getTime() >= timeoutAt) {
    const error = `drain timed out after ${Math.round(input.config.drain.evictionTimeoutMs / 1000)}s with ${remaining} pods left${blockedSummary(counted.blockedPods)}`;
    return transition({ ...counted, phase: MaintenancePhase.Failed, lastError: error }, [...cordon, emit('Warning', EventReasons.DrainFailed, `${describe(active)}: ${error}; the node stays cordoned`)]);
  }
  const deletions = deletionsAtDeadline(active, input);
  const deleting = new Set(deletions.due.map((pod) => pod.uid));
  const actions: Action[] = [...cordon, ...evictions(input, active, deleting), ...deletePods(active, deletions.due)];
  const waits = [timeoutAt - input.now.getTime(), nextRetryMs(input), criticalHoldMs(input, active), deletions.waitMs, POLL_MS];
  return withWait({ status: counted, actions }, minDefined(waits));
}

function drained(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput): MaintenanceStep {
  const cordon = ensureCordon(status, input.node);
  const eventId = active.eventId;
  if (input.approval.approvedEventIds.includes(eventId)) {
    const approved: MaintenanceStatus = { ...status, phase: MaintenancePhase.Approved };
    delete approved.approve;
    delete approved.approvalWaitsUntil;
    const actions: Action[] = [...cordon, ...(status.approve === undefined ? [] : [{ kind: 'ClearApprovalRequest' } as const])];
    return transition(approved, [...actions, emit('Normal', EventReasons.MaintenanceApproved, `${describe(active)}: approved, the platform may start it now`)]);
  }
  if (!approvable(active, input)) {
    // A request made before the autoscaler started deleting the node is taken back: no approval fight.
    if (status.approve === eventId && givenUp(input.node)) {
      const withdrawn = { ...status };
      delete withdrawn.approve;
      return transition(withdrawn, [...cordon, { kind: 'ClearApprovalRequest' }, emit('Normal', EventReasons.ApprovalWithdrawn, `${describe(active)}: the cluster autoscaler deletes the node`)]);
    }
    return { status, actions: cordon };
  }
  const window = approvalWindowState(input.config.approvalWindows, input.now);
  if (status.approve === eventId) {
    // Asked already. Take the request back if a node in Resources stopped being drained before the
    // agent acted on it (approving would start maintenance on a node with pods), or if the approval
    // window closed meanwhile.
    if (input.approval.resourcesDrained && window.open) return { status, actions: cordon };
    const withdrawn = { ...status };
    delete withdrawn.approve;
    const why = input.approval.resourcesDrained ? `the approval window closed (${describeWindows(input.config.approvalWindows)})` : "a node in the event's Resources is no longer drained";
    return transition(withdrawn, [...cordon, { kind: 'ClearApprovalRequest' }, emit('Normal', EventReasons.ApprovalWithdrawn, `${describe(active)}: ${why}`)]);
  }
  if (!input.approval.resourcesDrained) return { status, actions: cordon };
  if (!window.open) return waitForWindow(status, active, input, window.opensAt, cordon);
  const requested: MaintenanceStatus = { ...status, approve: eventId };
  delete requested.approvalWaitsUntil;
  return transition(requested, [...cordon, { kind: 'RequestApproval', eventId }, emit('Normal', EventReasons.ApprovalRequested, `${describe(active)}: every node in the event's Resources is drained`)]);
}

/**
 * Drained, approvable, but outside every approval window: no request; status says until when, and
 * one Event says why (written when the wait starts, not on every reconcile). The platform starts the
 * event at NotBefore if no window opens before it.
 */
function waitForWindow(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput, opensAt: number | undefined, cordon: Action[]): MaintenanceStep {
  const until = opensAt === undefined ? undefined : iso(opensAt);
  const waitMs = opensAt === undefined ? undefined : opensAt - input.now.getTime();
  // Told already (windows always open within a week, so `until` is set whenever there are windows).
  if (status.approvalWaitsUntil === until) return withWait({ status, actions: cordon }, waitMs ?? POLL_MS);
  const waiting: MaintenanceStatus = { ...status };
  if (until === undefined) delete waiting.approvalWaitsUntil;
  else waiting.approvalWaitsUntil = until;
  const notBefore = status.notBefore === undefined ? '' : `; otherwise the platform starts it at NotBefore ${status.notBefore}`;
  const message = `${describe(active)}: every node in the event's Resources is drained; early approval waits for the approval window ${until === undefined ? '(none opens within a week)' : `opening at ${until}`} (${describeWindows(input.config.approvalWindows)})${notBefore}`;
  return transition(waiting, [...cordon, emit('Normal', EventReasons.ApprovalWaitingForWindow, message)]);
}

function approved(status: MaintenanceStatus, input: MaintenanceInput): MaintenanceStep {
  return { status, actions: ensureCordon(status, input.node) };
}

function failed(status: MaintenanceStatus, active: PlannedAction, input: MaintenanceInput): MaintenanceStep {
  // The pods may go by other means (an admin, a PDB that loosened and a controller scaling down).
  if (remainingPods(input.pods) === 0) {
    const drained = withPodCounts({ ...status, phase: MaintenancePhase.Drained, drainedTime: isoNow(input.now) }, input, 0);
    delete drained.lastError;
    return transition(drained, [...ensureCordon(status, input.node), emit('Normal', EventReasons.Drained, `${describeStatus(status)}: the pods left after the drain had failed`)]);
  }
  // The eviction timeout does not end `atDeadline: Delete`: the deadline still comes.
  const deletions = deletionsAtDeadline(active, input);
  return withWait({ status, actions: [...ensureCordon(status, input.node), ...deletePods(active, deletions.due)] }, deletions.waitMs);
}

/** The event is gone (ran, or was cancelled): once the node is Ready, undo what nodemeta did. */
function finish(status: MaintenanceStatus, input: MaintenanceInput): MaintenanceStep {
  if (!input.node.ready) return withWait({ status, actions: [] }, POLL_MS);
  // Another drainer still acts on the node: lifting nodemeta's cordon now would lift theirs too
  // (one spec.unschedulable). The maintenance ends once its mark is gone (the Node watch says when).
  if (input.config.uncordonAfterCompletion && ownsCordon(input.node) && othersEvict(input.node)) return withWait({ status, actions: [] }, POLL_MS);
  const actions: Action[] = [];
  // Any nodemeta annotation counts, not only one naming this event: no event is active any more, and
  // a cordon left for an event nodemeta replaced would otherwise stay forever. No annotation: someone
  // else cordoned the node, and it stays cordoned.
  if (input.config.uncordonAfterCompletion && ownsCordon(input.node)) actions.push({ kind: 'Uncordon' });
  if (status.approve !== undefined) actions.push({ kind: 'ClearApprovalRequest' });
  const completed: MaintenanceStatus = { ...status, phase: MaintenancePhase.Completed, completedTime: isoNow(input.now) };
  delete completed.approve;
  delete completed.approvalWaitsUntil;
  delete completed.blockedPods;
  delete completed.loadBalancerDrainUntil;
  const notBefore = status.notBefore === undefined ? NaN : Date.parse(status.notBefore);
  // Gone before NotBefore means cancelled, unless it was approved, here or on a neighbour the event
  // also named: approval starts it early, for every VM in its Resources.
  const approved =
    status.phase === MaintenancePhase.Approved ||
    (status.eventId !== undefined && (input.approval.approvedEventIds.includes(status.eventId) || (input.approval.approvedByPeers ?? []).includes(status.eventId)));
  const cancelled = !approved && !Number.isNaN(notBefore) && input.now.getTime() < notBefore;
  const kept = input.node.unschedulable && actions.length === 0 ? '; the node stays cordoned (not cordoned by nodemeta for this event)' : '';
  actions.push(cancelled ? emit('Normal', EventReasons.MaintenanceCancelled, `${describeStatus(status)} was cancelled${kept}`) : emit('Normal', EventReasons.MaintenanceCompleted, `${describeStatus(status)} is over${kept}`));
  return { status: completed, actions };
}

// ---- other controllers on the node (docs/maintenance.md, "Other controllers on the node") ----

/** The cluster autoscaler deletes the node: nodemeta gives it up (no cordon, eviction or approval). */
function givenUp(node: NodeScheduling): boolean {
  return node.otherDrainer?.role === 'deletes';
}

/** Another controller evicts the node's pods, or deletes the node (an unrecorded cordon alone does neither). */
function othersEvict(node: NodeScheduling): boolean {
  return node.otherDrainer?.role === 'drains' || node.otherDrainer?.role === 'deletes';
}

/**
 * `step` with status.maintenance.otherDrainer as the node shows it now, and, for a maintenance under
 * way, one Event when another drainer starts acting on it and one when someone uncordons the node
 * nodemeta cordoned (recorded in uncordonedTime, so a later step does not say it again).
 */
function withOtherDrainer(step: MaintenanceStep, current: MaintenanceStatus | undefined, node: NodeScheduling | undefined, now?: Date): MaintenanceStep {
  if (node === undefined) return step;
  const other = node.otherDrainer;
  let status = step.status;
  if (status.otherDrainer !== other?.name) {
    status = { ...status };
    if (other === undefined) delete status.otherDrainer;
    else status.otherDrainer = other.name;
  }
  const underWay = eventUnderWay(status);
  if (underWay === undefined) return status === step.status ? step : { ...step, status };
  const actions = [...step.actions];
  const sameEvent = eventUnderWay(current)?.eventId === status.eventId;
  if (other !== undefined && (!sameEvent || current?.otherDrainer !== other.name)) {
    actions.push(emit('Normal', EventReasons.OtherDrainerActing, `${describeStatus(status)}: ${other.name} acts on the node (${other.mark}); ${OTHER_DRAINER_CONDUCT[other.role]}`));
  }
  if (now !== undefined && uncordonedUnderNodemeta(node) && status.uncordonedTime === undefined && !step.actions.some((action) => action.kind === 'Uncordon')) {
    status = { ...status, uncordonedTime: isoNow(now) };
    actions.push(emit('Warning', EventReasons.UncordonedByOther, `${describeStatus(status)}: someone uncordoned the node nodemeta had cordoned; nodemeta does not cordon it again (its NoSchedule taint keeps new pods off) and goes on with the maintenance`));
  }
  return { ...step, status, actions };
}

/** What nodemeta does while another drainer of each kind acts (the Event says it). */
const OTHER_DRAINER_CONDUCT: Record<OtherDrainerSeen['role'], string> = {
  drains: 'nodemeta does not evict or uncordon while it does, still labels and reports, and approves once the node is empty',
  deletes: 'nodemeta gives the node up: no cordon, eviction or approval',
  cordons: 'nodemeta drains as usual and never lifts that cordon',
};

// ---- helpers ----

function withoutExcludedTime(status: MaintenanceStatus): MaintenanceStatus {
  const next = { ...status };
  delete next.excludedTime;
  return next;
}

/** nodemeta's cordon for any event (the annotation is there), or its load-balancer exclusion. */
function ownsCordon(node: NodeScheduling): boolean {
  return node.cordonedFor !== undefined || node.excludedFromLoadBalancers === true;
}

/**
 * Cordon{eventId} when the node is schedulable, or cordoned by nodemeta for another event (re-label
 * it). A node cordoned without our annotation was cordoned by someone else: left exactly as it is,
 * so that nodemeta never uncordons it later.
 */
function ensureCordon(status: MaintenanceStatus, node: NodeScheduling): Action[] {
  const eventId = status.eventId ?? '';
  // Not on a node the autoscaler deletes; not again on a node someone uncordoned under nodemeta's
  // cordon (its NoSchedule taint keeps new pods off; cordoning back would fight them).
  if (givenUp(node) || uncordonedUnderNodemeta(node)) return [];
  if (!node.unschedulable) return [{ kind: 'Cordon', eventId }];
  if (node.cordonedFor !== undefined && node.cordonedFor !== eventId) return [{ kind: 'Cordon', eventId }];
  return [];
}

/**
 * A node waiting for budget drains anyway once the time left before NotBefore is what a drain needs
 * (maxGracePeriod plus the margin); an event without NotBefore (already started) drains at once.
 */
function drainForcedAt(active: PlannedAction, input: MaintenanceInput): number {
  if (active.deadline === undefined) return input.now.getTime();
  return active.deadline - input.config.drain.maxGracePeriodMs - GRACE_MARGIN_MS;
}

function approvable(active: PlannedAction, input: MaintenanceInput): boolean {
  if (givenUp(input.node)) return false;
  // Only Azure scheduled events can be approved (StartRequests); Alibaba and spot reclaims cannot.
  // One without NotBefore has started (a neighbour's approval, its time came, or posted Started):
  // under way, nothing to approve, and a request made before it started is not withdrawn when a
  // neighbour finishes first (finish() clears it).
  return input.config.approve === 'AfterDrain' && input.provider === 'azure' && active.eventType !== SPOT_TERMINATION && active.deadline !== undefined;
}

function remainingPods(pods: DrainPlan): number {
  return pods.evict.length + pods.blocked.length + pods.terminating;
}

/**
 * EvictPods for the pods never tried, or refused and past their backoff; pods terminating are not
 * in plan.evict. A pod whose eviction was accepted is never evicted again: the API server has
 * deleted it, and a cache that still shows it running is only behind (a second eviction of the same
 * pod is what the fleet bench counted as a re-eviction).
 */
function evictions(input: MaintenanceInput, active: PlannedAction, deleting: ReadonlySet<string>): Action[] {
  // Another drainer evicts the node's pods (or deletes the node): nodemeta does not evict as well.
  if (othersEvict(input.node)) return [];
  const attempts = new Map(input.evictions.map((attempt) => [attempt.uid, attempt]));
  const nowMs = input.now.getTime();
  const holdCritical = criticalHoldMs(input, active) !== undefined;
  const due = input.pods.evict.filter((pod) => {
    if (deleting.has(pod.uid) || (holdCritical && pod.critical === true)) return false;
    const attempt = attempts.get(pod.uid);
    // Deleted already; one whose deletion was refused (403) or failed waits as with Wait: evictions go on.
    if (deletedAtDeadline(attempt)) return false;
    return attempt === undefined || (attempt.blockedBy !== undefined && (attempt.retryAtMs ?? nowMs) <= nowMs);
  });
  if (due.length === 0) return [];
  return [{ kind: 'EvictPods', pods: due }];
}

/**
 * How long the critical pods of the plan are still held back (docs/maintenance.md, "Eviction
 * order"), or undefined when they are not: they wait while another pod the drain moves is on the
 * node (to be evicted, or terminating), so that DNS and CNI helpers keep serving it until the rest
 * is gone; never past the moment the time left before NotBefore is what their eviction needs
 * (maxGracePeriod plus the margin, as drainForcedAt), and not for pods the configuration keeps on
 * the node (plan.blocked: they never go). An event without NotBefore has started: no hold.
 */
function criticalHoldMs(input: MaintenanceInput, active: PlannedAction): number | undefined {
  const { pods } = input;
  if (active.deadline === undefined || !pods.evict.some((pod) => pod.critical === true)) return undefined;
  const othersLeft = pods.evict.some((pod) => pod.critical !== true) || pods.terminating - (pods.terminatingCritical ?? 0) > 0;
  const releaseAt = active.deadline - input.config.drain.maxGracePeriodMs - GRACE_MARGIN_MS;
  const holdMs = releaseAt - input.now.getTime();
  return othersLeft && holdMs > 0 ? holdMs : undefined;
}

/**
 * `atDeadline: Delete` (docs/maintenance.md, "The end of a blocked drain"): the pods the drain would
 * evict that are still on the node (eviction refused, or not accepted yet) and not yet tried for a
 * deletion, whose moment has come: the time left before NotBefore is their grace period
 * (min(their own, maxGracePeriod)) plus GRACE_MARGIN_MS. `waitMs`: until the next one's moment.
 * Pods the configuration keeps (plan.blocked) are never deleted; nor without a NotBefore.
 */
function deletionsAtDeadline(active: PlannedAction, input: MaintenanceInput): { due: PodToDelete[]; waitMs: number | undefined } {
  const deadline = active.deadline;
  // Another drainer carries the drain (or deletes the node): its pods are its business, not ours.
  if (active.atDeadline !== 'Delete' || deadline === undefined || othersEvict(input.node)) return { due: [], waitMs: undefined };
  const attempts = new Map(input.evictions.map((attempt) => [attempt.uid, attempt]));
  const nowMs = input.now.getTime();
  const due: PodToDelete[] = [];
  let waitMs: number | undefined;
  for (const pod of input.pods.evict) {
    const attempt = attempts.get(pod.uid);
    // Its eviction was accepted (the cache is only behind), or its deletion was tried already.
    if ((attempt !== undefined && attempt.blockedBy === undefined) || attempt?.deletion !== undefined) continue;
    const deleteAt = deadline - (pod.deadlineGracePeriodSeconds ?? pod.gracePeriodSeconds) * 1000 - GRACE_MARGIN_MS;
    if (deleteAt <= nowMs) due.push(attempt?.blockedBy === undefined ? { ...pod } : { ...pod, refusal: attempt.blockedBy });
    else waitMs = Math.min(waitMs ?? Infinity, deleteAt - nowMs);
  }
  return { due, waitMs };
}

function deletePods(active: PlannedAction, pods: PodToDelete[]): Action[] {
  if (pods.length === 0 || active.deadline === undefined) return [];
  return [{ kind: 'DeletePods', eventType: active.eventType, notBefore: iso(active.deadline), pods }];
}

/** The pod was deleted at the deadline (the cache may still show it running for a moment). */
function deletedAtDeadline(attempt: EvictionAttempt | undefined): boolean {
  return attempt?.deletion === 'deleted' || attempt?.deletion === 'gone';
}

function nextRetryMs(input: MaintenanceInput): number | undefined {
  const pending = new Set(input.pods.evict.map((pod) => pod.uid));
  const waits = input.evictions.filter((attempt) => pending.has(attempt.uid) && attempt.blockedBy !== undefined && !deletedAtDeadline(attempt)).map((attempt) => (attempt.retryAtMs ?? input.now.getTime()) - input.now.getTime());
  return waits.length === 0 ? undefined : Math.max(0, Math.min(...waits));
}

/** Pod counts and the pods that hold the drain up: refused evictions (PDB) first, then configuration. */
function withPodCounts(status: MaintenanceStatus, input: MaintenanceInput, remaining: number): MaintenanceStatus {
  const total = Math.max(status.totalPods ?? 0, remaining);
  const next: MaintenanceStatus = { ...status, totalPods: total, pendingPods: remaining, evictedPods: total - remaining };
  const attempts = new Map(input.evictions.map((attempt) => [attempt.uid, attempt]));
  const refused: BlockedPod[] = input.pods.evict.flatMap((pod) => {
    const blockedBy = attempts.get(pod.uid)?.blockedBy;
    return blockedBy === undefined ? [] : [{ namespace: pod.namespace, name: pod.name, reason: blockedBy }];
  });
  const blocked = [...refused, ...input.pods.blocked].slice(0, MAX_BLOCKED_PODS);
  if (blocked.length > 0) next.blockedPods = blocked;
  else delete next.blockedPods;
  return next;
}

function blockedSummary(blocked: readonly BlockedPod[] | undefined): string {
  if (blocked === undefined || blocked.length === 0) return '';
  return `; blocked: ${blocked.slice(0, 3).map((pod) => `${pod.namespace}/${pod.name} (${pod.reason})`).join(', ')}${blocked.length > 3 ? ', …' : ''}`;
}

function scheduledStatus(action: PlannedAction): MaintenanceStatus {
  const status: MaintenanceStatus = { phase: MaintenancePhase.Scheduled, eventId: action.eventId, eventType: action.eventType };
  if (action.deadline !== undefined) status.notBefore = iso(action.deadline);
  return status;
}

function transition(status: MaintenanceStatus, actions: Action[]): MaintenanceStep {
  return { status, actions, requeueAfterMs: 0 };
}

function withWait(step: MaintenanceStep, waitMs: number | undefined): MaintenanceStep {
  if (waitMs === undefined || step.requeueAfterMs !== undefined) return step;
  return { ...step, requeueAfterMs: Math.max(0, waitMs) };
}

function minDefined(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((value) => value !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}

function emit(type: 'Normal' | 'Warning', reason: EventReason, message: string): Action {
  return { kind: 'Emit', type, reason, message };
}

function describe(active: PlannedAction): string {
  return `${active.eventType} ${active.eventId}`;
}

/** `Reboot EV-1`: the event a status is about, for messages. */
export function describeStatus(status: MaintenanceStatus): string {
  return [status.eventType ?? 'event', status.eventId].filter((part) => part !== undefined).join(' ');
}

function iso(ms: number): string {
  return rfc3339Seconds(ms);
}

function isoNow(now: Date): string {
  return iso(now.getTime());
}
