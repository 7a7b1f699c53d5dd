// Wiring of `nodemeta controller`: configuration (reloaded on change), informers on Nodes and
// NodeMetadata, a work queue keyed by node name, the reconciler, Lease leader election, Events,
// metrics and health endpoints, and an orderly shutdown.
//
// Every replica keeps warm caches and serves /readyz once they are synced (a follower is ready:
// it can take over at once). Only the leader runs workers; when leadership is lost the queue is
// shut at once, the writer refuses any further write, and run() resolves 'lost' so that the
// process exits and restarts clean (client-go's advice: never try to resume after losing a lease).
// SIGTERM: stop the workers (in-flight reconciles finish), release the Lease so the other replica
// takes over without waiting for it to expire, close the informers.

import { hostname } from 'node:os';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION } from '../api/names.js';
import { MaintenancePhase, type NodeMetadata } from '../api/nodemetadata.js';
import { kubeEventSink } from '../kube/event-sink.js';
import { kubeLeaseStore } from '../kube/lease-store.js';
import { KubeEventRecorder, type ObjectReference } from '../observability/events.js';
import { startHealthServer, type HealthServer } from '../observability/health-server.js';
import type { Logger } from '../observability/logger.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { ResilientInformer } from '../runtime/informer.js';
import { runLeaderElection, sleep } from '../runtime/leader-election.js';
import { defaultControllerRateLimiter } from '../runtime/rate-limiter.js';
import { runWorkers, WorkQueue } from '../runtime/workqueue.js';
import { drainPodOf, nodeStateOf, podForCache, type ClusterCache } from './cluster-state.js';
import { DEFAULT_CONFIG, type ControllerConfig } from './config.js';
import { ConfigWatcher, type ConfigReload } from './config-watcher.js';
import { createControllerMetrics, type ControllerMetrics } from './metrics.js';
import { kubeNodeWriter } from './node-writer.js';
import { NodeReconciler } from './reconciler.js';

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
  /** Off: this process works alone (development, tests); there must be one replica only. */
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName?: string;
  identity: string;
  leaderElection?: Partial<LeaderElectionTiming>;
  workers: number;
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

/** Why run() returned: a graceful stop, or leadership lost (the process should exit non-zero). */
export type ControllerExit = 'stopped' | 'lost-leadership';

export function defaultIdentity(): string {
  // Two local processes share a hostname: the pid keeps their identities apart.
  return process.env.POD_NAME || `${hostname()}_${process.pid}`;
}

/** Runs the controller until `signal` aborts (graceful stop) or leadership is lost. */
export async function runController(options: ControllerOptions, signal: AbortSignal): Promise<ControllerExit> {
  const clock = options.clock ?? systemClock;
  const { logger, kubeConfig } = options;
  const registry = options.registry ?? new Registry();
  let queue: WorkQueue | undefined;
  let leading = false;
  // Filled in below, once the informers exist.
  let nodesByPhase: () => ReadonlyMap<string, number> = () => new Map();
  const metrics = createControllerMetrics({ registry, queueDepth: () => queue?.len() ?? 0, nodesByPhase: () => nodesByPhase() });
  metrics.isLeader.set(0);

  const events = new KubeEventRecorder({
    sink: kubeEventSink(kubeConfig, { onWrite: (verb) => metrics.apiWrites.inc({ resource: 'events', verb }) }),
    clock,
    logger,
    component: COMPONENT,
    instance: options.identity,
    onDropped: () => metrics.eventsDropped.inc(),
  });

  // ---- informers ----
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const nodes = new ResilientInformer<V1Node>({
    name: 'nodes',
    kubeConfig,
    path: '/api/v1/nodes',
    list: () => core.listNode(options.nodeSelector === undefined ? {} : { labelSelector: options.nodeSelector }),
    ...(options.nodeSelector === undefined ? {} : { labelSelector: options.nodeSelector }),
    clock,
    logger,
  });
  // Custom objects come back as raw JSON (no client-node model), i.e. exactly NodeMetadata.
  const nodeMetadatas = new ResilientInformer<KubernetesObject>({
    name: PLURAL,
    kubeConfig,
    path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    list: async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as KubernetesListObject<KubernetesObject>,
    clock,
    logger,
  });
  // Every pod of the cluster: a drain must see the pods of its node, and their deletions end it.
  // The cache keeps only the few fields a drain reads (podForCache).
  const pods = new ResilientInformer<V1Pod>({
    name: 'pods',
    kubeConfig,
    path: '/api/v1/pods',
    list: (page) => core.listPodForAllNamespaces(page),
    pageSize: POD_LIST_PAGE,
    transform: podForCache,
    clock,
    logger,
  });
  const podsByNode = new PodsByNode();
  const enqueue = (name: string | undefined) => {
    if (name !== undefined && name !== '') queue?.add(name);
  };
  // A pod matters to the controller only while its node drains (or failed to): its going may end the drain.
  const podPhases: readonly string[] = [MaintenancePhase.Draining, MaintenancePhase.Failed];
  const onPod = (pod: V1Pod) => {
    const nodeName = pod.spec?.nodeName;
    if (nodeName === undefined || nodeName === '') return;
    const phase = (nodeMetadatas.get(nodeName) as NodeMetadata | undefined)?.status?.maintenance?.phase;
    if (phase !== undefined && podPhases.includes(phase)) enqueue(nodeName);
  };
  pods.on('add', (pod) => {
    podsByNode.put(pod);
    onPod(pod);
  });
  pods.on('update', (pod) => {
    podsByNode.put(pod);
    onPod(pod);
  });
  pods.on('delete', (pod) => {
    podsByNode.remove(pod);
    onPod(pod);
  });
  const enqueueAll = () => {
    for (const node of nodes.list()) enqueue(node.metadata?.name);
  };
  // A node's maintenance phase can unblock others: a drain that ends frees budget for the nodes
  // waiting Cordoned, a node that becomes Drained may complete the set an approval waits for.
  const waitingPhases: readonly string[] = [MaintenancePhase.Cordoned, MaintenancePhase.Drained];
  const phases = new Map<string, string>();
  const onNodeMetadata = (nodeMetadata: KubernetesObject, deleted: boolean) => {
    const name = nodeMetadata.metadata?.name;
    if (name === undefined) return;
    const phase = deleted ? undefined : (nodeMetadata as NodeMetadata).status?.maintenance?.phase;
    const before = phases.get(name);
    if (phase === undefined) phases.delete(name);
    else phases.set(name, phase);
    // NodeMetadata is named after its Node.
    enqueue(name);
    if (before === phase) return;
    for (const [other, otherPhase] of phases) if (other !== name && waitingPhases.includes(otherPhase)) enqueue(other);
  };
  for (const verb of ['add', 'update', 'delete'] as const) {
    nodes.on(verb, (node) => enqueue(node.metadata?.name));
    nodeMetadatas.on(verb, (nodeMetadata) => onNodeMetadata(nodeMetadata, verb === 'delete'));
  }
  const cache: ClusterCache = {
    node: (name) => {
      const node = nodes.get(name);
      return node === undefined ? undefined : nodeStateOf(node);
    },
    nodeMetadata: (name) => nodeMetadatas.get(name) as NodeMetadata | undefined,
    nodeNames: () => nodes.list().map((node) => node.metadata?.name ?? '').filter((name) => name !== ''),
    podsOn: (nodeName) => podsByNode.on(nodeName).map(drainPodOf),
    // The pods cache too: a drain planned from a cold pod cache would find the node empty.
    warm: () => nodes.hasSynced() && nodeMetadatas.hasSynced() && pods.hasSynced(),
  };
  nodesByPhase = () => {
    const counts = new Map<string, number>();
    for (const name of cache.nodeNames()) {
      const phase = cache.nodeMetadata(name)?.status?.maintenance?.phase ?? MaintenancePhase.None;
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
    return counts;
  };

  // ---- configuration ----
  let config: ControllerConfig = DEFAULT_CONFIG;
  let watcher: ConfigWatcher | undefined;
  const onReload = (reload: ConfigReload) => {
    metrics.configReloads.inc({ result: reload.ok ? 'success' : 'failure' });
    if (reload.ok) {
      config = reload.config;
      logger.info('configuration reloaded', { path: options.configPath });
      enqueueAll();
    } else {
      logger.error('configuration rejected, keeping the last good one', { path: options.configPath, errors: reload.errors });
      if (options.podRef !== undefined) events.record(options.podRef, 'Warning', 'ConfigRejected', reload.errors.join('; '));
    }
  };
  if (options.configPath !== undefined) {
    watcher = new ConfigWatcher({ path: options.configPath, clock, onReload });
    config = await watcher.start();
  }

  // ---- reconciler ----
  const writer = kubeNodeWriter({ kubeConfig, isLeading: () => leading, onWrite: (resource, verb) => metrics.apiWrites.inc({ resource, verb }) });
  const reconciler = new NodeReconciler({ cache, writer, events, config: () => config, clock, logger, counters: metrics });

  // ---- health ----
  const health: HealthServer = await startHealthServer({
    host: options.metricsHost,
    port: options.metricsPort,
    registry,
    readiness: [
      { name: 'nodes informer', check: () => (nodes.hasSynced() ? undefined : 'not synced') },
      { name: 'nodemetadatas informer', check: () => (nodeMetadatas.hasSynced() ? undefined : 'not synced') },
      { name: 'pods informer', check: () => (pods.hasSynced() ? undefined : 'not synced') },
    ],
  });
  logger.info('health and metrics server listening', { url: health.url });
  options.onStarted?.({ healthUrl: health.url });

  // ---- run ----
  let workersDone: Promise<void> = Promise.resolve();
  const startWork = (leadership: AbortSignal) => {
    leading = true;
    metrics.isLeader.set(1);
    const workQueue = new WorkQueue({ clock, rateLimiter: defaultControllerRateLimiter(clock, { backoff: { maxDelayMs: 300_000 } }) });
    queue = workQueue;
    leadership.addEventListener(
      'abort',
      () => {
        // Stop at once: nothing queued runs any more, and the writer refuses in-flight writes.
        leading = false;
        metrics.isLeader.set(0);
        workQueue.shutDown();
      },
      { once: true },
    );
    enqueueAll();
    workersDone = runWorkers(workQueue, options.workers, (key) => timedReconcile(reconciler, metrics, key), {
      onError: (key, error) => {
        metrics.reconcileErrors.inc();
        logger.warn('reconcile failed, retrying with backoff', { node: key, error: error instanceof Error ? error.message : String(error), retries: workQueue.numRequeues(key) });
      },
    });
    logger.info('workers started', { workers: options.workers });
  };

  let exit: ControllerExit = 'stopped';
  try {
    await Promise.race([Promise.all([nodes.start(), nodeMetadatas.start(), pods.start()]), abortable(signal)]);
    if (signal.aborted) return exit;
    logger.info('caches synced');

    if (options.leaderElect) {
      const timing = { ...DEFAULT_LEADER_ELECTION, ...options.leaderElection };
      // The election stops only after the workers did (see below), so the Lease is released last.
      const election = new AbortController();
      const stopWorkersThenElection = async () => {
        await stopWorkers(queue, workersDone, clock, options.shutdownTimeoutMs);
        election.abort();
      };
      signal.addEventListener('abort', () => void stopWorkersThenElection(), { once: true });
      const outcome = await runLeaderElection(
        {
          identity: options.identity,
          store: kubeLeaseStore(kubeConfig, options.leaseNamespace, options.leaseName ?? LEASE_NAME),
          clock,
          logger,
          ...timing,
          onStartedLeading: startWork,
          onStoppedLeading: () => metrics.isLeader.set(0),
          onNewLeader: (identity) => logger.info('leader elected', { leader: identity }),
        },
        election.signal,
      );
      if (outcome === 'lost') exit = 'lost-leadership';
    } else {
      const always = new AbortController();
      startWork(always.signal);
      await abortable(signal);
      await stopWorkers(queue, workersDone, clock, options.shutdownTimeoutMs);
      always.abort();
    }
    return exit;
  } finally {
    leading = false;
    queue?.shutDown();
    watcher?.stop();
    await Promise.race([events.flush(), sleep(clock, 2_000)]);
    await Promise.all([nodes.stop(), nodeMetadatas.stop(), pods.stop()]).catch(() => undefined);
    await health.close();
    logger.info('controller stopped', { reason: exit });
  }
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
async function stopWorkers(queue: WorkQueue | undefined, workersDone: Promise<void>, clock: Clock, timeoutMs = 10_000): Promise<void> {
  queue?.shutDown();
  await Promise.race([workersDone, sleep(clock, timeoutMs)]);
}

function abortable(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** Pods a list request: each page is trimmed (podForCache) before the next, as client-go pages by 500. */
const POD_LIST_PAGE = 500;

/**
 * The pods cache indexed by spec.nodeName, kept by the informer's events: a drain asks for one
 * node's pods, and scanning every pod of a large cluster on each reconcile would not do. A pod's
 * nodeName is set once (binding) and never changes, so an update only refreshes the entry.
 */
class PodsByNode {
  private readonly byNode = new Map<string, Map<string, V1Pod>>();

  put(pod: V1Pod): void {
    const nodeName = pod.spec?.nodeName;
    const key = podKey(pod);
    if (nodeName === undefined || nodeName === '' || key === undefined) return;
    let pods = this.byNode.get(nodeName);
    if (pods === undefined) {
      pods = new Map();
      this.byNode.set(nodeName, pods);
    }
    pods.set(key, pod);
  }

  remove(pod: V1Pod): void {
    const nodeName = pod.spec?.nodeName;
    const key = podKey(pod);
    if (nodeName === undefined || key === undefined) return;
    const pods = this.byNode.get(nodeName);
    pods?.delete(key);
    if (pods?.size === 0) this.byNode.delete(nodeName);
  }

  on(nodeName: string): V1Pod[] {
    return [...(this.byNode.get(nodeName)?.values() ?? [])];
  }
}

function podKey(pod: V1Pod): string | undefined {
  const { namespace, name } = pod.metadata ?? {};
  return name === undefined ? undefined : `${namespace ?? ''}/${name}`;
}
