// The controller's Prometheus metrics, registered on a Registry the caller owns (no global
// default registry, so tests can run several controllers in one process). Documented in
// docs/metrics.md; keep both in step.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ApiResource = 'nodes' | 'nodemetadatas' | 'events' | 'pods/eviction' | 'pods';
export type ApiVerb = 'apply' | 'patch' | 'create' | 'delete';

export interface ControllerMetrics {
  reconcileDuration: Histogram<'result'>;
  reconcileErrors: Counter<never>;
  queueDepth: Gauge<never>;
  labelsApplied: Counter<never>;
  labelsRemoved: Counter<never>;
  invalidLabels: Counter<never>;
  apiWrites: Counter<'resource' | 'verb'>;
  isLeader: Gauge<never>;
  /** 1 while dry run is in force (config dryRun or --dry-run). */
  dryRun: Gauge<never>;
  configReloads: Counter<'result'>;
  eventsDropped: Counter<never>;
  evictions: Counter<'result'>;
  podsDeletedAtDeadline: Counter<'event_type'>;
  drainDuration: Histogram<never>;
  eventToCordon: Histogram<never>;
  maintenanceTransitions: Counter<'phase'>;
  nodesByPhase: Gauge<'phase'>;
  apiRequests: Counter<'verb' | 'code'>;
  apiRequestDuration: Histogram<'verb'>;
  rateLimiterWait: Histogram<'priority'>;
  drainPodWatches: Gauge<never>;
  protectQueueDepth: Gauge<never>;
  evictionsHeld: Counter<never>;
  eventsAggregated: Counter<never>;
  notificationsSent: Counter<'sink'>;
  notificationsFailed: Counter<'sink'>;
  notificationsDropped: Counter<'sink'>;
  notificationsRetries: Counter<'sink'>;
  notificationsFailedRequests: Counter<'sink' | 'reason'>;
  notificationsLatency: Histogram<'sink'>;
  notificationsQueueDepth: Gauge<'sink'>;
  nodesNotDrainReady: Gauge<never>;
  drainBlockedPods: Gauge<'reason'>;
  maintenancePendingNotDrainReady: Gauge<never>;
}

/** Read at scrape time: the drain readiness verdicts as last evaluated (readiness/readiness-tally.ts). */
export interface ReadinessFigures {
  notReady(): number;
  blockedByReason(): Readonly<Record<string, number>>;
  pendingNotReady(): number;
}

export interface ControllerMetricsOptions {
  registry: Registry;
  /** Read at scrape time: keys ready in the work queue (0 while not leading). */
  queueDepth?: () => number;
  /** Read at scrape time: how many managed nodes are in each maintenance phase. */
  nodesByPhase?: () => ReadonlyMap<string, number>;
  /** Read at scrape time: nodes whose pods are watched (nodes that drain). */
  drainPodWatches?: () => number;
  /** Read at scrape time: nodes waiting for their taint and cordon (the fast path). */
  protectQueueDepth?: () => number;
  /** Read at scrape time: notifications waiting per sink. */
  notificationQueueDepths?: () => ReadonlyMap<string, number>;
  /** Read at scrape time: drain readiness (absent or empty while it is off). */
  readiness?: ReadinessFigures;
}

// eslint-disable-next-line max-lines-per-function -- a declarative table: one entry per metric, as docs/metrics.md lists them.
export function createControllerMetrics(options: ControllerMetricsOptions): ControllerMetrics {
  const registers = [options.registry];
  const queueDepth = options.queueDepth;
  const nodesByPhase = options.nodesByPhase;
  const drainPodWatches = options.drainPodWatches;
  const protectQueueDepth = options.protectQueueDepth;
  const notificationQueueDepths = options.notificationQueueDepths;
  const readiness = options.readiness;
  return {
    reconcileDuration: new Histogram({
      name: 'nodemeta_controller_reconcile_duration_seconds',
      help: 'Time to reconcile one node, by result (success, error).',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'nodemeta_controller_reconcile_errors_total',
      help: 'Reconciles that failed and were requeued with backoff.',
      registers,
    }),
    queueDepth: new Gauge({
      name: 'nodemeta_controller_queue_depth',
      help: 'Node names waiting in the work queue (not counting delayed or in-flight ones).',
      registers,
      collect() {
        if (queueDepth !== undefined) this.set(queueDepth());
      },
    }),
    labelsApplied: new Counter({
      name: 'nodemeta_controller_labels_applied_total',
      help: 'Node labels the controller added or changed.',
      registers,
    }),
    labelsRemoved: new Counter({
      name: 'nodemeta_controller_labels_removed_total',
      help: 'Node labels the controller removed (it owned them and the metadata no longer has them).',
      registers,
    }),
    invalidLabels: new Counter({
      name: 'nodemeta_controller_invalid_labels_total',
      help: 'Labels skipped because the value or tag name is not a valid label, or another writer owns the key; counted when the report changes.',
      registers,
    }),
    apiWrites: new Counter({
      name: 'nodemeta_controller_api_writes_total',
      help: 'Write requests sent to the API server, by resource and verb.',
      labelNames: ['resource', 'verb'],
      registers,
    }),
    isLeader: new Gauge({
      name: 'nodemeta_controller_is_leader',
      help: '1 while this replica holds the leader Lease (or runs without leader election), else 0.',
      registers,
    }),
    dryRun: new Gauge({
      name: 'nodemeta_controller_dry_run',
      help: '1 while dry run is in force (configuration dryRun, or --dry-run): nothing is written to nodes, no pod is evicted, no approval is asked for.',
      registers,
    }),
    configReloads: new Counter({
      name: 'nodemeta_controller_config_reloads_total',
      help: 'Configuration file changes seen, by result (success, failure); on failure the last good configuration stays in force.',
      labelNames: ['result'],
      registers,
    }),
    eventsDropped: new Counter({
      name: 'nodemeta_controller_events_dropped_total',
      help: 'Kubernetes Events that could not be written (API error or a full backlog); reconciles never wait for Events.',
      registers,
    }),
    evictions: new Counter({
      name: 'nodemeta_controller_evictions_total',
      help: 'Eviction API calls made by drains, by result: evicted, blocked (refused, e.g. by a PodDisruptionBudget; retried with backoff), gone (the pod had already left), error.',
      labelNames: ['result'],
      registers,
    }),
    podsDeletedAtDeadline: new Counter({
      name: 'nodemeta_controller_pods_deleted_at_deadline_total',
      help: 'Pods deleted at the deadline of a blocked drain (atDeadline: Delete), their PodDisruptionBudget overridden, by event type (docs/maintenance.md, "The end of a blocked drain"). Dry run counts nothing.',
      labelNames: ['event_type'],
      registers,
    }),
    drainDuration: new Histogram({
      name: 'nodemeta_controller_drain_duration_seconds',
      help: 'Time from the start of a drain to the node being empty (phase Draining to Drained).',
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    eventToCordon: new Histogram({
      name: 'nodemeta_controller_event_to_cordon_seconds',
      help: 'Time from the controller first seeing a maintenance event to its cordon of the node (0 for events acted on at once, the lead time for planned ones).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
      registers,
    }),
    maintenanceTransitions: new Counter({
      name: 'nodemeta_controller_maintenance_transitions_total',
      help: 'Maintenance phase changes written to NodeMetadata status, by the phase entered.',
      labelNames: ['phase'],
      registers,
    }),
    nodesByPhase: new Gauge({
      name: 'nodemeta_controller_nodes_by_phase',
      help: 'Managed nodes per maintenance phase (None for nodes without maintenance), as the caches show them.',
      labelNames: ['phase'],
      registers,
      collect() {
        if (nodesByPhase === undefined) return;
        this.reset();
        for (const [phase, count] of nodesByPhase()) this.set({ phase }, count);
      },
    }),
    apiRequests: new Counter({
      name: 'nodemeta_controller_api_requests_total',
      help: 'Requests sent to the API server (watches and the Lease aside), by verb (get, list, create, patch, apply, ...) and answer code (error: no answer).',
      labelNames: ['verb', 'code'],
      registers,
    }),
    apiRequestDuration: new Histogram({
      name: 'nodemeta_controller_api_request_duration_seconds',
      help: 'Time from sending a request to its answer, by verb (the wait for the client-side rate limit not counted).',
      labelNames: ['verb'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rateLimiterWait: new Histogram({
      name: 'nodemeta_controller_rate_limiter_wait_seconds',
      help: 'Time requests waited for the client-side rate limit (--kube-api-qps, --kube-api-burst), by priority: urgent (taints and cordons), normal, low (Events).',
      labelNames: ['priority'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    nodesNotDrainReady: new Gauge({
      name: 'nodemeta_controller_nodes_not_drain_ready',
      help: 'Nodes whose DrainReady condition is False: a drain started now would not finish (docs/maintenance.md, "Drain readiness").',
      registers,
      collect() {
        if (readiness !== undefined) this.set(readiness.notReady());
      },
    }),
    drainBlockedPods: new Gauge({
      name: 'nodemeta_controller_drain_blocked_pods',
      help: 'Pods that would block a drain of their node, by blocker reason (PodDisruptionBudget, MultiplePodDisruptionBudgets, Unmanaged, LocalStorage); no per-node label.',
      labelNames: ['reason'],
      registers,
      collect() {
        if (readiness === undefined) return;
        for (const [reason, count] of Object.entries(readiness.blockedByReason())) this.set({ reason }, count);
      },
    }),
    maintenancePendingNotDrainReady: new Gauge({
      name: 'nodemeta_controller_maintenance_pending_not_drain_ready',
      help: 'Nodes with a pending maintenance event that are not drain-ready: the drain will not finish unless someone acts (alert NodemetaMaintenanceNotDrainReady).',
      registers,
      collect() {
        if (readiness !== undefined) this.set(readiness.pendingNotReady());
      },
    }),
    drainPodWatches: new Gauge({
      name: 'nodemeta_controller_drain_pod_watches',
      help: 'Nodes whose pods the controller tracks now (only nodes that drain: memory follows the work).',
      registers,
      collect() {
        if (drainPodWatches !== undefined) this.set(drainPodWatches());
      },
    }),
    protectQueueDepth: new Gauge({
      name: 'nodemeta_controller_protect_queue_depth',
      help: 'Nodes waiting for their maintenance taint and cordon on the fast path.',
      registers,
      collect() {
        if (protectQueueDepth !== undefined) this.set(protectQueueDepth());
      },
    }),
    eventsAggregated: new Counter({
      name: 'nodemeta_controller_events_aggregated_total',
      help: 'Kubernetes Events folded into an existing Event (its count raised, or combined with similar ones) instead of written as new objects.',
      registers,
    }),
    notificationsSent: new Counter({
      name: 'nodemeta_controller_notifications_sent_total',
      help: 'Maintenance notifications a webhook sink delivered (the receiver answered 2xx), by sink.',
      labelNames: ['sink'],
      registers,
    }),
    notificationsFailed: new Counter({
      name: 'nodemeta_controller_notifications_failed_total',
      help: 'Maintenance notifications a sink gave up on: refused (a 4xx other than 408 and 429), or still failing after its maxAttempts, by sink.',
      labelNames: ['sink'],
      registers,
    }),
    notificationsDropped: new Counter({
      name: 'nodemeta_controller_notifications_dropped_total',
      help: "Maintenance notifications never sent: the sink's queue was full (queueSize), or the sink was removed from the configuration with notifications waiting, by sink.",
      labelNames: ['sink'],
      registers,
    }),
    notificationsRetries: new Counter({
      name: 'nodemeta_controller_notifications_retries_total',
      help: 'Notification requests retried after a 5xx, 429, 408, timeout or connection error, by sink.',
      labelNames: ['sink'],
      registers,
    }),
    notificationsFailedRequests: new Counter({
      name: 'nodemeta_controller_notifications_failed_requests_total',
      help: 'Notification requests that delivered nothing, retried or not, by sink and reason: ReceiverRefused, ReceiverFailed, Timeout, Connection, ProxyRefused, ProxyUnreachable, UrlSource.',
      labelNames: ['sink', 'reason'],
      registers,
    }),
    notificationsLatency: new Histogram({
      name: 'nodemeta_controller_notifications_latency_seconds',
      help: "Time from a maintenance transition being recorded to the sink's receiver accepting its notification (queueing and retries included), by sink.",
      labelNames: ['sink'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    }),
    notificationsQueueDepth: new Gauge({
      name: 'nodemeta_controller_notifications_queue_depth',
      help: 'Notifications waiting for a sink (the one being sent included), by sink; 0 on followers.',
      labelNames: ['sink'],
      registers,
      collect() {
        if (notificationQueueDepths === undefined) return;
        this.reset();
        for (const [sink, depth] of notificationQueueDepths()) this.set({ sink }, depth);
      },
    }),
    evictionsHeld: new Counter({
      name: 'nodemeta_controller_evictions_held_total',
      help: 'Times a drain held its evictions because other nodes of the same wave were not tainted and cordoned yet (drain.waveSettleTime).',
      registers,
    }),
  };
}
