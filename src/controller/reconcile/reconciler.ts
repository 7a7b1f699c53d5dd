// reconcile(nodeName): read the Node and its NodeMetadata from the informer caches, compute the
// labels, taints and maintenance status the node should have with the pure functions next door,
// and write only what differs. Nothing changed → no request at all. Running it twice in a row
// writes nothing the second time (STYLE.md, habit 1).
//
// Order of writes: labels, then taints (each based on the object the previous write returned,
// so a taint `test` is never judged against a stale list), then the maintenance step
// (maintenance/state-machine.ts): its cordon or uncordon, then the NodeMetadata status that records
// it and the step's Events, then the evictions it asks for (after the status, so a node's Draining
// phase, which the drain budget counts, is visible before any of its pods is evicted).
// Conflicts: a write that loses a race (409, or a failed JSON-patch `test`) is re-planned from a
// fresh read a few times; if it keeps losing, reconcile throws and the work queue retries the key
// with backoff. Nothing is ever forced onto the Node.
// Dry run (config dryRun): the cache and writer are dry-run.ts's simulation, which decides and reports
// each node write instead of sending it; the reports of real writes here then stay quiet, and the
// status holds what a real run would reach, marked (dry-run-status.ts).

import { ConditionReasons, EventReasons } from '../../api/event-reasons.js';
import { Conditions, FIELD_MANAGER_CONTROLLER } from '../../api/names.js';
import { MaintenancePhase, observationOf, setCondition, type Condition, type ConditionUpdate, type ControllerStatus, type MaintenanceStatus, type NodeMetadata } from '../../api/nodemetadata.js';
import type { Observation } from '../../api/observation.js';
import type { EventRecorder, ObjectReference } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { Clock } from '../../time/clock.js';
import type { Semaphore } from '../../runtime/semaphore.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { type ClusterCache, type NodeState, type NodeWriter } from '../cache/cluster-state.js';
import { drainBudget, type ControllerConfig } from '../config/config.js';
import { describeEvictions } from '../dry-run/dry-run.js';
import { conditionInDryRun, maintenanceToDecide, maintenanceToStore, stepEvents, type AfterDryRunFacts } from '../dry-run/dry-run-status.js';
import { heldByNodemeta } from '../decide/cordon.js';
import { desiredLabels, labeledCondition, ownedLabelKeys, planLabelChanges, type DesiredLabels, type LabelPlan } from '../decide/labels.js';
import { approvalReady } from '../maintenance/approval.js';
import { planDrain, type DrainPod } from '../maintenance/drain-plan.js';
import { EvictionLedger, evictPods, type EvictionReport } from '../maintenance/evictor.js';
import { describeStatus, eventUnderWay, idleStep, nextMaintenanceStep, type Action, type MaintenanceInput, type MaintenanceStep, type NodeScheduling } from '../maintenance/state-machine.js';
import type { WaveGate } from '../maintenance/wave-gate.js';
import type { NotificationOutbox } from '../notifications/notifier.js';
import { OUT_OF_SERVICE_TAINT, outOfServiceFor } from '../decide/out-of-service.js';
import { describeProtection, missingProtection } from '../decide/protection.js';
import { ReadYourWrites } from '../cache/read-your-writes.js';
import { sameJson } from '../decide/same-json.js';
import { StatusReports } from '../write/status-reports.js';
import { msUntilStart, type PlannedAction } from '../decide/policy.js';
import { nodeEvents } from '../decide/active-event.js';
import { desiredTaints, isNodemetaTaint, mergeTaints, taintText, withOurOtherTaints, type Taint } from '../decide/taints.js';
import { retryOnConflict, type ConflictRetry } from '../write/retry-on-conflict.js';

/** The counters reconcile moves; ControllerMetrics provides them (metrics.ts). */
export interface ReconcileCounters {
  labelsApplied: { inc(value?: number): void };
  labelsRemoved: { inc(value?: number): void };
  invalidLabels: { inc(value?: number): void };
  evictions?: { inc(labels: { result: string }, value?: number): void };
  evictionsHeld?: { inc(value?: number): void };
  drainDuration?: { observe(seconds: number): void };
  eventToCordon?: { observe(seconds: number): void };
  maintenanceTransitions?: { inc(labels: { phase: string }): void };
}

export interface ReconcilerOptions {
  cache: ClusterCache;
  writer: NodeWriter;
  events: EventRecorder;
  /** The configuration in force (reloads take effect on the next reconcile). */
  config: () => ControllerConfig;
  clock: Clock;
  logger: Logger;
  counters?: ReconcileCounters;
  /** Re-plans from a fresh read after a lost race, this many times, before backing off (default 3). */
  conflictRetries?: number;
  /** Evictions in flight across every node at once (--max-concurrent-evictions); unlimited when absent. */
  evictionLimit?: Semaphore;
  /** Holds evictions while the wave's nodes are still being tainted and cordoned (maintenance/wave-gate.ts). */
  waveGate?: WaveGate;
  /**
   * Status writes that are only a report (conditions) go off the reconcile's path, this many at
   * once (status-reports.ts); absent, each reconcile waits for its own.
   */
  statusReportWriters?: number;
  /**
   * Maintenance notifications (notifications/notifier.ts): a step's transitions are recorded in the
   * status it writes, and what is stored and unsent goes to the sinks. Absent: none.
   */
  notifications?: NotificationOutbox;
}

/** How soon to look again at a node whose maintenance waits for the caches to be warm. */
const COLD_CACHE_RETRY_MS = 1_000;
/** How soon to look again at a node whose pods are being listed (the list's arrival requeues it sooner). */
const PODS_PENDING_RETRY_MS = 2_000;
/** Phases in which a drain reads the node's pods. */
const PODS_PHASES: readonly string[] = [MaintenancePhase.Draining, MaintenancePhase.Failed];

/** The controller's condition types: it applies these and only these in status.conditions. */
const CONTROLLER_CONDITIONS: readonly string[] = [Conditions.labeled, Conditions.drained];

export class NodeReconciler {
  private readonly writtenNodes = new ReadYourWrites<NodeState>();
  private readonly writtenNodeMetadatas = new ReadYourWrites<NodeMetadata>();
  private readonly evictions = new EvictionLedger();
  /**
   * Nodes this process has put into Draining. Planning a node's step and taking a drain slot happen
   * with no await in between, so two workers can never both take the last slot; the cache alone
   * would show neither node Draining until their status writes come back through the watch.
   */
  private readonly drainSlots = new Set<string>();
  /** When this process first saw each node's current event (epoch ms), for the event → cordon metric. */
  private readonly eventSeen = new Map<string, { eventId: string; ms: number }>();
  private readonly statusReports: StatusReports | undefined;

  constructor(private readonly options: ReconcilerOptions) {
    if (options.statusReportWriters !== undefined) {
      this.statusReports = new StatusReports({
        write: (name, status) => options.writer.applyControllerStatus(name, status, { report: true }),
        // What the cache shows when the report is stored is what it replaced.
        written: (name, stored) => this.writtenNodeMetadatas.wrote(name, options.cache.nodeMetadata(name), stored),
        clock: options.clock,
        logger: options.logger,
        concurrency: options.statusReportWriters,
      });
    }
  }

  /** The process stops: reports not yet written are dropped. */
  stop(): void {
    this.statusReports?.stop();
  }

  async reconcile(nodeName: string): Promise<ReconcileResult> {
    const { cache } = this.options;
    const cachedNode = this.writtenNodes.read(nodeName, cache.node(nodeName));
    // A deleted Node takes its labels and taints with it; its NodeMetadata goes by garbage collection.
    // A spot VM reclaimed mid-drain goes this way too: its drain slot must not stay taken.
    if (cachedNode === undefined) {
      this.forgetNode(nodeName);
      return {};
    }
    let node: NodeState = cachedNode;
    const nodeMetadata = this.writtenNodeMetadatas.read(nodeName, cache.nodeMetadata(nodeName));
    const cacheWarm = cache.warm();
    const config = this.options.config();
    const now = new Date(this.options.clock.now());
    const observation = observationOf(nodeMetadata?.status);
    // No observation (a person deleted the NodeMetadata, or the agent has just created it again and
    // not yet published) says nothing about the VM: until the agent publishes, nothing of ours is
    // removed, as while the caches are cold. Else the labels would flap and the drain's NoSchedule
    // taint would go while the node drains.
    const mayRemove = cacheWarm && observation !== undefined;

    const desired = desiredLabels(observation, config.labels);
    const labels = await this.reconcileLabels(node, desired, mayRemove, config.dryRun);
    if (labels.node === undefined) return {};
    node = this.remember(node, labels.node);

    // The event the node acts on, decided once (decide/active-event.ts): the taints and the maintenance follow it.
    const { rules, plans, afterDryRun, active } = nodeEvents(node, nodeMetadata, config, now);
    const tainted = await this.reconcileTaints(node, desiredTaints(plans, active), mayRemove, config.dryRun);
    if (tainted === undefined) return {};
    node = this.remember(node, tainted);
    if (mayRemove) {
      const outOfService = await this.reconcileOutOfService(node, outOfServiceFor(node, observation, rules, now, config.outOfServiceTaint), config.dryRun);
      if (outOfService === undefined) return {};
      node = this.remember(node, outOfService);
    }

    let maintenanceWait: number | undefined;
    if (nodeMetadata !== undefined) {
      maintenanceWait = await this.reconcileMaintenance(node, nodeMetadata, observation, desired, labels.plan, active, afterDryRun, { now, cacheWarm, config });
    } else {
      this.forgetNode(nodeName);
    }
    const waits = [msUntilStart(plans, now), maintenanceWait].filter((wait) => wait !== undefined);
    if (waits.length === 0) return {};
    // The work queue takes 0 as "no requeue": a transition that wants another look at once gets 1 ms.
    return { requeueAfter: Math.max(1, Math.min(...waits)) };
  }

  // ---- the fast path: taint and cordon, nothing else ----

  /** Whether the node lacks the taint or cordon its maintenance calls for now (cheap: the caches only). */
  needsProtection(nodeName: string): boolean {
    const { cache } = this.options;
    const node = this.writtenNodes.read(nodeName, cache.node(nodeName));
    if (node === undefined) return false;
    const nodeMetadata = this.writtenNodeMetadatas.read(nodeName, cache.nodeMetadata(nodeName));
    const protection = missingProtection(node, nodeMetadata, this.options.config(), new Date(this.options.clock.now()));
    // The event → cordon clock starts when the controller first sees the need.
    if (protection?.cordonFor !== undefined) this.noticeEvent(nodeName, protection.cordonFor);
    return protection !== undefined;
  }

  /**
   * The fast path (protection.ts): the node's NoSchedule maintenance taint and its cordon, in one
   * guarded write that goes ahead of other requests. No labels, status, Events or evictions: those
   * follow in reconcile(), which then finds the node protected already.
   */
  async protect(nodeName: string): Promise<ReconcileResult> {
    const { cache, writer, logger } = this.options;
    const node = this.writtenNodes.read(nodeName, cache.node(nodeName));
    const nodeMetadata = this.writtenNodeMetadatas.read(nodeName, cache.nodeMetadata(nodeName));
    const now = new Date(this.options.clock.now());
    const config = this.options.config();
    const protect = async (node: NodeState): Promise<void> => {
      const protection = missingProtection(node, nodeMetadata, config, now);
      if (protection === undefined) return;
      const written = await writer.protect(node, protection);
      const what = describeProtection(node, protection);
      this.remember(node, written);
      // In dry run the writer reported what it did not send.
      if (!config.dryRun) {
        logger.info('node protected', { node: nodeName, what, eventId: protection.cordonFor });
        this.options.events.record(objectReferenceOf(written), 'Normal', protection.cordonFor === undefined ? EventReasons.TaintsUpdated : EventReasons.Cordoned, `maintenance due: ${what}`);
        if (protection.cordonFor !== undefined) this.observeCordon(nodeName, protection.cordonFor, this.options.clock.now());
      }
    };
    if (node !== undefined) await retryOnConflict(node, 'taint and cordon', protect, this.conflictRetry());
    this.options.waveGate?.protectedNode(nodeName);
    return {};
  }

  /** event → cordon: from the moment this process first saw the node's event (noticeEvent). */
  private observeCordon(nodeName: string, eventId: string, nowMs: number): void {
    const seen = this.eventSeen.get(nodeName);
    if (seen?.eventId !== eventId) return;
    this.options.counters?.eventToCordon?.observe((nowMs - seen.ms) / 1000);
    this.eventSeen.delete(nodeName);
  }

  /** The node's event `eventId` was first seen now: the clock of event → cordon starts. */
  private noticeEvent(nodeName: string, eventId: string | undefined): void {
    if (eventId === undefined || this.eventSeen.get(nodeName)?.eventId === eventId) return;
    this.eventSeen.set(nodeName, { eventId, ms: this.options.clock.now() });
  }

  /** `after` replaced `before` (a write, or a fresh read after a conflict): read it until the cache catches up. */
  private remember(before: NodeState, after: NodeState): NodeState {
    if (after !== before) this.writtenNodes.wrote(after.metadata.name, before, after);
    return after;
  }

  // ---- labels ----

  private async reconcileLabels(start: NodeState, desired: DesiredLabels, cacheWarm: boolean, dryRun: boolean): Promise<{ node: NodeState | undefined; plan: LabelPlan }> {
    const plan = (node: NodeState) => planLabelChanges(node.metadata.labels, ownedLabelKeys(node.metadata.managedFields, FIELD_MANAGER_CONTROLLER), desired, { cacheWarm });
    let current = plan(start);
    const apply = async (node: NodeState): Promise<{ node: NodeState; plan: LabelPlan }> => {
      current = plan(node);
      if (!current.changed) return { node, plan: current };
      const written = await this.options.writer.applyLabels(node.metadata.name, current.apply);
      if (!dryRun) this.reportLabelWrite(written, current);
      // The apply's result is the new truth; planning from it must give "nothing to do".
      return { node: written, plan: plan(written) };
    };
    return (await retryOnConflict(start, 'labels', apply, this.conflictRetry())) ?? { node: undefined, plan: current };
  }

  private reportLabelWrite(node: NodeState, plan: LabelPlan): void {
    const set = Object.entries(plan.set).map(([key, value]) => `${key}=${value}`);
    const parts = [set.length > 0 ? `set ${set.join(', ')}` : '', plan.remove.length > 0 ? `removed ${plan.remove.join(', ')}` : ''].filter((part) => part !== '');
    this.options.counters?.labelsApplied.inc(set.length);
    this.options.counters?.labelsRemoved.inc(plan.remove.length);
    this.options.logger.info('labels applied', { node: node.metadata.name, set: plan.set, removed: plan.remove });
    this.options.events.record(objectReferenceOf(node), 'Normal', EventReasons.LabelsApplied, parts.join('; '));
  }

  // ---- taints ----

  private async reconcileTaints(start: NodeState, wanted: readonly Taint[], cacheWarm: boolean, dryRun: boolean): Promise<NodeState | undefined> {
    const patch = async (node: NodeState): Promise<NodeState> => {
      const current = node.spec?.taints;
      const next = mergeTaints(current, cacheWarm ? wanted : withOurOtherTaints(current, wanted));
      if (next === undefined) return node;
      const written = await this.options.writer.patchTaints(node.metadata.name, current, next);
      if (!dryRun) this.reportTaintWrite(written, current, next);
      return written;
    };
    return retryOnConflict(start, 'taints', patch, this.conflictRetry());
  }

  private reportTaintWrite(node: NodeState, before: readonly Taint[] | undefined, after: readonly Taint[]): void {
    const old = new Set((before ?? []).filter(isNodemetaTaint).map(taintText));
    const now = new Set(after.filter(isNodemetaTaint).map(taintText));
    const added = [...now].filter((taint) => !old.has(taint));
    const removed = [...old].filter((taint) => !now.has(taint));
    const parts = [added.length > 0 ? `added ${added.join(', ')}` : '', removed.length > 0 ? `removed ${removed.join(', ')}` : ''].filter((part) => part !== '');
    this.options.logger.info('taints updated', { node: node.metadata.name, added, removed });
    this.options.events.record(objectReferenceOf(node), 'Normal', EventReasons.TaintsUpdated, parts.join('; '));
  }

  /** The out-of-service taint as outOfServiceFor wants it (out-of-service.ts): one guarded write. */
  private async reconcileOutOfService(start: NodeState, wantedFor: string | undefined, dryRun: boolean): Promise<NodeState | undefined> {
    const write = async (before: NodeState): Promise<NodeState> => {
      // The writer sends nothing and gives `before` back when the node is already as wanted.
      const written = await this.options.writer.setOutOfService(before, wantedFor);
      if (written === before) return before;
      const fields = { node: before.metadata.name, taint: taintText(OUT_OF_SERVICE_TAINT) };
      if (dryRun) {
        // The writer reported what it did not send.
      } else if (wantedFor !== undefined) {
        this.options.logger.warn('node tainted out-of-service: its event ended the VM and the node is NotReady', { ...fields, eventId: wantedFor });
        this.options.events.record(objectReferenceOf(before), 'Warning', EventReasons.OutOfService, `${fields.taint} added: event ${wantedFor} has started and the node is NotReady; its pods are deleted and their volumes detached`);
      } else {
        this.options.logger.info('out-of-service taint removed', fields);
        this.options.events.record(objectReferenceOf(before), 'Normal', EventReasons.BackInService, `${fields.taint} removed: the node is Ready again, or its event is gone`);
      }
      return written;
    };
    return retryOnConflict(start, 'out-of-service taint', write, this.conflictRetry());
  }

  // ---- maintenance and NodeMetadata status ----

  /**
   * One step of the node's maintenance state machine: its node writes (cordon, uncordon), the status
   * that records them, then its evictions and Events. Returns when to look at the node again.
   */
  private async reconcileMaintenance(
    start: NodeState,
    nodeMetadata: NodeMetadata,
    observation: Observation | undefined,
    desired: DesiredLabels,
    plan: LabelPlan,
    active: PlannedAction | undefined,
    afterDryRun: AfterDryRunFacts,
    context: { now: Date; cacheWarm: boolean; config: ControllerConfig },
  ): Promise<number | undefined> {
    const name = start.metadata.name;
    // A report handed over and not yet seen in the cache counts as written (read-your-writes):
    // else every reconcile until then would hand over the same report again, with a new time.
    const reported = this.statusReports?.latest(name);
    const status = reported === undefined ? (nodeMetadata.status ?? {}) : { ...nodeMetadata.status, conditions: reported.conditions, observedGeneration: reported.observedGeneration, notifications: reported.notifications };
    // Pending notifications as stored (a new leader's first look sends what the old one left).
    this.options.notifications?.track(name, nodeMetadata);
    // Cold caches (an informer relisting after an error) may show a node without its pods or a peer
    // without its phase: a drain would look finished, a budget free. Nothing moves until they are warm.
    if (!context.cacheWarm) return COLD_CACHE_RETRY_MS;
    const { dryRun } = context.config;
    const decideFrom = withMaintenanceToDecide(nodeMetadata, dryRun, afterDryRun);
    const decideAndWrite = async (from: NodeState): Promise<{ node: NodeState; step: MaintenanceStep } | 'pods-pending'> => {
      const decided = this.decideMaintenance(from, decideFrom, observation, active, context);
      if (decided === 'pods-pending') return decided;
      // Synchronously with the decision (see drainSlots).
      if (decided.status.phase === MaintenancePhase.Draining) this.drainSlots.add(name);
      else this.drainSlots.delete(name);
      return { node: await this.applyNodeActions(from, decided.actions, context.now, dryRun), step: decided };
    };
    // A fresh read after a lost race is read until the cache catches up.
    const reread = async (lost: NodeState) => {
      const fresh = await this.options.writer.readNode(name);
      return fresh === undefined ? undefined : this.remember(lost, fresh);
    };
    const written = await retryOnConflict(start, 'cordon', decideAndWrite, this.conflictRetry(reread));
    if (written === undefined) return undefined;
    if (written === 'pods-pending') return PODS_PENDING_RETRY_MS;
    const { node, step } = written;

    const generation = nodeMetadata.metadata.generation;
    const ours = (status.conditions ?? []).filter((condition) => CONTROLLER_CONDITIONS.includes(condition.type));
    const labeledNow = labeledCondition(desired, plan, generation);
    const labeled = dryRun ? conditionInDryRun(labeledNow) : labeledNow;
    const conditions = withDrainedCondition(setCondition(ours, labeled, context.now), step.status, generation, context.now, dryRun);
    // In dry run: marked, and `wouldApprove` instead of `approve` (dry-run-status.ts).
    const maintenance = maintenanceToStore(step.status, status.maintenance, dryRun);
    const next: ControllerStatus = { maintenance, conditions };
    if (generation !== undefined) next.observedGeneration = generation;
    // The step's transitions are recorded in this same write (a transition always changes the
    // maintenance status, so it is never a report); notifications sent since are left out.
    const notifications = this.options.notifications?.next(name, status.notifications, { ...step, status: maintenance }, context.now);
    if (notifications !== undefined) next.notifications = notifications;
    const unchanged =
      sameJson(conditions, ours) &&
      sameJson(status.maintenance, maintenance) &&
      sameJson(status.notifications, notifications) &&
      (generation === undefined || status.observedGeneration === generation);
    if (!unchanged) {
      // Conditions alone (or a first phase None) are a report: like Events they wait behind the
      // work, off the reconcile's path when a reporter is configured. A maintenance step is state
      // others wait on: written here, never overtaken by an older report (supersede).
      const idle = (maintenance: MaintenanceStatus | undefined) => maintenance === undefined || maintenance.phase === MaintenancePhase.None;
      const report = sameJson(status.maintenance, maintenance) || (idle(status.maintenance) && idle(maintenance));
      let recorded = true;
      if (report && this.statusReports !== undefined) {
        recorded = this.statusReports.submit(name, next);
      } else {
        await this.statusReports?.supersede(name);
        const written = await this.options.writer.applyControllerStatus(name, next, { report });
        this.writtenNodeMetadatas.wrote(name, nodeMetadata, written);
        this.options.notifications?.track(name, written);
      }
      if (recorded && !sameJson(conditions, ours)) this.reportLabeledChange(node, ours, labeledNow, desired, plan);
      if (recorded) this.reportPhaseChange(node, status.maintenance, maintenance);
    }

    // The step's Events once its status is written, before its evictions: DrainStarted comes before
    // any EvictionBlocked it leads to.
    for (const event of stepEvents(step.actions, dryRun, decideFrom.status?.maintenance?.approve)) {
      this.options.events.record(objectReferenceOf(node), event.type, event.reason, event.message);
    }
    let heldMs: number | undefined;
    let evictedInDryRun = false;
    for (const action of step.actions) {
      if (action.kind !== 'EvictPods') continue;
      // Other nodes of the wave are not all cordoned yet: an evicted pod could land on one of them.
      heldMs = this.options.waveGate?.holdMs(name);
      if (heldMs !== undefined) {
        this.options.counters?.evictionsHeld?.inc();
        continue;
      }
      this.reportEvictions(node, await evictPods(name, action.pods, { writer: this.options.writer, ledger: this.evictions, clock: this.options.clock, limit: this.options.evictionLimit }), dryRun);
      evictedInDryRun ||= dryRun;
    }
    if (step.status.phase !== MaintenancePhase.Draining && step.status.phase !== MaintenancePhase.Failed) {
      this.evictions.forget(name);
      this.options.waveGate?.forget(name);
      this.options.cache.releasePods(name);
    }
    // In dry run the pods of the evictions are gone at once, and no pod watch will say so: look again now.
    if (evictedInDryRun) return 0;
    // A refused eviction is tried again after its backoff: the next step's wait counts it.
    if (heldMs === undefined) return step.requeueAfterMs;
    return step.requeueAfterMs === undefined ? heldMs : Math.min(step.requeueAfterMs, heldMs);
  }

  /**
   * The next maintenance step from the caches. A node with no event and none under way skips the
   * fleet-wide facts (budget, approvals) altogether: at 5,000 nodes they cost a pass over every node.
   * A node whose step reads its pods gets them from their own watch (drain-pods.ts), started here
   * on first use; until that watch has listed, nothing is decided ('pods-pending').
   */
  private decideMaintenance(
    node: NodeState,
    nodeMetadata: NodeMetadata,
    observation: Observation | undefined,
    active: PlannedAction | undefined,
    context: { now: Date; cacheWarm: boolean; config: ControllerConfig },
  ): MaintenanceStep | 'pods-pending' {
    const current = nodeMetadata.status?.maintenance;
    if (active === undefined && eventUnderWay(current) === undefined) {
      this.options.cache.releasePods(node.metadata.name);
      // No observation yet (a NodeMetadata created again, empty): no event is not news that it ended.
      return idleStep(current, nodeScheduling(node), context.cacheWarm && observation !== undefined, context.config.uncordonAfterCompletion);
    }
    const input = this.maintenanceInput(node, nodeMetadata, observation, active, context, []);
    const first = nextMaintenanceStep(input);
    // The step without pods tells whether this step reads them: a drain that starts, or one under way.
    const readsPods = PODS_PHASES.includes(current?.phase ?? '') || first.status.phase === MaintenancePhase.Draining;
    if (!readsPods) {
      this.options.cache.releasePods(node.metadata.name);
      return first;
    }
    const pods = this.options.cache.podsOn(node.metadata.name);
    if (pods === undefined) return 'pods-pending';
    return nextMaintenanceStep({ ...input, pods: planDrain(pods, context.config.drain, context.now, active?.deadline) });
  }

  /** What this process remembers of a node that is gone (or has no NodeMetadata any more). */
  private forgetNode(name: string): void {
    this.options.notifications?.forget(name);
    this.drainSlots.delete(name);
    this.evictions.forget(name);
    this.eventSeen.delete(name);
    this.options.waveGate?.forget(name);
    this.options.cache.releasePods(name);
  }

  /** Everything nextMaintenanceStep needs, from the caches (read through our own writes). */
  private maintenanceInput(
    node: NodeState,
    nodeMetadata: NodeMetadata,
    observation: Observation | undefined,
    active: PlannedAction | undefined,
    context: { now: Date; cacheWarm: boolean; config: ControllerConfig },
    pods: DrainPod[],
  ): MaintenanceInput {
    const { cache } = this.options;
    const { config, now } = context;
    const name = node.metadata.name;
    const fleet = cache.fleet();
    const drainingPeers = new Set([...this.drainSlots, ...fleet.draining()]);
    drainingPeers.delete(name);
    const event = active === undefined ? undefined : observation?.events.find((candidate) => candidate.id === active.eventId);
    let resourcesDrained = false;
    if (event !== undefined) {
      // The phases of the nodes the event names, read through our own writes: approving on a stale
      // "Drained" of a node we just moved on would start maintenance on a node with pods.
      const index = fleet.vmIndex();
      const named = event.resources.map((vm) => index.nodesByVmName.get(vm.toLowerCase())).filter((peer) => peer !== undefined);
      // A real run does not count a peer's simulated Drained of a dry run (dry-run-status.ts).
      const phaseOf = (peer: string) => (peer === name ? nodeMetadata.status?.maintenance : maintenanceToDecide(this.writtenNodeMetadatas.read(peer, cache.nodeMetadata(peer))?.status?.maintenance, config.dryRun));
      const phases = new Map(named.map((peer) => [peer, phaseOf(peer)]));
      resourcesDrained = approvalReady({ id: event.id, resources: event.resources }, index, phases);
    }
    const handledEventId = nodeMetadata.status?.maintenance?.eventId;
    return {
      current: nodeMetadata.status?.maintenance,
      active,
      provider: observation?.provider,
      node: nodeScheduling(node),
      pods: planDrain(pods, config.drain, now, active?.deadline),
      evictions: this.evictions.attempts(name),
      budget: { draining: drainingPeers.size, limit: drainBudget(config.drain.maxConcurrentDrains, fleet.managedCount()) },
      approval: {
        resourcesDrained,
        approvedEventIds: (nodeMetadata.status?.approvals ?? []).map((approval) => approval.eventId),
        approvedByPeers: handledEventId !== undefined && fleet.approvedByOthers(handledEventId, name) ? [handledEventId] : [],
      },
      config,
      now,
      cacheWarm: context.cacheWarm,
    };
  }

  /** Cordon and Uncordon, each one guarded write; a lost race throws WriteConflictError for a re-plan. */
  private async applyNodeActions(start: NodeState, actions: readonly Action[], now: Date, dryRun: boolean): Promise<NodeState> {
    let node = start;
    const name = node.metadata.name;
    // In dry run the writer reports what it did not send: no log of a write here.
    for (const action of actions) {
      if (action.kind === 'Cordon') {
        const excludeFromLoadBalancers = this.options.config().drain.excludeFromLoadBalancers;
        node = this.remember(node, await this.options.writer.cordon(node, action.eventId, { excludeFromLoadBalancers }));
        if (dryRun) continue;
        this.options.logger.info('node cordoned', { node: name, eventId: action.eventId, excludedFromLoadBalancers: heldByNodemeta(node).excludedFromLoadBalancers });
        this.observeCordon(name, action.eventId, now.getTime());
      } else if (action.kind === 'Uncordon') {
        const held = heldByNodemeta(node);
        if (held.cordonedFor === undefined && !held.excludedFromLoadBalancers) continue;
        node = this.remember(node, await this.options.writer.release(node));
        if (dryRun) continue;
        if (held.cordonedFor !== undefined) this.options.logger.info('node uncordoned', { node: name, cordonedFor: held.cordonedFor, loadBalancerExclusionRemoved: held.excludedFromLoadBalancers });
        else this.options.logger.info('load-balancer exclusion removed', { node: name });
      }
    }
    return node;
  }

  private reportEvictions(node: NodeState, reports: readonly EvictionReport[], dryRun: boolean): void {
    const name = node.metadata.name;
    if (dryRun) {
      // Nothing was evicted: one Event tells which pods a real run would have evicted.
      const pods = reports.filter((report) => report.outcome.kind === 'evicted').map((report) => report.pod);
      if (pods.length === 0) return;
      this.options.logger.info('dry run: evictions not sent', { node: name, pods: pods.map((pod) => `${pod.namespace}/${pod.name}`) });
      this.options.events.record(objectReferenceOf(node), 'Normal', EventReasons.DryRun, describeEvictions(pods));
      return;
    }
    for (const { pod, outcome, newlyBlocked } of reports) {
      this.options.counters?.evictions?.inc({ result: outcome.kind });
      if (outcome.kind === 'evicted') this.options.logger.info('pod evicted', { node: name, pod: `${pod.namespace}/${pod.name}`, gracePeriodSeconds: pod.gracePeriodSeconds });
      if ((outcome.kind === 'blocked' || outcome.kind === 'error') && newlyBlocked) {
        this.options.logger.warn('eviction refused, retrying with backoff', { node: name, pod: `${pod.namespace}/${pod.name}`, reason: outcome.reason });
        this.options.events.record(objectReferenceOf(node), 'Warning', EventReasons.EvictionBlocked, `pod ${pod.namespace}/${pod.name}: ${outcome.reason}`);
      }
    }
  }

  private reportPhaseChange(node: NodeState, before: MaintenanceStatus | undefined, after: MaintenanceStatus): void {
    const name = node.metadata.name;
    if ((before?.phase ?? MaintenancePhase.None) === after.phase && before?.eventId === after.eventId) return;
    this.options.counters?.maintenanceTransitions?.inc({ phase: after.phase });
    this.options.logger.info('maintenance phase', { node: name, from: before?.phase ?? 'None', to: after.phase, eventId: after.eventId, eventType: after.eventType, ...(after.dryRun === true ? { dryRun: true } : {}) });
    if (after.phase === MaintenancePhase.Scheduled && after.eventId !== undefined && before?.eventId !== after.eventId) this.noticeEvent(name, after.eventId);
    // A simulated drain took no time worth measuring.
    if (after.dryRun !== true && after.phase === MaintenancePhase.Drained && before?.phase === MaintenancePhase.Draining && after.startedTime !== undefined && after.drainedTime !== undefined) {
      this.options.counters?.drainDuration?.observe((Date.parse(after.drainedTime) - Date.parse(after.startedTime)) / 1000);
    }
    if (after.phase === MaintenancePhase.Completed || after.phase === MaintenancePhase.None) this.eventSeen.delete(name);
  }

  private reportLabeledChange(node: NodeState, before: readonly Condition[], labeled: ReturnType<typeof labeledCondition>, desired: DesiredLabels, plan: LabelPlan): void {
    if (labeled.status !== 'False') return;
    const previous = before.find((condition) => condition.type === Conditions.labeled);
    if (previous?.status === 'False' && previous.message === labeled.message) return;
    const problems = desired.invalid.length + plan.skipped.length;
    this.options.counters?.invalidLabels.inc(problems);
    this.options.logger.warn('labels skipped', { node: node.metadata.name, invalid: desired.invalid, ownedElsewhere: plan.skipped });
    this.options.events.record(objectReferenceOf(node), 'Warning', EventReasons.InvalidLabelSkipped, labeled.message);
  }

  // ---- conflicts ----

  /** Lost races re-plan from a fresh read (write/retry-on-conflict.ts), conflictRetries times. */
  private conflictRetry(reread?: ConflictRetry['reread']): ConflictRetry {
    return { retries: this.options.conflictRetries ?? 3, reread: reread ?? ((lost) => this.options.writer.readNode(lost.metadata.name)), logger: this.options.logger };
  }
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

function objectReferenceOf(node: NodeState): ObjectReference {
  const ref: ObjectReference = { apiVersion: 'v1', kind: 'Node', name: node.metadata.name };
  if (node.metadata.uid !== undefined) ref.uid = node.metadata.uid;
  return ref;
}

/** The node as the state machine sees it. */
function nodeScheduling(node: NodeState): NodeScheduling {
  const held = heldByNodemeta(node);
  return { unschedulable: node.spec?.unschedulable === true, cordonedFor: held.cordonedFor, excludedFromLoadBalancers: held.excludedFromLoadBalancers, ready: node.ready ?? false };
}

/** `nodeMetadata` with the maintenance status the state machine decides from (dry-run-status.ts). */
function withMaintenanceToDecide(nodeMetadata: NodeMetadata, dryRun: boolean, afterDryRun: AfterDryRunFacts): NodeMetadata {
  const stored = nodeMetadata.status?.maintenance;
  const decideFrom = maintenanceToDecide(stored, dryRun, afterDryRun);
  if (decideFrom === stored) return nodeMetadata;
  const status = { ...nodeMetadata.status };
  if (decideFrom === undefined) delete status.maintenance;
  else status.maintenance = decideFrom;
  return { ...nodeMetadata, status };
}
