// reconcile(nodeName): read the Node and its NodeMetadata from the informer caches, compute the
// labels, taints and maintenance status the node should have with the pure functions next door,
// and write only what differs. Nothing changed → no request at all. Running it twice in a row
// writes nothing the second time (STYLE.md, habit 1).
//
// Order of writes: labels, then taints (each based on the object the previous write returned,
// so a taint `test` is never judged against a stale list), then the NodeMetadata status, which
// records what was done; its Events are recorded only after it was written.
// Conflicts: a write that loses a race (409, or a failed JSON-patch `test`) is re-planned from a
// fresh read a few times; if it keeps losing, reconcile throws and the work queue retries the key
// with backoff. Nothing is ever forced onto the Node.

import { Conditions, FIELD_MANAGER_CONTROLLER } from '../api/names.js';
import { observationOf, setCondition, type Condition, type ControllerStatus, type MaintenanceStatus, type NodeMetadata } from '../api/nodemetadata.js';
import type { Observation } from '../api/observation.js';
import type { EventRecorder, ObjectReference } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../runtime/clock.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { WriteConflictError, type ClusterCache, type NodeState, type NodeWriter } from './cluster-state.js';
import type { ControllerConfig } from './config.js';
import { desiredLabels, labeledCondition, ownedLabelKeys, planLabelChanges, type DesiredLabels, type LabelPlan } from './labels.js';
import { nextMaintenance, type MaintenanceTransition } from './maintenance/phase.js';
import { ReadYourWrites } from './read-your-writes.js';
import { msUntilStart, planActions, rulesFor, selectActive, triggersFrom, type PlannedAction } from './policy.js';
import { desiredTaints, isNodemetaTaint, mergeTaints, type Taint } from './taints.js';

/** The counters reconcile moves; ControllerMetrics provides them (metrics.ts). */
export interface ReconcileCounters {
  labelsApplied: { inc(value?: number): void };
  labelsRemoved: { inc(value?: number): void };
  invalidLabels: { inc(value?: number): void };
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
}

/** The controller's condition types: it applies these and only these in status.conditions. */
const CONTROLLER_CONDITIONS: readonly string[] = [Conditions.labeled, Conditions.drained];

export class NodeReconciler {
  private readonly writtenNodes = new ReadYourWrites<NodeState>();
  private readonly writtenNodeMetadatas = new ReadYourWrites<NodeMetadata>();

  constructor(private readonly options: ReconcilerOptions) {}

  async reconcile(nodeName: string): Promise<ReconcileResult> {
    const { cache } = this.options;
    const cachedNode = this.writtenNodes.read(nodeName, cache.node(nodeName));
    // A deleted Node takes its labels and taints with it; its NodeMetadata goes by garbage collection.
    if (cachedNode === undefined) return {};
    let node: NodeState = cachedNode;
    const nodeMetadata = this.writtenNodeMetadatas.read(nodeName, cache.nodeMetadata(nodeName));
    const cacheWarm = cache.warm();
    const config = this.options.config();
    const now = new Date(this.options.clock.now());
    const observation = observationOf(nodeMetadata?.status);

    const desired = desiredLabels(observation, config.labels);
    const labels = await this.reconcileLabels(node, desired, cacheWarm);
    if (labels.node === undefined) return {};
    node = this.remember(node, labels.node);

    const rules = rulesFor(config.policy, observation?.provider, nodeMetadata?.spec);
    const plans = planActions(triggersFrom(observation?.events ?? [], observation?.spot), rules, now);
    const currentEventId = handledEventId(nodeMetadata?.status?.maintenance);
    const tainted = await this.reconcileTaints(node, observation, rules, now, cacheWarm, currentEventId);
    if (tainted === undefined) return {};
    node = this.remember(node, tainted);

    if (nodeMetadata !== undefined) {
      const active = selectActive(plans, currentEventId);
      await this.reconcileStatus(node, nodeMetadata, desired, labels.plan, active, now, cacheWarm);
    }
    const wait = msUntilStart(plans, now);
    return wait === undefined ? {} : { requeueAfter: wait };
  }

  /** `after` replaced `before` (a write, or a fresh read after a conflict): read it until the cache catches up. */
  private remember(before: NodeState, after: NodeState): NodeState {
    if (after !== before) this.writtenNodes.wrote(after.metadata.name, before, after);
    return after;
  }

  // ---- labels ----

  private async reconcileLabels(start: NodeState, desired: DesiredLabels, cacheWarm: boolean): Promise<{ node: NodeState | undefined; plan: LabelPlan }> {
    const plan = (node: NodeState) => planLabelChanges(node.metadata.labels, ownedLabelKeys(node.metadata.managedFields, FIELD_MANAGER_CONTROLLER), desired, { cacheWarm });
    let node: NodeState | undefined = start;
    let current = plan(node);
    for (let attempt = 0; current.changed; attempt++) {
      try {
        node = await this.options.writer.applyLabels(node.metadata.name, current.apply);
      } catch (error) {
        node = await this.afterConflict(error, attempt, node.metadata.name, 'labels');
        if (node === undefined) return { node, plan: current };
        current = plan(node);
        continue;
      }
      this.reportLabelWrite(node, current);
      // The apply's result is the new truth; planning from it must give "nothing to do".
      return { node, plan: plan(node) };
    }
    return { node, plan: current };
  }

  private reportLabelWrite(node: NodeState, plan: LabelPlan): void {
    const set = Object.entries(plan.set).map(([key, value]) => `${key}=${value}`);
    const parts = [set.length > 0 ? `set ${set.join(', ')}` : '', plan.remove.length > 0 ? `removed ${plan.remove.join(', ')}` : ''].filter((part) => part !== '');
    this.options.counters?.labelsApplied.inc(set.length);
    this.options.counters?.labelsRemoved.inc(plan.remove.length);
    this.options.logger.info('labels applied', { node: node.metadata.name, set: plan.set, removed: plan.remove });
    this.options.events.record(nodeRef(node), 'Normal', 'LabelsApplied', parts.join('; '));
  }

  // ---- taints ----

  private async reconcileTaints(
    start: NodeState,
    observation: Observation | undefined,
    rules: ReturnType<typeof rulesFor>,
    now: Date,
    cacheWarm: boolean,
    currentEventId: string | undefined,
  ): Promise<NodeState | undefined> {
    const wanted = desiredTaints(observation?.events ?? [], observation?.spot, rules, now, currentEventId);
    let node: NodeState | undefined = start;
    for (let attempt = 0; ; attempt++) {
      const current = node.spec?.taints;
      const next = mergeTaints(current, cacheWarm ? wanted : keepingOurs(current, wanted));
      if (next === undefined) return node;
      try {
        const written = await this.options.writer.patchTaints(node.metadata.name, current, next);
        this.reportTaintWrite(written, current, next);
        return written;
      } catch (error) {
        node = await this.afterConflict(error, attempt, node.metadata.name, 'taints');
        if (node === undefined) return undefined;
      }
    }
  }

  private reportTaintWrite(node: NodeState, before: readonly Taint[] | undefined, after: readonly Taint[]): void {
    const text = (taint: Taint) => `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
    const old = new Set((before ?? []).filter(isNodemetaTaint).map(text));
    const now = new Set(after.filter(isNodemetaTaint).map(text));
    const added = [...now].filter((taint) => !old.has(taint));
    const removed = [...old].filter((taint) => !now.has(taint));
    const parts = [added.length > 0 ? `added ${added.join(', ')}` : '', removed.length > 0 ? `removed ${removed.join(', ')}` : ''].filter((part) => part !== '');
    this.options.logger.info('taints updated', { node: node.metadata.name, added, removed });
    this.options.events.record(nodeRef(node), 'Normal', 'TaintsUpdated', parts.join('; '));
  }

  // ---- NodeMetadata status ----

  private async reconcileStatus(
    node: NodeState,
    nodeMetadata: NodeMetadata,
    desired: DesiredLabels,
    plan: LabelPlan,
    active: PlannedAction | undefined,
    now: Date,
    cacheWarm: boolean,
  ): Promise<void> {
    const status = nodeMetadata.status ?? {};
    const generation = nodeMetadata.metadata.generation;
    const ours = (status.conditions ?? []).filter((condition) => CONTROLLER_CONDITIONS.includes(condition.type));
    const labeled = labeledCondition(desired, plan, generation);
    const conditions = setCondition(ours, labeled, now);
    const decision = nextMaintenance(status.maintenance, active, { now, cacheWarm });

    const next: ControllerStatus = { maintenance: decision.status, conditions };
    if (generation !== undefined) next.observedGeneration = generation;
    const unchanged =
      conditions === ours && sameJson(status.maintenance, decision.status) && (generation === undefined || status.observedGeneration === generation);
    if (unchanged) return;

    const written = await this.options.writer.applyControllerStatus(nodeMetadata.metadata.name, next);
    this.writtenNodeMetadatas.wrote(nodeMetadata.metadata.name, nodeMetadata, written);

    if (conditions !== ours) this.reportLabeledChange(node, ours, labeled, desired, plan);
    this.reportMaintenance(node, decision.transition);
  }

  private reportLabeledChange(node: NodeState, before: readonly Condition[], labeled: ReturnType<typeof labeledCondition>, desired: DesiredLabels, plan: LabelPlan): void {
    if (labeled.status !== 'False') return;
    const previous = before.find((condition) => condition.type === Conditions.labeled);
    if (previous?.status === 'False' && previous.message === labeled.message) return;
    const problems = desired.invalid.length + plan.skipped.length;
    this.options.counters?.invalidLabels.inc(problems);
    this.options.logger.warn('labels skipped', { node: node.metadata.name, invalid: desired.invalid, ownedElsewhere: plan.skipped });
    this.options.events.record(nodeRef(node), 'Warning', 'InvalidLabelSkipped', labeled.message);
  }

  private reportMaintenance(node: NodeState, transition: MaintenanceTransition): void {
    const ref = nodeRef(node);
    switch (transition.kind) {
      case 'none':
        return;
      case 'scheduled': {
        const { action } = transition;
        const notBefore = action.deadline === undefined ? 'no NotBefore' : `NotBefore ${new Date(action.deadline).toISOString()}`;
        const starts = action.due ? 'now' : `at ${new Date(action.startAt).toISOString()}`;
        const replaced = transition.replaced === undefined ? '' : ` (replaces ${transition.replaced})`;
        this.options.events.record(ref, 'Normal', 'MaintenanceScheduled', `${action.eventType} ${action.eventId}, ${notBefore}: action ${action.action} starts ${starts}${replaced}`);
        return;
      }
      case 'cancelled':
        this.options.events.record(ref, 'Normal', 'MaintenanceCancelled', `${describeEvent(transition.previous)} is no longer announced`);
        return;
      case 'ended':
        this.options.events.record(ref, 'Normal', 'MaintenanceEnded', `${describeEvent(transition.previous)} is over`);
        return;
    }
  }

  // ---- conflicts ----

  /** After a failed write: a fresh read to plan from if it was a lost race (within the retry budget), else rethrow. */
  private async afterConflict(error: unknown, attempt: number, nodeName: string, what: string): Promise<NodeState | undefined> {
    if (!(error instanceof WriteConflictError) || attempt >= (this.options.conflictRetries ?? 3)) throw error;
    this.options.logger.debug('write conflict, re-reading the node', { node: nodeName, what, attempt, error: error.message });
    return this.options.writer.readNode(nodeName);
  }
}

/** The event the node is handling, if any: selectActive keeps it while it ranks level with the best. */
function handledEventId(maintenance: MaintenanceStatus | undefined): string | undefined {
  return maintenance?.phase === 'None' ? undefined : maintenance?.eventId;
}

function describeEvent(maintenance: MaintenanceStatus): string {
  return [maintenance.eventType ?? 'event', maintenance.eventId].filter((part) => part !== undefined).join(' ');
}

/** While the caches are cold nothing is removed: our taints the plan no longer wants stay. */
function keepingOurs(current: readonly Taint[] | undefined, wanted: readonly Taint[]): Taint[] {
  const keys = new Set(wanted.map((taint) => taint.key));
  const kept = (current ?? []).filter((taint) => isNodemetaTaint(taint) && !keys.has(taint.key)).map(({ key, value, effect }) => (value === undefined ? { key, effect } : { key, value, effect }));
  return [...wanted, ...kept];
}

function nodeRef(node: NodeState): ObjectReference {
  const ref: ObjectReference = { apiVersion: 'v1', kind: 'Node', name: node.metadata.name };
  if (node.metadata.uid !== undefined) ref.uid = node.metadata.uid;
  return ref;
}

/** Structural equality of plain JSON data, key order aside. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}
