// reconcile(nodeName), in its steps: gather the node's view once (the Node and its NodeMetadata from
// the informer caches, read through our own writes), decide with the pure functions of decide/ and
// maintenance/, write only what differs (node-fields.ts, then the maintenance step), report each
// write (reporter.ts), and say when to look again. Nothing changed → no request at all. Running it twice in a row
// writes nothing the second time (docs/architecture.md, "The flow").
//
// Order of writes: labels, then taints (each based on the object the previous write returned,
// so a taint `test` is never judged against a stale list), then the maintenance step
// (maintenance/state-machine.ts): its cordon or uncordon, then the NodeMetadata status that records
// it and the step's Events, then the evictions it asks for (after the status, so a node's Draining
// phase, which the drain budget counts, is visible before any of its pods is evicted).
// Conflicts: a write that loses a race (409, or a failed JSON-patch `test`) is re-planned from a
// fresh read a few times; if it keeps losing, reconcile throws and the work queue retries the key
// with backoff. Nothing is ever forced onto the Node.
// Dry run (config dryRun): the cache and writer are dry-run/dry-run.ts's simulation, which decides and
// reports each node write instead of sending it; the reporter of writes is then the quiet one, and
// the status holds what a real run would reach, marked (dry-run/dry-run-status.ts).

import { MaintenancePhase, observationOf, type ControllerStatus, type NodeMetadata } from '../../api/nodemetadata.js';
import type { Observation } from '../../api/observation.js';
import type { EventRecorder } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { Clock } from '../../time/clock.js';
import type { Semaphore } from '../../runtime/semaphore.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import type { ClusterCache, NodeWriter } from '../cache/cluster-state.js';
import type { NodeState } from '../cache/node-state.js';
import { ReadYourWrites } from '../cache/read-your-writes.js';
import type { ControllerConfig } from '../config/config.js';
import { nodeEvents, type NodeEvents } from '../decide/active-event.js';
import { heldByNodemeta } from '../decide/cordon.js';
import { desiredLabels, type DesiredLabels, type LabelPlan } from '../decide/labels.js';
import { outOfServiceFor } from '../decide/out-of-service.js';
import { msUntilStart, type PlannedAction } from '../decide/policy.js';
import { describeProtection, missingProtection } from '../decide/protection.js';
import { desiredTaints } from '../decide/taints.js';
import { stepEvents } from '../dry-run/dry-run-status.js';
import { planDrain } from '../maintenance/drain-plan.js';
import { EvictionLedger, evictPods } from '../maintenance/evictor.js';
import { deletePodsAtDeadline, deletionEvents } from '../maintenance/deadline-deletion.js';
import { eventUnderWay, idleStep, nextMaintenanceStep, type Action, type MaintenanceStep } from '../maintenance/state-machine.js';
import type { WaveGate } from '../maintenance/wave-gate.js';
import type { NotificationOutbox } from '../notifications/notifier.js';
import type { ReadinessLook } from '../readiness/drain-readiness.js';
import { reportHoldMs } from '../readiness/readiness-update.js';
import { withDrainAtRisk } from '../readiness/drain-at-risk.js';
import { sameJson } from '../decide/same-json.js';
import { retryOnConflict, type ConflictRetry } from '../write/retry-on-conflict.js';
import { StatusReports } from '../write/status-reports.js';
import { nextControllerStatus, nodeScheduling, withMaintenanceToDecide } from './controller-status.js';
import { maintenanceInput, type MaintenanceFacts } from './maintenance-input.js';
import { writeLabels, writeOutOfService, writeTaints, type FieldWrites } from './node-fields.js';
import { Reporter, type ReconcileCounters, type WriteReporter } from './reporter.js';

export type { ReconcileCounters };

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
  /**
   * Drain readiness (readiness/drain-readiness.ts): the node's verdict from the indexes, and what
   * the metrics count of it. Absent: as when drainReadiness.enabled is false.
   */
  readiness?: ReadinessSource;
}

/** What the reconciler reads of drain readiness, and tells it back for the metrics. */
export interface ReadinessSource {
  look(nodeName: string, config: ControllerConfig): ReadinessLook;
  /** The node's look, and whether an event is pending on it (readiness/readiness-tally.ts). */
  observed(nodeName: string, look: ReadinessLook, eventPending: boolean): void;
  forget(nodeName: string): void;
}

/** How soon to look again at a node whose maintenance waits for the caches to be warm. */
const COLD_CACHE_RETRY_MS = 1_000;
/** How soon to look again at a node whose pods are being listed (the list's arrival requeues it sooner). */
const PODS_PENDING_RETRY_MS = 2_000;
/** Phases in which a drain reads the node's pods. */
const PODS_PHASES: readonly string[] = [MaintenancePhase.Draining, MaintenancePhase.Failed];

/** What one reconcile knows of its node, gathered once at its start. */
interface NodeView {
  name: string;
  node: NodeState;
  nodeMetadata: NodeMetadata | undefined;
  observation: Observation | undefined;
  cacheWarm: boolean;
  config: ControllerConfig;
  now: Date;
  /**
   * Whether anything of ours may be removed. No observation (a person deleted the NodeMetadata, or
   * the agent has just created it again and not yet published) says nothing about the VM: until the
   * agent publishes, nothing of ours is removed, as while the caches are cold. Else the labels would
   * flap and the drain's NoSchedule taint would go while the node drains.
   */
  mayRemove: boolean;
  /** The reporter of this run's writes (quiet in dry run). */
  report: WriteReporter;
}

/** The node after its own fields are written, with what the maintenance step builds on. */
interface FieldsWritten {
  node: NodeState;
  desired: DesiredLabels;
  labelPlan: LabelPlan;
  /** The node's events and the active one (decide/active-event.ts). */
  events: NodeEvents;
}

type StepContext = { now: Date; cacheWarm: boolean; config: ControllerConfig };

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
  private readonly statusReports: StatusReports | undefined;
  private readonly reporter: Reporter;

  constructor(private readonly options: ReconcilerOptions) {
    this.reporter = new Reporter({ events: options.events, logger: options.logger, clock: options.clock, ...(options.counters === undefined ? {} : { counters: options.counters }) });
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
    const view = this.gather(nodeName);
    // A deleted Node takes its labels and taints with it; its NodeMetadata goes by garbage collection.
    // A spot VM reclaimed mid-drain goes this way too: its drain slot must not stay taken.
    if (view === undefined) {
      this.forgetNode(nodeName);
      return {};
    }
    const fields = await this.writeNodeFields(view);
    if (fields === undefined) return {};
    let maintenanceWait: number | undefined;
    if (view.nodeMetadata !== undefined) maintenanceWait = await this.reconcileMaintenance(view, view.nodeMetadata, fields);
    else this.forgetNode(nodeName);
    return requeue([msUntilStart(fields.events.plans, view.now), maintenanceWait]);
  }

  /** The node's view, read once from the caches through our own writes; undefined when the Node is gone. */
  private gather(name: string): NodeView | undefined {
    const { cache } = this.options;
    const node = this.writtenNodes.read(name, cache.node(name));
    if (node === undefined) return undefined;
    const nodeMetadata = this.writtenNodeMetadatas.read(name, cache.nodeMetadata(name));
    const cacheWarm = cache.warm();
    const config = this.options.config();
    const observation = observationOf(nodeMetadata?.status);
    const now = new Date(this.options.clock.now());
    return { name, node, nodeMetadata, observation, cacheWarm, config, now, mayRemove: cacheWarm && observation !== undefined, report: this.reporter.writes(config.dryRun) };
  }

  /**
   * The node's labels, then its taints for the active event, then its out-of-service taint: each
   * write based on the node the previous one returned, so a taint `test` is never judged against a
   * stale list. Undefined when the node went away meanwhile.
   */
  private async writeNodeFields(view: NodeView): Promise<FieldsWritten | undefined> {
    const { config, now, mayRemove, observation } = view;
    const ctx: FieldWrites = { writer: this.options.writer, retry: this.conflictRetry(), report: view.report };
    const desired = desiredLabels(observation, config.labels);
    const labels = await writeLabels(ctx, view.node, desired, mayRemove);
    if (labels.node === undefined) return undefined;
    let node = this.remember(view.node, labels.node);
    // The event the node acts on, decided once: the taints and the maintenance follow it.
    const events = nodeEvents(node, view.nodeMetadata, config, now);
    const tainted = await writeTaints(ctx, node, desiredTaints(events.plans, events.active), mayRemove);
    if (tainted === undefined) return undefined;
    node = this.remember(node, tainted);
    if (mayRemove) {
      const outOfService = await writeOutOfService(ctx, node, outOfServiceFor(node, observation, events.rules, now, config.outOfServiceTaint));
      if (outOfService === undefined) return undefined;
      node = this.remember(node, outOfService);
    }
    return { node, desired, labelPlan: labels.plan, events };
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
    if (protection?.cordonFor !== undefined) this.reporter.cordonClock.noticeEvent(nodeName, protection.cordonFor);
    return protection !== undefined;
  }

  /**
   * The fast path (decide/protection.ts): the node's NoSchedule maintenance taint and its cordon, in
   * one guarded write that goes ahead of other requests. No labels, status, Events or evictions:
   * those follow in reconcile(), which then finds the node protected already.
   */
  async protect(nodeName: string): Promise<ReconcileResult> {
    const { cache, writer } = this.options;
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
      this.reporter.writes(config.dryRun).protected(written, protection, what);
    };
    if (node !== undefined) await retryOnConflict(node, 'taint and cordon', protect, this.conflictRetry());
    this.options.waveGate?.protectedNode(nodeName);
    return {};
  }

  /** `after` replaced `before` (a write, or a fresh read after a conflict): read it until the cache catches up. */
  private remember(before: NodeState, after: NodeState): NodeState {
    if (after !== before) this.writtenNodes.wrote(after.metadata.name, before, after);
    return after;
  }

  // ---- maintenance and NodeMetadata status ----

  /**
   * One step of the node's maintenance state machine: its node writes (cordon, uncordon), the status
   * that records them, then its Events and evictions. Returns when to look at the node again.
   */
  private async reconcileMaintenance(view: NodeView, nodeMetadata: NodeMetadata, fields: FieldsWritten): Promise<number | undefined> {
    const { name, config } = view;
    // A report handed over and not yet seen in the cache counts as written (read-your-writes):
    // else every reconcile until then would hand over the same report again, with a new time.
    const reported = this.statusReports?.latest(name);
    const stored =
      reported === undefined
        ? (nodeMetadata.status ?? {})
        : { ...nodeMetadata.status, conditions: reported.conditions, observedGeneration: reported.observedGeneration, notifications: reported.notifications, drainReadiness: reported.drainReadiness };
    // Pending notifications as stored (a new leader's first look sends what the old one left).
    this.options.notifications?.track(name, nodeMetadata);
    // Cold caches (an informer relisting after an error) may show a node without its pods or a peer
    // without its phase: a drain would look finished, a budget free. Nothing moves until they are warm.
    if (!view.cacheWarm) return COLD_CACHE_RETRY_MS;
    const decideFrom = withMaintenanceToDecide(nodeMetadata, config.dryRun, fields.events.afterDryRun);
    const written = await this.decideAndWriteStep(view, fields, decideFrom);
    if (written === undefined) return undefined;
    if (written === 'pods-pending') return PODS_PENDING_RETRY_MS;
    const readiness = this.options.readiness?.look(name, config);
    if (readiness !== undefined) this.options.readiness?.observed(name, readiness, fields.events.active !== undefined);
    // An event seen on a node that is not drain-ready: one DrainAtRisk Event and notification with it.
    const { node } = written;
    // Deletions at the deadline go before the status, so that their Events and notifications are
    // recorded with it, saying what each came to (the phase is Draining or Failed already).
    const deletions = await this.deleteAtDeadline(view, node, written.step);
    const step = withDrainAtRisk({ ...written.step, actions: [...written.step.actions, ...deletions] }, readiness, view.now);
    const status = nextControllerStatus({
      ...(readiness === undefined ? {} : { readiness }),
      stored,
      generation: nodeMetadata.metadata.generation,
      desired: fields.desired,
      plan: fields.labelPlan,
      step,
      dryRun: config.dryRun,
      now: view.now,
      notifications: (maintenance) => this.options.notifications?.next(name, stored.notifications, { ...step, status: maintenance }, view.now),
    });
    // A report (no maintenance step in it) waits for the node's first readiness verdict a while, so
    // that a cold start writes each status once, with DrainReady, not twice (docs/scaling.md).
    const heldMs = status.unchanged || !status.report ? undefined : reportHoldMs(readiness, view.now.getTime());
    if (!status.unchanged && heldMs === undefined && (await this.writeStatus(name, nodeMetadata, status.next, status.report))) {
      if (!sameJson(status.next.conditions, status.ours)) this.reporter.labeledChanged(node, status.ours, status.labeledNow, fields.desired, fields.labelPlan);
      this.reporter.phaseChanged(node, stored.maintenance, status.maintenance);
    }
    // The step's Events once its status is written, before its evictions: DrainStarted comes before
    // any EvictionBlocked it leads to.
    this.reporter.stepEvents(node, stepEvents(step.actions, config.dryRun, decideFrom.status?.maintenance?.approve));
    const next = await this.evict(view, node, step);
    // The informers' sync requeues every node; the hold's end is the fallback if it never comes.
    return soonest([next, heldMs]);
  }

  /** Decides the step and makes its node writes (cordon, uncordon), from a fresh read after a lost race. */
  private async decideAndWriteStep(view: NodeView, fields: FieldsWritten, decideFrom: NodeMetadata): Promise<{ node: NodeState; step: MaintenanceStep } | 'pods-pending' | undefined> {
    const { name, observation } = view;
    const context: StepContext = { now: view.now, cacheWarm: view.cacheWarm, config: view.config };
    const decideAndWrite = async (from: NodeState): Promise<{ node: NodeState; step: MaintenanceStep } | 'pods-pending'> => {
      const decided = this.decideMaintenance(from, decideFrom, observation, fields.events.active, context);
      if (decided === 'pods-pending') return decided;
      // Synchronously with the decision (see drainSlots).
      if (decided.status.phase === MaintenancePhase.Draining) this.drainSlots.add(name);
      else this.drainSlots.delete(name);
      return { node: await this.applyNodeActions(from, decided.actions, view), step: decided };
    };
    // A fresh read after a lost race is read until the cache catches up.
    const reread = async (lost: NodeState) => {
      const fresh = await this.options.writer.readNode(name);
      return fresh === undefined ? undefined : this.remember(lost, fresh);
    };
    return retryOnConflict(fields.node, 'cordon', decideAndWrite, this.conflictRetry(reread));
  }

  /**
   * Conditions alone (or a first phase None) are a report: like Events they wait behind the work,
   * off the reconcile's path when a reporter is configured. A maintenance step is state others wait
   * on: written here, never overtaken by an older report (supersede). Whether it was recorded.
   */
  private async writeStatus(name: string, nodeMetadata: NodeMetadata, next: ControllerStatus, report: boolean): Promise<boolean> {
    if (report && this.statusReports !== undefined) return this.statusReports.submit(name, next);
    await this.statusReports?.supersede(name);
    const written = await this.options.writer.applyControllerStatus(name, next, { report });
    this.writtenNodeMetadatas.wrote(name, nodeMetadata, written);
    this.options.notifications?.track(name, written);
    return true;
  }

  /**
   * The step's deletions at the deadline (atDeadline: Delete; maintenance/deadline-deletion.ts),
   * each recorded in the ledger whatever it comes to; the Events that say what they came to.
   */
  private async deleteAtDeadline(view: NodeView, node: NodeState, step: MaintenanceStep): Promise<Action[]> {
    const events: Action[] = [];
    for (const action of step.actions) {
      if (action.kind !== 'DeletePods') continue;
      const reports = await deletePodsAtDeadline(view.name, action, { writer: this.options.writer, ledger: this.evictions, clock: this.options.clock });
      view.report.deletedAtDeadline(node, action, reports);
      events.push(...deletionEvents(action, reports, view.now));
    }
    return events;
  }

  /** The step's evictions, unless the wave holds them; when to look again. */
  private async evict(view: NodeView, node: NodeState, step: MaintenanceStep): Promise<number | undefined> {
    const { name } = view;
    const dryRun = view.config.dryRun;
    let heldMs: number | undefined;
    let evictedInDryRun = dryRun && step.actions.some((action) => action.kind === 'DeletePods');
    for (const action of step.actions) {
      if (action.kind !== 'EvictPods') continue;
      // Other nodes of the wave are not all cordoned yet: an evicted pod could land on one of them.
      heldMs = this.options.waveGate?.holdMs(name);
      if (heldMs !== undefined) {
        this.options.counters?.evictionsHeld?.inc();
        continue;
      }
      view.report.evicted(node, await evictPods(name, action.pods, { writer: this.options.writer, ledger: this.evictions, clock: this.options.clock, limit: this.options.evictionLimit }));
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
    context: StepContext,
  ): MaintenanceStep | 'pods-pending' {
    const current = nodeMetadata.status?.maintenance;
    if (active === undefined && eventUnderWay(current) === undefined) {
      this.options.cache.releasePods(node.metadata.name);
      // No observation yet (a NodeMetadata created again, empty): no event is not news that it ended.
      return idleStep(current, nodeScheduling(node), context.cacheWarm && observation !== undefined, context.config.uncordonAfterCompletion);
    }
    const facts: MaintenanceFacts = {
      fleet: this.options.cache.fleet(),
      drainSlots: this.drainSlots,
      evictions: this.evictions.attempts(node.metadata.name),
      // Read through our own writes: approving on a stale "Drained" of a node we just moved on
      // would start maintenance on a node with pods.
      nodeMetadata: (peer) => this.writtenNodeMetadatas.read(peer, this.options.cache.nodeMetadata(peer)),
    };
    const input = maintenanceInput({ node, nodeMetadata, observation, active, ...context }, facts, []);
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
    this.options.readiness?.forget(name);
    this.drainSlots.delete(name);
    this.evictions.forget(name);
    this.reporter.cordonClock.forget(name);
    this.options.waveGate?.forget(name);
    this.options.cache.releasePods(name);
  }

  /** Cordon and Uncordon, each one guarded write; a lost race throws WriteConflictError for a re-plan. */
  private async applyNodeActions(start: NodeState, actions: readonly Action[], view: NodeView): Promise<NodeState> {
    let node = start;
    for (const action of actions) {
      if (action.kind === 'Cordon') {
        const excludeFromLoadBalancers = this.options.config().drain.excludeFromLoadBalancers;
        node = this.remember(node, await this.options.writer.cordon(node, action.eventId, { excludeFromLoadBalancers }));
        view.report.cordoned(node, action.eventId, view.now.getTime());
      } else if (action.kind === 'Uncordon') {
        const held = heldByNodemeta(node);
        if (held.cordonedFor === undefined && !held.excludedFromLoadBalancers) continue;
        node = this.remember(node, await this.options.writer.release(node));
        view.report.released(node, held);
      }
    }
    return node;
  }

  /** Lost races re-plan from a fresh read (write/retry-on-conflict.ts), conflictRetries times. */
  private conflictRetry(reread?: ConflictRetry['reread']): ConflictRetry {
    return { retries: this.options.conflictRetries ?? 3, reread: reread ?? ((lost) => this.options.writer.readNode(lost.metadata.name)), logger: this.options.logger };
  }
}

/** The work queue's answer for the waits asked for (none: no requeue). */
/** The shortest of the waits given, or undefined when none is. */
function soonest(waits: readonly (number | undefined)[]): number | undefined {
  const defined = waits.filter((wait) => wait !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}

function requeue(waits: readonly (number | undefined)[]): ReconcileResult {
  const wait = soonest(waits);
  // The work queue takes 0 as "no requeue": a transition that wants another look at once gets 1 ms.
  return wait === undefined ? {} : { requeueAfter: Math.max(1, wait) };
}
