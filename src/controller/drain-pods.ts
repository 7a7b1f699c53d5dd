// The pods of the nodes that drain, and only those: a list and watch of `spec.nodeName=<node>` per
// draining node, as `kubectl drain` lists them and as each kubelet watches its own pods (the API
// server indexes pods by node name for exactly this). The controller's memory then follows its work
// (nodes that drain, and their pods), not the size of the cluster: a 150,000-pod cluster with no
// maintenance costs it no pod at all.
//
// A node's watch starts the first time the reconciler asks for its pods and stops when the
// reconciler releases it (the drain is over). Until the first list has come back the node's pods
// are unknown (undefined), never "none": a drain must not look finished on a cold cache.

import type { KubeConfig, KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../runtime/clock.js';
import { ResilientInformer, type ListPage } from '../runtime/informer.js';
import { drainPodOf, podForCache } from './cluster-state.js';
import type { DrainPod } from './maintenance/drain-plan.js';

export interface DrainPodWatchesOptions {
  kubeConfig: KubeConfig;
  /** One page of the pods matching `fieldSelector` across namespaces. */
  list: (fieldSelector: string, page: ListPage) => Promise<KubernetesListObject<V1Pod>>;
  clock: Clock;
  logger: Logger;
  /** A watched node's pods changed, or its first list came back: reconcile it. */
  onChange: (nodeName: string) => void;
}

/** Pods a list request: a node holds at most a few hundred, so one page almost always. */
const POD_LIST_PAGE = 500;

export class DrainPodWatches {
  private readonly watches = new Map<string, ResilientInformer<V1Pod>>();
  private stopped = false;

  constructor(private readonly options: DrainPodWatchesOptions) {}

  /** The pods bound to `nodeName`, or undefined while its watch has not listed yet (starting it if needed). */
  podsOn(nodeName: string): DrainPod[] | undefined {
    let informer = this.watches.get(nodeName);
    if (informer === undefined) {
      if (this.stopped) return undefined;
      informer = this.watch(nodeName);
    }
    return informer.hasSynced() ? informer.list().map(drainPodOf) : undefined;
  }

  /** The node's drain is over (or it is gone): stop watching its pods. */
  release(nodeName: string): void {
    const informer = this.watches.get(nodeName);
    if (informer === undefined) return;
    this.watches.delete(nodeName);
    void informer.stop().catch(() => undefined);
  }

  /** How many nodes' pods are watched now (a metric). */
  count(): number {
    return this.watches.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const informers = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(informers.map((informer) => informer.stop().catch(() => undefined)));
  }

  private watch(nodeName: string): ResilientInformer<V1Pod> {
    const fieldSelector = `spec.nodeName=${nodeName}`;
    const informer = new ResilientInformer<V1Pod>({
      name: `pods on ${nodeName}`,
      kubeConfig: this.options.kubeConfig,
      path: '/api/v1/pods',
      list: (page) => this.options.list(fieldSelector, page),
      fieldSelector,
      pageSize: POD_LIST_PAGE,
      transform: podForCache,
      clock: this.options.clock,
      logger: this.options.logger,
    });
    const changed = () => this.options.onChange(nodeName);
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, changed);
    this.watches.set(nodeName, informer);
    // start() resolves after the first list; the reconciler is told so that it need not poll.
    void informer.start().then(() => {
      if (this.watches.get(nodeName) === informer) changed();
    });
    return informer;
  }
}
