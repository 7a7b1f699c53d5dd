// Where the controller's Kubernetes Events go: core/v1 Events through client-node.

import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { EventSink, KubeEvent } from '../observability/events.js';
import { KubeApiError } from './errors.js';

export interface KubeEventSinkOptions {
  /** Counts each write request (nodemeta_controller_api_writes_total{resource="events"}). */
  onWrite?: (verb: 'create' | 'patch') => void;
}

/**
 * Events through `client`: best the low-priority CoreV1Api of kube/api-clients.ts, so that Events
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
        throw asKubeApiError(error, 'POST', path);
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
          throw asKubeApiError(error, 'PATCH', path);
        });
    },
  };
}

/**
 * The server's answer as the KubeApiError that src/kube/errors.ts classifies (so the recorder can
 * tell a 429 or 5xx, worth retrying, from a refusal); an error without an answer (connection
 * refused, reset, timeout) stays as it is, and counts as transient there.
 */
function asKubeApiError(error: unknown, method: string, path: string): unknown {
  if (!(error instanceof ApiException)) return error;
  const body: unknown = typeof error.body === 'string' ? safeParse(error.body) ?? error.body : error.body;
  const status = (typeof body === 'object' && body !== null ? body : {}) as { reason?: unknown; message?: unknown };
  const reason = typeof status.reason === 'string' ? status.reason : 'Unknown';
  const message = typeof status.message === 'string' ? status.message : String(error.body).slice(0, 300);
  return new KubeApiError(error.code, reason, message, method, path, body);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
