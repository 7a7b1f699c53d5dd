// Drain readiness at run time (docs/maintenance.md, "Drain readiness"): the cluster-wide pods
// informer (trimmed to IndexedPod by its transform) and the PodDisruptionBudget informer, feeding
// PodIndex and PdbIndex, and the verdict of one node from them. Each change names the nodes whose
// verdict it may change; they are handed to `onChange` (the controller requeues them). Turned on and
// off by the configuration (`drainReadiness.enabled`): off, neither informer exists.
//
// A verdict is given only once both informers have listed: on a cold cache a node would look
// empty, i.e. ready ("never ready on a cold cache").

import type { KubeConfig, KubernetesListObject, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Logger } from '../../observability/logger.js';
import { ResilientInformer, type ListPage } from '../../runtime/informer.js';
import type { Clock } from '../../time/clock.js';
import type { DrainOptions } from '../maintenance/drain-plan.js';
import { PdbIndex, readinessPdbOf } from './pdb-index.js';
import { PodIndex, indexedPodOf, type IndexedPod } from './pod-index.js';
import { drainVerdict, type DrainVerdict } from './verdict.js';

/** What the reconciler can say of a node's readiness. */
export type ReadinessLook =
  /** drainReadiness.enabled is false: our condition and status go. */
  | { kind: 'off' }
  /**
   * The informers have not listed yet (or relist after an error): keep what is stored.
   * `firstListSince` (epoch ms): this watch has never listed and has been listing since then; a
   * status report may wait for the first verdict a while (reportHoldMs).
   */
  | { kind: 'cold'; firstListSince?: number }
  | { kind: 'verdict'; verdict: DrainVerdict };

export interface DrainReadinessOptions {
  kubeConfig: KubeConfig;
  /** Every pod, one page (cluster-wide list; the controller sends it at the lowest priority). */
  listPods: (page: ListPage) => Promise<KubernetesListObject<V1Pod>>;
  /** Every PodDisruptionBudget (policy/v1), one page. */
  listPdbs: (page: ListPage) => Promise<KubernetesListObject<V1PodDisruptionBudget>>;
  pageSize: number;
  clock: Clock;
  logger: Logger;
  /** Nodes whose verdict may have changed. */
  onChange: (nodes: Iterable<string>) => void;
  /** Both informers have listed (again): every node's verdict can be given now. */
  onSynced: () => void;
  onError?: (err: unknown) => void;
}

/** The informers and indexes of one enabled period. */
interface Watching {
  pods: ResilientInformer<V1Pod, IndexedPod>;
  pdbs: ResilientInformer<V1PodDisruptionBudget>;
  podIndex: PodIndex;
  pdbIndex: PdbIndex;
  stopped: AbortController;
  /** The pods informer has listed once in this period (it keeps its cache while it relists after an error). */
  podsListed: boolean;
  /** When this watch started (epoch ms), and whether both informers have listed once since. */
  startedAt: number;
  everSynced: boolean;
}

export class DrainReadiness {
  private watching: Watching | undefined;

  constructor(private readonly options: DrainReadinessOptions) {}

  /** Starts or stops both informers (a configuration reload may do either); never waits for a list. */
  enable(on: boolean): void {
    if (on && this.watching === undefined) this.watching = this.startWatching();
    else if (!on && this.watching !== undefined) {
      const watching = this.watching;
      this.watching = undefined;
      void this.stopWatching(watching);
    }
  }

  get enabled(): boolean {
    return this.watching !== undefined;
  }

  /** Both informers hold a full list. */
  synced(): boolean {
    return this.watching !== undefined && this.watching.pods.hasSynced() && this.watching.pdbs.hasSynced();
  }

  /** The node's verdict from the indexes: no request. */
  look(nodeName: string, options: Pick<DrainOptions, 'deleteEmptyDirData' | 'forceUnmanagedPods'>): ReadinessLook {
    const watching = this.watching;
    if (watching === undefined) return { kind: 'off' };
    if (!this.synced()) return watching.everSynced ? { kind: 'cold' } : { kind: 'cold', firstListSince: watching.startedAt };
    const { podIndex, pdbIndex } = watching;
    return { kind: 'verdict', verdict: drainVerdict({ pods: podIndex.podsOn(nodeName), pdbsIn: pdbIndex.inNamespace, readyReplicas: podIndex.readyReplicas, options }) };
  }

  /**
   * The pods bound to a node, from the index, for the drain (cache/drain-pods.ts): the controller's
   * one pod watch serves both. Undefined while readiness is off or its pods have not been listed
   * yet. After that the index stays the drain's source while the informer relists after an error,
   * as any informer cache does (a relist emits the differences).
   */
  podsOn(nodeName: string): IndexedPod[] | undefined {
    const watching = this.watching;
    return watching === undefined || !watching.podsListed ? undefined : watching.podIndex.podsOn(nodeName);
  }

  /** Pods held in the index (tests, logs). */
  podCount(): number {
    return this.watching?.podIndex.size ?? 0;
  }

  async stop(): Promise<void> {
    const watching = this.watching;
    this.watching = undefined;
    if (watching !== undefined) await this.stopWatching(watching);
  }

  private startWatching(): Watching {
    const { options } = this;
    const common = { kubeConfig: options.kubeConfig, pageSize: options.pageSize, clock: options.clock, logger: options.logger, ...(options.onError === undefined ? {} : { onError: options.onError }) };
    const pods = new ResilientInformer<V1Pod, IndexedPod>({ ...common, name: 'pods', path: '/api/v1/pods', list: options.listPods, transform: indexedPodOf });
    const pdbs = new ResilientInformer<V1PodDisruptionBudget>({ ...common, name: 'poddisruptionbudgets', path: '/apis/policy/v1/poddisruptionbudgets', list: options.listPdbs });
    const podIndex = new PodIndex();
    const pdbIndex = new PdbIndex(podIndex);
    const changed = (nodes: Set<string>) => {
      if (nodes.size > 0) options.onChange(nodes);
    };
    pods.on('add', (pod) => changed(podIndex.upsert(pod)));
    pods.on('update', (pod) => changed(podIndex.upsert(pod)));
    pods.on('delete', (pod) => changed(podIndex.remove(pod.namespace, pod.name)));
    pdbs.on('add', (pdb) => changed(pdbIndex.upsert(readinessPdbOf(pdb))));
    pdbs.on('update', (pdb) => changed(pdbIndex.upsert(readinessPdbOf(pdb))));
    pdbs.on('delete', (pdb) => changed(pdbIndex.remove(pdb.metadata?.namespace ?? '', pdb.metadata?.name ?? '')));
    const watching: Watching = { pods, pdbs, podIndex, pdbIndex, stopped: new AbortController(), podsListed: false, startedAt: options.clock.now(), everSynced: false };
    void this.announceSync(watching);
    return watching;
  }

  /** Once both have listed, every node may have a verdict at last. */
  private async announceSync(watching: Watching): Promise<void> {
    const started = this.options.clock.now();
    const podsListed = watching.pods.start().then(() => {
      if (!watching.stopped.signal.aborted) watching.podsListed = true;
    });
    await Promise.all([podsListed, watching.pdbs.start()]);
    if (watching.stopped.signal.aborted) return;
    watching.everSynced = true;
    this.options.logger.info('drain readiness caches synced', { pods: watching.podIndex.size, listMs: this.options.clock.now() - started });
    this.options.onSynced();
  }

  private async stopWatching(watching: Watching): Promise<void> {
    watching.stopped.abort();
    await Promise.all([watching.pods.stop(), watching.pdbs.stop()]).catch(() => undefined);
  }
}
