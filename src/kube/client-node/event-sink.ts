// Where the controller's Kubernetes Events go: core/v1 Events through client-node.

import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { EventSink, KubeEvent } from '../../observability/events.js';
import { fromClientNodeError } from '../../api/kube-errors.js';

export interface KubeEventSinkOptions {
  /** Counts each write request (nodemeta_controller_api_writes_total{resource="events"}). */
  onWrite?: (verb: 'create' | 'patch') => void;
}

/**
 * Events through `client`: best the low-priority CoreV1Api of kube/client-node/api-clients.ts, so that Events
 * share the controller's rate limit and go last; a KubeConfig makes an unlimited client of its own.
 */
export function kubeEventSink(client: CoreV1Api | KubeConfig, options: KubeEventSinkOptions = {}): EventSink {
  const core = client instanceof CoreV1Api ? client : client.makeApiClient(CoreV1Api);
  return {
    async create(event: KubeEvent) {
      options.onWrite?.('create');
      const body: CoreV1Event = {
        ...event,
        firstTimestamp: new Date(event.firstTimestamp),
        lastTimestamp: new Date(event.lastTimestamp),
      };
      const path = `/api/v1/namespaces/${event.metadata.namespace}/events`;
      await core.createNamespacedEvent({ namespace: event.metadata.namespace, body }).catch((error: unknown) => {
        throw fromClientNodeError(error, 'POST', path);
      });
    },
    async updateCount(namespace, name, count, lastTimestamp, message) {
      options.onWrite?.('patch');
      const path = `/api/v1/namespaces/${namespace}/events/${name}`;
      await core
        .patchNamespacedEvent(
          { namespace, name, body: message === undefined ? { count, lastTimestamp } : { count, lastTimestamp, message } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .catch((error: unknown) => {
          throw fromClientNodeError(error, 'PATCH', path);
        });
    },
  };
}
