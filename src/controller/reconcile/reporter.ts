// What a reconcile says about what it did: the log line, the Event and the metric of each write,
// from one place. A real run reports every write (`loud`); in dry run the dry-run writer
// (dry-run/dry-run.ts) has already reported each node write it did not send, so the writes'
// reporter is quiet, except for evictions, of which one DryRun Event tells which pods a real run
// would have evicted. The status's reports (a phase change, a Labeled condition gone False, a
// step's Events) are the same in both runs.

import { EventReasons } from '../../api/event-reasons.js';
import { Conditions } from '../../api/names.js';
import { MaintenancePhase, type Condition, type ConditionUpdate, type MaintenanceStatus } from '../../api/nodemetadata.js';
import type { EventRecorder, ObjectReference } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import type { Clock } from '../../time/clock.js';
import type { NodeState } from '../cache/node-state.js';
import { heldByNodemeta } from '../decide/cordon.js';
import type { DesiredLabels, LabelPlan } from '../decide/labels.js';
import { OUT_OF_SERVICE_TAINT } from '../decide/out-of-service.js';
import type { Protection } from '../decide/protection.js';
import { isNodemetaTaint, taintText, type Taint } from '../decide/taints.js';
import { describeEvictions } from '../dry-run/dry-run.js';
import type { StepEvent } from '../dry-run/dry-run-status.js';
import type { EvictionReport } from '../maintenance/evictor.js';
import { describeOverride, type DeletePodsAction, type DeletionReport } from '../maintenance/deadline-deletion.js';

/** The counters reconcile moves; ControllerMetrics provides them (metrics.ts). */
export interface ReconcileCounters {
  labelsApplied: { inc(value?: number): void };
  labelsRemoved: { inc(value?: number): void };
  invalidLabels: { inc(value?: number): void };
  evictions?: { inc(labels: { result: string }, value?: number): void };
  podsDeletedAtDeadline?: { inc(labels: { event_type: string }, value?: number): void };
  evictionsHeld?: { inc(value?: number): void };
  drainDuration?: { observe(seconds: number): void };
  eventToCordon?: { observe(seconds: number): void };
  maintenanceTransitions?: { inc(labels: { phase: string }): void };
}

/** The reports of node writes: each call follows a write the API server accepted. */
export interface WriteReporter {
  /** The fast path's taint and cordon (`written`: the node after it; `what`: describeProtection). */
  protected(written: NodeState, protection: Protection, what: string): void;
  labelsApplied(written: NodeState, plan: LabelPlan): void;
  taintsUpdated(written: NodeState, before: readonly Taint[] | undefined, after: readonly Taint[]): void;
  /** The out-of-service taint added for `wantedFor`, or nodemeta's taken away (undefined). */
  outOfService(before: NodeState, wantedFor: string | undefined): void;
  cordoned(written: NodeState, eventId: string, nowMs: number): void;
  /** nodemeta's cordon or load-balancer exclusion given back (`held`: what it held before). */
  released(written: NodeState, held: ReturnType<typeof heldByNodemeta>): void;
  evicted(node: NodeState, reports: readonly EvictionReport[]): void;
  /** Deletions at the deadline (atDeadline: Delete): their log lines and metric; their Events are the step's (deadline-deletion.ts). */
  deletedAtDeadline(node: NodeState, action: DeletePodsAction, reports: readonly DeletionReport[]): void;
}

export interface ReporterOptions {
  events: EventRecorder;
  logger: Logger;
  clock: Clock;
  counters?: ReconcileCounters;
}

/** The Node as the object of its Events. */
export function objectReferenceOf(node: NodeState): ObjectReference {
  const ref: ObjectReference = { apiVersion: 'v1', kind: 'Node', name: node.metadata.name };
  if (node.metadata.uid !== undefined) ref.uid = node.metadata.uid;
  return ref;
}

/** The event → cordon metric: from the moment this process first saw a node's event to its cordon. */
export class CordonClock {
  /** When this process first saw each node's current event (epoch ms). */
  private readonly eventSeen = new Map<string, { eventId: string; ms: number }>();

  constructor(private readonly options: ReporterOptions) {}

  /** The node's event `eventId` was first seen now: the clock starts. */
  noticeEvent(nodeName: string, eventId: string | undefined): void {
    if (eventId === undefined || this.eventSeen.get(nodeName)?.eventId === eventId) return;
    this.eventSeen.set(nodeName, { eventId, ms: this.options.clock.now() });
  }

  /** The node was cordoned for `eventId` at `nowMs`: the clock stops. */
  observeCordon(nodeName: string, eventId: string, nowMs: number): void {
    const seen = this.eventSeen.get(nodeName);
    if (seen?.eventId !== eventId) return;
    this.options.counters?.eventToCordon?.observe((nowMs - seen.ms) / 1000);
    this.eventSeen.delete(nodeName);
  }

  forget(nodeName: string): void {
    this.eventSeen.delete(nodeName);
  }
}

export class Reporter {
  readonly cordonClock: CordonClock;
  private readonly loud: WriteReporter;
  private readonly dryRun: WriteReporter;

  constructor(private readonly options: ReporterOptions) {
    this.cordonClock = new CordonClock(options);
    this.loud = loudWriteReporter(options, this.cordonClock);
    this.dryRun = dryRunWriteReporter(options);
  }

  /** The reporter of node writes for a run in (or out of) dry run. */
  writes(dryRun: boolean): WriteReporter {
    return dryRun ? this.dryRun : this.loud;
  }

  /** The step's Events once its status is written. */
  stepEvents(node: NodeState, events: readonly StepEvent[]): void {
    for (const event of events) this.options.events.record(objectReferenceOf(node), event.type, event.reason, event.message);
  }

  /** The Labeled condition went False, or False with another message. */
  labeledChanged(node: NodeState, before: readonly Condition[], labeled: ConditionUpdate, desired: DesiredLabels, plan: LabelPlan): void {
    if (labeled.status !== 'False') return;
    const previous = before.find((condition) => condition.type === Conditions.labeled);
    if (previous?.status === 'False' && previous.message === labeled.message) return;
    const problems = desired.invalid.length + plan.skipped.length;
    this.options.counters?.invalidLabels.inc(problems);
    this.options.logger.warn('labels skipped', { node: node.metadata.name, invalid: desired.invalid, ownedElsewhere: plan.skipped });
    this.options.events.record(objectReferenceOf(node), 'Warning', EventReasons.InvalidLabelSkipped, labeled.message);
  }

  /** The maintenance phase (or its event) changed. */
  phaseChanged(node: NodeState, before: MaintenanceStatus | undefined, after: MaintenanceStatus): void {
    const name = node.metadata.name;
    if ((before?.phase ?? MaintenancePhase.None) === after.phase && before?.eventId === after.eventId) return;
    this.options.counters?.maintenanceTransitions?.inc({ phase: after.phase });
    this.options.logger.info('maintenance phase', { node: name, from: before?.phase ?? 'None', to: after.phase, eventId: after.eventId, eventType: after.eventType, ...(after.dryRun === true ? { dryRun: true } : {}) });
    if (after.phase === MaintenancePhase.Scheduled && after.eventId !== undefined && before?.eventId !== after.eventId) this.cordonClock.noticeEvent(name, after.eventId);
    // A simulated drain took no time worth measuring.
    if (after.dryRun !== true && after.phase === MaintenancePhase.Drained && before?.phase === MaintenancePhase.Draining && after.startedTime !== undefined && after.drainedTime !== undefined) {
      this.options.counters?.drainDuration?.observe((Date.parse(after.drainedTime) - Date.parse(after.startedTime)) / 1000);
    }
    if (after.phase === MaintenancePhase.Completed || after.phase === MaintenancePhase.None) this.cordonClock.forget(name);
  }
}

function loudWriteReporter(options: ReporterOptions, cordonClock: CordonClock): WriteReporter {
  const { logger, events, counters } = options;
  return {
    protected(written, protection, what) {
      const name = written.metadata.name;
      logger.info('node protected', { node: name, what, eventId: protection.cordonFor });
      events.record(objectReferenceOf(written), 'Normal', protection.cordonFor === undefined ? EventReasons.TaintsUpdated : EventReasons.Cordoned, `maintenance due: ${what}`);
      if (protection.cordonFor !== undefined) cordonClock.observeCordon(name, protection.cordonFor, options.clock.now());
    },
    labelsApplied(written, plan) {
      const set = Object.entries(plan.set).map(([key, value]) => `${key}=${value}`);
      const parts = [set.length > 0 ? `set ${set.join(', ')}` : '', plan.remove.length > 0 ? `removed ${plan.remove.join(', ')}` : ''].filter((part) => part !== '');
      counters?.labelsApplied.inc(set.length);
      counters?.labelsRemoved.inc(plan.remove.length);
      logger.info('labels applied', { node: written.metadata.name, set: plan.set, removed: plan.remove });
      events.record(objectReferenceOf(written), 'Normal', EventReasons.LabelsApplied, parts.join('; '));
    },
    taintsUpdated(written, before, after) {
      const old = new Set((before ?? []).filter(isNodemetaTaint).map(taintText));
      const now = new Set(after.filter(isNodemetaTaint).map(taintText));
      const added = [...now].filter((taint) => !old.has(taint));
      const removed = [...old].filter((taint) => !now.has(taint));
      const parts = [added.length > 0 ? `added ${added.join(', ')}` : '', removed.length > 0 ? `removed ${removed.join(', ')}` : ''].filter((part) => part !== '');
      logger.info('taints updated', { node: written.metadata.name, added, removed });
      events.record(objectReferenceOf(written), 'Normal', EventReasons.TaintsUpdated, parts.join('; '));
    },
    outOfService(before, wantedFor) {
      const fields = { node: before.metadata.name, taint: taintText(OUT_OF_SERVICE_TAINT) };
      if (wantedFor !== undefined) {
        logger.warn('node tainted out-of-service: its event ended the VM and the node is NotReady', { ...fields, eventId: wantedFor });
        events.record(objectReferenceOf(before), 'Warning', EventReasons.OutOfService, `${fields.taint} added: event ${wantedFor} has started and the node is NotReady; its pods are deleted and their volumes detached`);
      } else {
        logger.info('out-of-service taint removed', fields);
        events.record(objectReferenceOf(before), 'Normal', EventReasons.BackInService, `${fields.taint} removed: the node is Ready again, or its event is gone`);
      }
    },
    cordoned(written, eventId, nowMs) {
      const name = written.metadata.name;
      logger.info('node cordoned', { node: name, eventId, excludedFromLoadBalancers: heldByNodemeta(written).excludedFromLoadBalancers });
      cordonClock.observeCordon(name, eventId, nowMs);
    },
    released(written, held) {
      const name = written.metadata.name;
      if (held.cordonedFor !== undefined) logger.info('node uncordoned', { node: name, cordonedFor: held.cordonedFor, loadBalancerExclusionRemoved: held.excludedFromLoadBalancers });
      else logger.info('load-balancer exclusion removed', { node: name });
    },
    evicted(node, reports) {
      const name = node.metadata.name;
      for (const { pod, outcome, newlyBlocked } of reports) {
        counters?.evictions?.inc({ result: outcome.kind });
        if (outcome.kind === 'evicted') logger.info('pod evicted', { node: name, pod: `${pod.namespace}/${pod.name}`, gracePeriodSeconds: pod.gracePeriodSeconds });
        if ((outcome.kind === 'blocked' || outcome.kind === 'error') && newlyBlocked) {
          logger.warn('eviction refused, retrying with backoff', { node: name, pod: `${pod.namespace}/${pod.name}`, reason: outcome.reason });
          events.record(objectReferenceOf(node), 'Warning', EventReasons.EvictionBlocked, `pod ${pod.namespace}/${pod.name}: ${outcome.reason}`);
        }
      }
    },
    deletedAtDeadline(node, action, reports) {
      const fields = { node: node.metadata.name, eventType: action.eventType, notBefore: action.notBefore };
      for (const { pod, outcome } of reports) {
        const podFields = { ...fields, pod: `${pod.namespace}/${pod.name}`, gracePeriodSeconds: pod.gracePeriodSeconds };
        if (outcome.kind === 'deleted') {
          counters?.podsDeletedAtDeadline?.inc({ event_type: action.eventType });
          logger.warn('pod deleted at the deadline (atDeadline: Delete)', { ...podFields, overrides: describeOverride(pod) });
        } else if (outcome.kind === 'forbidden') {
          logger.error('cannot delete a pod at the deadline: the controller may not delete pods; it stays, as with Wait', { ...podFields, reason: outcome.reason });
        } else if (outcome.kind === 'error') {
          logger.error('cannot delete a pod at the deadline; it stays, as with Wait', { ...podFields, reason: outcome.reason });
        } else {
          logger.info('pod gone before its deletion at the deadline', podFields);
        }
      }
    },
  };
}

/** Dry run: the dry-run writer reported each node write it did not send; evictions get one Event. */
function dryRunWriteReporter(options: ReporterOptions): WriteReporter {
  const quiet = () => undefined;
  return {
    protected: quiet,
    labelsApplied: quiet,
    taintsUpdated: quiet,
    outOfService: quiet,
    cordoned: quiet,
    released: quiet,
    // The dry-run writer logged each deletion it did not send; the step's Events say it, marked.
    deletedAtDeadline: quiet,
    evicted(node, reports) {
      // Nothing was evicted: one Event tells which pods a real run would have evicted.
      const pods = reports.filter((report) => report.outcome.kind === 'evicted').map((report) => report.pod);
      if (pods.length === 0) return;
      options.logger.info('dry run: evictions not sent', { node: node.metadata.name, pods: pods.map((pod) => `${pod.namespace}/${pod.name}`) });
      options.events.record(objectReferenceOf(node), 'Normal', EventReasons.DryRun, describeEvictions(pods));
    },
  };
}
