// Wiring of `nodemeta controller`: configuration (reloaded on change), informers on Nodes and
// NodeMetadata, a work queue keyed by node name, the reconciler, Lease leader election, Events,
// metrics and health endpoints, and an orderly shutdown.
//
// Every replica keeps warm caches and serves /readyz once they are synced (a follower is ready:
// it can take over at once). Only the leader runs workers; when leadership is lost the queue is
// shut at once, the writer refuses any further write, and run() resolves 'lost-leadership' after
// closing everything, so that the caller starts clean (client-go's advice: never try to resume after
// losing a lease; leadership-terms.ts runs the controller again in the same process).
// SIGTERM: stop the workers (in-flight reconciles finish), release the Lease so the other replica
// takes over without waiting for it to expire, close the informers.

import { EventReasons } from '../api/event-reasons.js';
import { hostname } from 'node:os';
import { Watch, type CoreV1Api, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION } from '../api/names.js';
import { MaintenancePhase, type NodeMetadata } from '../api/nodemetadata.js';
import { DEFAULT_RATE_LIMIT, makeApiClients, type ApiClients } from '../kube/client-node/api-clients.js';
import { kubeEventSink } from '../kube/client-node/event-sink.js';
import { kubeLeaseStore } from '../kube/client-node/lease-store.js';
import { KubeEventRecorder, type ObjectReference } from '../observability/events.js';
import { startHealthServer, type HealthServer } from '../observability/health-server.js';
import type { Logger } from '../observability/logger.js';
import { sleep, unrefSystemClock, type Clock } from '../time/clock.js';
import { ResilientInformer } from '../runtime/informer.js';
import { runLeaderElection } from '../runtime/leader-election.js';
import { defaultControllerRateLimiter } from '../runtime/rate-limiter.js';
import { RequestLimiter } from '../runtime/request-limiter.js';
import { Semaphore } from '../runtime/semaphore.js';
import { runWorkers, WorkQueue } from '../runtime/workqueue.js';
import { nodeForCache, nodeMetadataForCache, nodeStateOf, type ClusterCache } from './cache/cluster-state.js';
import { DEFAULT_CONFIG, type ControllerConfig } from './config/config.js';
import { ConfigWatcher, type ConfigReload } from './config/config-watcher.js';
import { DrainPods, type PodSource, type PodWatchEventType } from './cache/drain-pods.js';
import { DryRunNodes } from './dry-run/dry-run.js';
import { FleetIndex } from './cache/fleet-index.js';
import { WaveGate } from './maintenance/wave-gate.js';
import { createControllerMetrics, type ControllerMetrics } from './metrics.js';
import { Notifier } from './notifications/notifier.js';
import { createWebhookClient } from './notifications/transport.js';
import { kubeNodeWriter } from './write/node-writer.js';
import { NodeReconciler, type ReadinessSource } from './reconcile/reconciler.js';
import { DrainReadiness } from './readiness/drain-readiness.js';
import { ReadinessTally } from './readiness/readiness-tally.js';
import { requeueForAll, requeueForNode, requeueForNodeMetadata, type Requeue } from './decide/requeue-rules.js';

export const LEASE_NAME = 'nodemeta-controller';
export const COMPONENT = 'nodemeta-controller';

export interface LeaderElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's defaults. */
export const DEFAULT_LEADER_ELECTION: LeaderElectionTiming = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** The configuration file; undefined runs on the defaults (`--default-config`). */
  configPath?: string;
  /** `--dry-run`: dry run whatever the configuration says (its `dryRun` only matters when this is off). */
  dryRun?: boolean;
  /** Off: this process works alone (development, tests); there must be one replica only. */
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName?: string;
  identity: string;
  leaderElection?: Partial<LeaderElectionTiming>;
  workers: number;
  /** Nodes tainted and cordoned in parallel on the fast path (default 32). */
  protectWorkers?: number;
  /** Client-side rate limit of the controller's API requests (default DEFAULT_RATE_LIMIT). */
  rateLimit?: { qps: number; burst: number };
  /** Evictions in flight at once across every draining node (default 50). */
  maxConcurrentEvictions?: number;
  /** A label selector: only matching nodes are reconciled (e.g. one node pool); all nodes when absent. */
  nodeSelector?: string;
  /** The health and metrics server; port 0 picks a free one (see onStarted). */
  metricsHost: string;
  metricsPort: number;
  /** The controller's own Pod, for Events that concern no Node (ConfigRejected); from POD_NAME/POD_NAMESPACE. */
  podRef?: ObjectReference;
  clock?: Clock;
  registry?: Registry;
  /** Called once the health server listens (its URL, e.g. for tests that pass port 0). */
  onStarted?: (info: { healthUrl: string }) => void;
  /** How long a graceful stop waits for in-flight reconciles (default 10 s). */
  shutdownTimeoutMs?: number;
}

/** Why run() returned: a graceful stop, or leadership lost (the caller starts again clean: leadership-terms.ts). */
export type ControllerExit = 'stopped' | 'lost-leadership';

export function defaultIdentity(): string {
  // Two local processes share a hostname: the pid keeps their identities apart.
  return process.env.POD_NAME || `${hostname()}_${process.pid}`;
}

/** What the controller's parts share while it runs: the queues of this leadership term, and whether it leads. */
interface RunState {
  queue: WorkQueue | undefined;
  protectQueue: WorkQueue | undefined;
  leading: boolean;
  workersDone: Promise<void>;
}

/** The configuration in force (a reload replaces it; every reader asks for it anew). */
interface Settings {
  config: ControllerConfig;
}

/** Runs the controller until `signal` aborts (graceful stop) or leadership is lost. */
export async function runController(options: ControllerOptions, signal: AbortSignal): Promise<ControllerExit> {
  const clock = options.clock ?? unrefSystemClock;
  const { logger } = options;
  const registry = options.registry ?? new Registry();
  // The process's own figures (resident memory, heap, event-loop lag, open handles), as every
  // Prometheus client library exports them; a caller's registry (the tests') goes without.
  if (options.registry === undefined) collectDefaultMetrics({ register: registry });
  const run: RunState = { queue: undefined, protectQueue: undefined, leading: false, workersDone: Promise.resolve() };
  // Filled in below, once the informers exist.
  let nodesByPhase: () => ReadonlyMap<string, number> = () => new Map();
  // What the drain readiness metrics count, as the reconciler evaluates (readiness/readiness-tally.ts).
  const readinessTally = new ReadinessTally();
  const metrics = createControllerMetrics({
    readiness: readinessTally,
    registry,
    queueDepth: () => run.queue?.len() ?? 0,
    nodesByPhase: () => nodesByPhase(),
    drainPodWatches: () => drainPods.count(),
    protectQueueDepth: () => waveGate.pendingCount(),
    notificationQueueDepths: () => notifier.depths(),
  });
  metrics.isLeader.set(0);
  const clients = apiClients(options, clock, metrics);
  const events = eventRecorder(options, clients, clock, metrics);
  const { nodes, nodeMetadatas } = informers(options, clients, clock);
  const enqueue = (name: string | undefined) => {
    if (name !== undefined && name !== '') run.queue?.add(name);
  };

  // The fast path: a node whose maintenance calls for its taint and cordon goes onto its own queue,
  // served by its own workers, ahead of anything else (docs/architecture.md, "The flow"); evictions
  // anywhere wait until the wave's cordons are done (maintenance/wave-gate.ts).
  const settings: Settings = { config: DEFAULT_CONFIG };
  const waveGate = new WaveGate({ clock, settleMs: () => settings.config.drain.waveSettleTimeMs });
  // The informers deliver nothing before they start, below, after the reconciler exists.
  const protectIfDue = (name: string) => {
    if (run.protectQueue === undefined || !reconciler.needsProtection(name)) return;
    waveGate.protecting(name);
    run.protectQueue.add(name);
  };
  // Which change requeues which node is decided in requeue-rules.ts; here it is only carried out,
  // the fast path first.
  const requeue = ({ protect, reconcile }: Requeue) => {
    for (const name of protect) protectIfDue(name);
    for (const name of reconcile) enqueue(name);
  };
  // The fleet's facts for budget and approvals are kept as the informers deliver them (fleet-index.ts).
  const fleet = new FleetIndex();
  watchFleet(nodes, nodeMetadatas, fleet, requeue);
  const enqueueAll = () => requeue(requeueForAll(nodes.list().map((node) => node.metadata?.name)));
  const readiness = wireReadiness(options, clients, clock, readinessTally, { one: enqueue, all: enqueueAll });
  // The pods of draining nodes: from drain readiness's index while it is on, so the controller
  // watches pods once; otherwise a list per node and one shared watch (drain-pods.ts).
  const drainPods = new DrainPods({ source: podSource(options.kubeConfig, clients.core), clock, logger, onChange: enqueue, fromIndex: (name) => readiness.watch.podsOn(name) });
  const cache = informerCache(nodes, nodeMetadatas, fleet, drainPods);
  nodesByPhase = () => fleet.phaseCounts(MaintenancePhase.None);

  // Webhook notifications of maintenance transitions, sent by the leader in the background; the
  // reconciler records them in the statuses it writes (notifications/notifier.ts).
  const notifier = new Notifier({
    clock,
    logger,
    newClient: () => createWebhookClient({ clock, env: process.env }),
    counters: { sent: metrics.notificationsSent, failed: metrics.notificationsFailed, dropped: metrics.notificationsDropped, retries: metrics.notificationsRetries, failedRequests: metrics.notificationsFailedRequests, latency: metrics.notificationsLatency },
    userAgent: `${COMPONENT}/${options.identity}`,
    isLeading: () => run.leading,
    onSettled: enqueue,
  });
  const watcher = await configure({ options, settings, metrics, events, notifier, clock, enqueueAll, applied: readiness.applied });

  const reconciler = createReconciler({ options, run, settings, clients, cache, events, metrics, waveGate, notifier, clock, readiness: readiness.source });
  const health = await startHealth(options, registry, [nodes, nodeMetadatas]);

  let exit: ControllerExit = 'stopped';
  try {
    await Promise.race([Promise.all([nodes.start(), nodeMetadatas.start()]), abortable(signal)]);
    if (signal.aborted) return exit;
    logger.info('caches synced');
    const startWork = (leadership: AbortSignal) => startWorkers({ run, options, clock, metrics, reconciler, notifier, enqueueAll }, leadership);
    exit = await runTerms({ run, options, clock, metrics, startWork }, signal);
    return exit;
  } finally {
    run.leading = false;
    run.queue?.shutDown();
    run.protectQueue?.shutDown();
    watcher?.stop();
    reconciler.stop();
    // Unsent notifications stay pending in the statuses: the next leader sends them.
    notifier.stop();
    await Promise.race([events.flush(), sleep(clock, 2_000)]);
    await Promise.all([nodes.stop(), nodeMetadatas.stop(), drainPods.stop(), readiness.watch.stop()]).catch(() => undefined);
    await health.close();
    logger.info('controller stopped', { reason: exit });
  }
}

/** The reconciler over the writer (or, in dry run, over its simulation: dry-run/dry-run.ts). */
function createReconciler(parts: {
  options: ControllerOptions;
  run: RunState;
  settings: Settings;
  clients: ApiClients;
  cache: ClusterCache;
  events: KubeEventRecorder;
  metrics: ControllerMetrics;
  waveGate: WaveGate;
  notifier: Notifier;
  clock: Clock;
  readiness: ReadinessSource;
}): NodeReconciler {
  const { options, run, settings, metrics, events, clock } = parts;
  const { logger } = options;
  const writer = kubeNodeWriter({ clients: parts.clients, isLeading: () => run.leading, onWrite: (resource, verb) => metrics.apiWrites.inc({ resource, verb }) });
  // In dry run the node writes and evictions are decided and reported, not sent.
  const dryRun = new DryRunNodes({ cache: parts.cache, writer, enabled: () => settings.config.dryRun, events, logger });
  return new NodeReconciler({
    cache: dryRun.cache,
    writer: dryRun.writer,
    events,
    config: () => settings.config,
    clock,
    logger,
    counters: metrics,
    waveGate: parts.waveGate,
    evictionLimit: new Semaphore(options.maxConcurrentEvictions ?? DEFAULT_MAX_CONCURRENT_EVICTIONS),
    statusReportWriters: STATUS_REPORT_WRITERS,
    notifications: parts.notifier,
    readiness: parts.readiness,
  });
}

/**
 * Every request but watches and the Lease takes a token from one budget (client-go's QPS and
 * burst); taints and cordons go first, Events last (kube/client-node/api-clients.ts).
 */
function apiClients(options: ControllerOptions, clock: Clock, metrics: ControllerMetrics): ApiClients {
  return makeApiClients(options.kubeConfig, {
    limiter: new RequestLimiter({ ...(options.rateLimit ?? DEFAULT_RATE_LIMIT), clock }),
    userAgent: `${COMPONENT}/${options.identity}`,
    observer: {
      answered: (verb, code, seconds) => {
        metrics.apiRequests.inc({ verb, code });
        metrics.apiRequestDuration.observe({ verb }, seconds);
      },
      throttled: (priority, seconds) => metrics.rateLimiterWait.observe({ priority }, seconds),
    },
  });
}

function eventRecorder(options: ControllerOptions, clients: ApiClients, clock: Clock, metrics: ControllerMetrics): KubeEventRecorder {
  return new KubeEventRecorder({
    // Events go through the same rate limit as everything else, after every other request.
    sink: kubeEventSink(clients.lowCore, { onWrite: (verb) => metrics.apiWrites.inc({ resource: 'events', verb }) }),
    clock,
    logger: options.logger,
    component: COMPONENT,
    instance: options.identity,
    onDropped: () => metrics.eventsDropped.inc(),
    onAggregated: () => metrics.eventsAggregated.inc(),
  });
}

/** The Node and NodeMetadata informers, cached trimmed to what the controller reads (cache/cluster-state.ts). */
function informers(options: ControllerOptions, clients: ApiClients, clock: Clock): { nodes: ResilientInformer<V1Node>; nodeMetadatas: ResilientInformer<KubernetesObject> } {
  const { core, custom } = clients;
  const { kubeConfig, logger } = options;
  const nodes = new ResilientInformer<V1Node>({
    name: 'nodes',
    kubeConfig,
    path: '/api/v1/nodes',
    list: (page) => core.listNode({ ...page, ...(options.nodeSelector === undefined ? {} : { labelSelector: options.nodeSelector }) }),
    pageSize: LIST_PAGE,
    transform: nodeForCache,
    ...(options.nodeSelector === undefined ? {} : { labelSelector: options.nodeSelector }),
    clock,
    logger,
  });
  // Custom objects come back as raw JSON (no client-node model), i.e. exactly NodeMetadata.
  const nodeMetadatas = new ResilientInformer<KubernetesObject>({
    name: PLURAL,
    kubeConfig,
    path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    list: async (page) => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, ...page })) as KubernetesListObject<KubernetesObject>,
    pageSize: LIST_PAGE,
    transform: nodeMetadataForCache,
    clock,
    logger,
  });
  return { nodes, nodeMetadatas };
}

/** Keeps the fleet index as the informers deliver, and carries out the requeues each change asks for. */
function watchFleet(nodes: ResilientInformer<V1Node>, nodeMetadatas: ResilientInformer<KubernetesObject>, fleet: FleetIndex, requeue: (requeue: Requeue) => void): void {
  for (const verb of ['add', 'update', 'delete'] as const) {
    const deleted = verb === 'delete';
    nodes.on(verb, (node) => {
      const name = node.metadata?.name;
      if (name !== undefined) fleet.updateNode(name, deleted ? undefined : { providerID: node.spec?.providerID });
      requeue(requeueForNode(name, deleted));
    });
    nodeMetadatas.on(verb, (nodeMetadata) => {
      const name = nodeMetadata.metadata?.name;
      if (name === undefined) return;
      const before = fleet.status(name);
      fleet.updateNodeMetadata(name, deleted ? undefined : (nodeMetadata as NodeMetadata));
      requeue(requeueForNodeMetadata(name, deleted, before, fleet.status(name), fleet.statuses()));
    });
  }
}

/** What reconcile reads (cache/cluster-state.ts ClusterCache), from the informers. */
function informerCache(nodes: ResilientInformer<V1Node>, nodeMetadatas: ResilientInformer<KubernetesObject>, fleet: FleetIndex, drainPods: DrainPods): ClusterCache {
  return {
    node: (name) => {
      const node = nodes.get(name);
      return node === undefined ? undefined : nodeStateOf(node);
    },
    nodeMetadata: (name) => nodeMetadatas.get(name) as NodeMetadata | undefined,
    fleet: () => fleet,
    podsOn: (nodeName) => drainPods.podsOn(nodeName),
    releasePods: (nodeName) => drainPods.release(nodeName),
    warm: () => nodes.hasSynced() && nodeMetadatas.hasSynced(),
  };
}

/**
 * The configuration: loaded, forced into dry run by --dry-run, and reloaded on change (each reload
 * requeues every node). Returns the watcher of the file, if any.
 */
async function configure(parts: {
  options: ControllerOptions;
  settings: Settings;
  metrics: ControllerMetrics;
  events: KubeEventRecorder;
  notifier: Notifier;
  clock: Clock;
  enqueueAll: () => void;
  /** Each configuration put in force (the first and every accepted reload). */
  applied: (config: ControllerConfig) => void;
}): Promise<ConfigWatcher | undefined> {
  const { options, settings, metrics, notifier } = parts;
  const { logger } = options;
  let watcher: ConfigWatcher | undefined;
  const logDryRun = (on: boolean, why: string) => {
    metrics.dryRun.set(on ? 1 : 0);
    if (on) logger.warn('dry run: nothing is written to nodes, no pod is evicted, no approval is asked for; each decision is a DryRun Event on its node', { why });
    else logger.info('dry run off: the controller acts on the nodes', { why });
  };
  // --dry-run forces dry run on whatever the file says.
  const inForce = (loaded: ControllerConfig): ControllerConfig => (options.dryRun === true && !loaded.dryRun ? { ...loaded, dryRun: true } : loaded);
  const onReload = (reload: ConfigReload) => {
    metrics.configReloads.inc({ result: reload.ok ? 'success' : 'failure' });
    if (reload.ok) {
      if (inForce(reload.config).dryRun !== settings.config.dryRun) logDryRun(inForce(reload.config).dryRun, 'the configuration changed');
      settings.config = inForce(reload.config);
      notifier.configure(settings.config.notifications);
      parts.applied(settings.config);
      logger.info('configuration reloaded', { path: options.configPath });
      parts.enqueueAll();
    } else {
      logger.error('configuration rejected, keeping the last good one', { path: options.configPath, errors: reload.errors });
      if (options.podRef !== undefined) parts.events.record(options.podRef, 'Warning', EventReasons.ConfigRejected, reload.errors.join('; '));
    }
  };
  if (options.configPath !== undefined) {
    watcher = new ConfigWatcher({ path: options.configPath, clock: parts.clock, onReload });
    settings.config = await watcher.start();
  }
  settings.config = inForce(settings.config);
  metrics.dryRun.set(settings.config.dryRun ? 1 : 0);
  if (settings.config.dryRun) logDryRun(true, options.dryRun === true ? 'flag --dry-run' : 'configuration dryRun: true');
  notifier.configure(settings.config.notifications);
  parts.applied(settings.config);
  return watcher;
}

async function startHealth(options: ControllerOptions, registry: Registry, [nodes, nodeMetadatas]: readonly [ResilientInformer<V1Node>, ResilientInformer<KubernetesObject>]): Promise<HealthServer> {
  const health: HealthServer = await startHealthServer({
    host: options.metricsHost,
    port: options.metricsPort,
    registry,
    readiness: [
      { name: 'nodes informer', check: () => (nodes.hasSynced() ? undefined : 'not synced') },
      { name: 'nodemetadatas informer', check: () => (nodeMetadatas.hasSynced() ? undefined : 'not synced') },
    ],
  });
  options.logger.info('health and metrics server listening', { url: health.url });
  options.onStarted?.({ healthUrl: health.url });
  return health;
}

/** A leadership term begins: fresh queues, every node queued, the workers started; `leadership` ends it. */
function startWorkers(parts: { run: RunState; options: ControllerOptions; clock: Clock; metrics: ControllerMetrics; reconciler: NodeReconciler; notifier: Notifier; enqueueAll: () => void }, leadership: AbortSignal): void {
  const { run, options, clock, metrics, reconciler, notifier } = parts;
  const { logger } = options;
  run.leading = true;
  metrics.isLeader.set(1);
  const workQueue = new WorkQueue({ clock, rateLimiter: defaultControllerRateLimiter(clock, { backoff: { maxDelayMs: 300_000 } }) });
  // The fast path retries a failed write with per-key backoff only: no global bucket in front of
  // it (the request limiter already orders its requests first).
  const urgentQueue = new WorkQueue({ clock, rateLimiter: defaultControllerRateLimiter(clock, { backoff: { maxDelayMs: 30_000 }, bucket: { qps: 1_000, burst: 10_000 } }) });
  run.queue = workQueue;
  run.protectQueue = urgentQueue;
  leadership.addEventListener(
    'abort',
    () => {
      // Stop at once: nothing queued runs any more, and the writer refuses in-flight writes.
      run.leading = false;
      metrics.isLeader.set(0);
      workQueue.shutDown();
      urgentQueue.shutDown();
      notifier.stop();
    },
    { once: true },
  );
  parts.enqueueAll();
  const onError = (which: WorkQueue) => (key: string, error: unknown) => {
    metrics.reconcileErrors.inc();
    logger.warn('reconcile failed, retrying with backoff', { node: key, error: error instanceof Error ? error.message : String(error), retries: which.numRequeues(key) });
  };
  const protectWorkers = options.protectWorkers ?? DEFAULT_PROTECT_WORKERS;
  run.workersDone = Promise.all([
    runWorkers(workQueue, options.workers, (key) => timedReconcile(reconciler, metrics, key), { onError: onError(workQueue) }),
    runWorkers(urgentQueue, protectWorkers, (key) => reconciler.protect(key), { onError: onError(urgentQueue) }),
  ]).then(() => undefined);
  logger.info('workers started', { workers: options.workers, protectWorkers });
}

/**
 * Works while leading (or at once, without leader election) until `signal` aborts or leadership is
 * lost. On a graceful stop the workers stop first and the Lease is released last.
 */
async function runTerms(parts: { run: RunState; options: ControllerOptions; clock: Clock; metrics: ControllerMetrics; startWork: (leadership: AbortSignal) => void }, signal: AbortSignal): Promise<ControllerExit> {
  const { run, options, clock, metrics, startWork } = parts;
  const { logger } = options;
  if (!options.leaderElect) {
    const always = new AbortController();
    startWork(always.signal);
    await abortable(signal);
    await stopWorkers([run.queue, run.protectQueue], run.workersDone, clock, options.shutdownTimeoutMs);
    always.abort();
    return 'stopped';
  }
  const timing = { ...DEFAULT_LEADER_ELECTION, ...options.leaderElection };
  // The election stops only after the workers did (see below), so the Lease is released last.
  const election = new AbortController();
  const stopWorkersThenElection = async () => {
    await stopWorkers([run.queue, run.protectQueue], run.workersDone, clock, options.shutdownTimeoutMs);
    election.abort();
  };
  signal.addEventListener('abort', () => void stopWorkersThenElection(), { once: true });
  const outcome = await runLeaderElection(
    {
      identity: options.identity,
      store: kubeLeaseStore(options.kubeConfig, options.leaseNamespace, options.leaseName ?? LEASE_NAME),
      clock,
      logger,
      ...timing,
      onStartedLeading: startWork,
      onStoppedLeading: () => metrics.isLeader.set(0),
      onNewLeader: (identity) => logger.info('leader elected', { leader: identity }),
    },
    election.signal,
  );
  return outcome === 'lost' ? 'lost-leadership' : 'stopped';
}

async function timedReconcile(reconciler: NodeReconciler, metrics: ControllerMetrics, key: string) {
  const end = metrics.reconcileDuration.startTimer();
  try {
    const result = await reconciler.reconcile(key);
    end({ result: 'success' });
    return result;
  } catch (error) {
    end({ result: 'error' });
    throw error;
  }
}

/** Graceful: nothing new starts, in-flight reconciles finish (bounded). */
async function stopWorkers(queues: readonly (WorkQueue | undefined)[], workersDone: Promise<void>, clock: Clock, timeoutMs = 10_000): Promise<void> {
  for (const queue of queues) queue?.shutDown();
  await Promise.race([workersDone, sleep(clock, timeoutMs)]);
}

function abortable(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** Objects a list request, as client-go pages: a large list never sits whole in memory twice. */
const LIST_PAGE = 500;
/** Fast-path workers: a 500-node wave's cordons in flight 32 at a time. */
export const DEFAULT_PROTECT_WORKERS = 32;
/** Evictions in flight at once across every draining node. */
export const DEFAULT_MAX_CONCURRENT_EVICTIONS = 50;
/** Status reports (conditions only) written at once, off the reconciles' path (status-reports.ts). */
const STATUS_REPORT_WRITERS = 8;

/**
 * Drain readiness (readiness/drain-readiness.ts), off until the configuration enables it: every pod,
 * trimmed to what the verdict reads, and every PodDisruptionBudget, listed in pages at the lowest
 * priority so that a relist of 150,000 pods never delays a cordon or an eviction. A change requeues
 * its nodes on the work queue, never on the fast path; the status it leads to is a report, written
 * at the lowest priority too (docs/maintenance.md, "Drain readiness"). Once both informers have
 * listed, every node is queued: until then no verdict was given.
 */
function wireReadiness(options: ControllerOptions, clients: ApiClients, clock: Clock, tally: ReadinessTally, requeue: { one: (name: string) => void; all: () => void }) {
  const watch = new DrainReadiness({
    kubeConfig: options.kubeConfig,
    listPods: (page) => clients.lowCore.listPodForAllNamespaces(page),
    listPdbs: (page) => clients.lowPolicy.listPodDisruptionBudgetForAllNamespaces(page),
    pageSize: LIST_PAGE,
    clock,
    logger: options.logger,
    onChange: (names) => {
      for (const name of names) requeue.one(name);
    },
    onSynced: () => requeue.all(),
  });
  const source: ReadinessSource = {
    look: (name, config) => (config.drainReadiness.enabled ? watch.look(name, config.drain) : { kind: 'off' }),
    observed: (name, look, eventPending) => tally.observed(name, look, eventPending),
    forget: (name) => tally.forget(name),
  };
  const applied = (config: ControllerConfig) => {
    watch.enable(config.drainReadiness.enabled);
    if (!config.drainReadiness.enabled) tally.clear();
  };
  return { watch, source, applied };
}

/**
 * The pods' two requests for drain-pods.ts: a list of one node's pods (rate-limited like every
 * request) and the watch of every pod, with bookmarks, which client-node ends after 30 s without
 * a byte: a normal end, resumed from the last version.
 */
function podSource(kubeConfig: KubeConfig, core: CoreV1Api): PodSource {
  return {
    list: (nodeName, page) => core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}`, ...page }),
    watch: async (resourceVersion, onEvent, onDone) => {
      const request = await new Watch(kubeConfig).watch(
        '/api/v1/pods',
        { resourceVersion, allowWatchBookmarks: true },
        (type, object) => onEvent(type as PodWatchEventType, object as V1Pod),
        (error: unknown) => onDone(error instanceof Error && error.name === 'TimeoutError' ? undefined : error),
      );
      return () => request.abort();
    },
  };
}

