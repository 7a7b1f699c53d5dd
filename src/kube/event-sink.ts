// Where the controller's Kubernetes Events go: core/v1 Events through client-node.

import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { EventSink, KubeEvent } from '../observability/events.js';

export interface KubeEventSinkOptions {
  /** Counts each write request (nodemeta_controller_api_writes_total{resource="events"}). */
  onWrite?: (verb: 'create' | 'patch') => void;
}

export function kubeEventSink(kubeConfig: KubeConfig, options: KubeEventSinkOptions = {}): EventSink {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async create(event: KubeEvent) {
      options.onWrite?.('create');
      const body: CoreV1Event = {
        ...event,
        firstTimestamp: new Date(event.firstTimestamp),
        lastTimestamp: new Date(event.lastTimestamp),
      };
      await core.createNamespacedEvent({ namespace: event.metadata.namespace, body });
    },
    async updateCount(namespace, name, count, lastTimestamp) {
      options.onWrite?.('patch');
      await core.patchNamespacedEvent(
        { namespace, name, body: { count, lastTimestamp } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
  };
}
