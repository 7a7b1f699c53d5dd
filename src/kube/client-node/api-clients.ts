// The controller's API clients: client-node's generated APIs over an HTTP library that first takes a
// token from the shared RequestLimiter (client-side QPS and burst, with priorities) and then counts
// the request by verb and answer code. Every request the controller sends through these clients is
// limited and counted; watches are not (they are long-running and open rarely), nor is the Lease
// (leader election must renew on time whatever the workload: a wave must not cost the leadership).

import {
  CoreV1Api,
  CustomObjectsApi,
  PolicyV1Api,
  IsomorphicFetchHttpLibrary,
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { RequestLimiter, RequestPriority } from '../../runtime/request-limiter.js';

/**
 * The default client-side rate limit, Karpenter's (a node lifecycle controller built for fleets of
 * thousands of nodes). Taints and cordons go first, so a wave's cordons never queue behind its
 * evictions; client-go's default (5 qps, burst 10) would need 100 s for 500 cordons alone.
 */
export const DEFAULT_RATE_LIMIT = { qps: 200, burst: 300 } as const;

/** Per request, once it is answered (code) or failed without an answer ('error'). */
export interface ApiRequestObserver {
  /** verb: get, list, create, update, patch, apply, delete; code: the HTTP status or 'error'. */
  answered(verb: string, code: string, seconds: number): void;
  /** How long the request waited for the rate limiter. */
  throttled(priority: RequestPriority, seconds: number): void;
}

export interface ApiClientsOptions {
  limiter: RequestLimiter;
  observer?: ApiRequestObserver;
  /** User-Agent, so the API server's audit log and flow control can tell nodemeta's requests apart. */
  userAgent: string;
  now?: () => number;
}

export interface ApiClients {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** CoreV1Api whose requests go first when the limiter makes requests wait: taints and cordons. */
  urgentCore: CoreV1Api;
  /** CoreV1Api whose requests go last: Events. */
  lowCore: CoreV1Api;
  /** CustomObjectsApi whose requests go last: status writes that only report (conditions). */
  lowCustom: CustomObjectsApi;
  /** PolicyV1Api whose requests go last: the PodDisruptionBudget list of drain readiness. */
  lowPolicy: PolicyV1Api;
}

export function makeApiClients(kubeConfig: KubeConfig, options: ApiClientsOptions): ApiClients {
  const connections: SharedConnections = {};
  const make = <T>(Api: new (config: ReturnType<typeof createConfiguration>) => T, priority: RequestPriority): T => {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      httpApi: limitedHttpLibrary(priority, options, connections),
    });
    return new Api(config);
  };
  return {
    core: make(CoreV1Api, 'normal'),
    custom: make(CustomObjectsApi, 'normal'),
    urgentCore: make(CoreV1Api, 'urgent'),
    lowCore: make(CoreV1Api, 'low'),
    lowCustom: make(CustomObjectsApi, 'low'),
    lowPolicy: make(PolicyV1Api, 'low'),
  };
}

/**
 * One connection pool for every request. client-node 2.0 gives each request a dispatcher of its own
 * (KubeConfig.applySecurityAuthentication builds a new undici Agent per call), so each request would
 * open a TLS connection of its own and close it: a handshake per request, and at fleet scale
 * thousands of sockets and TLS contexts for the garbage collector. The TLS settings come from the
 * kubeconfig and are the same for every request (a bearer token travels in a header), so the first
 * dispatcher serves them all, with keep-alive, as client-go's transport does.
 */
interface SharedConnections {
  dispatcher?: ReturnType<RequestContext['getDispatcher']>;
}

function limitedHttpLibrary(priority: RequestPriority, options: ApiClientsOptions, connections: SharedConnections) {
  const inner = new IsomorphicFetchHttpLibrary();
  const now = options.now ?? (() => performance.now());
  return wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      request.setHeaderParam('User-Agent', options.userAgent);
      connections.dispatcher ??= request.getDispatcher();
      if (connections.dispatcher !== undefined) request.setDispatcher(connections.dispatcher);
      const queued = now();
      const done = await options.limiter.acquire(priority);
      const sent = now();
      options.observer?.throttled(priority, (sent - queued) / 1000);
      const verb = verbOf(request);
      try {
        const response = await inner.send(request).toPromise();
        options.observer?.answered(verb, String(response.httpStatusCode), (now() - sent) / 1000);
        return response;
      } catch (error) {
        options.observer?.answered(verb, 'error', (now() - sent) / 1000);
        throw error;
      } finally {
        done();
      }
    },
  });
}

/** The API verb of a request, as the API server's metrics name it (apply is a PATCH with the apply content type). */
export function verbOf(request: Pick<RequestContext, 'getHttpMethod' | 'getHeaders' | 'getUrl'>): string {
  const method = String(request.getHttpMethod()).toUpperCase();
  switch (method) {
    case 'GET': {
      // A collection (no name after the resource) is a list: /api/v1/pods, /apis/g/v/plural.
      const path = new URL(request.getUrl()).pathname.split('/').filter((part) => part !== '');
      const resourceIndex = path[0] === 'api' ? 2 : 3;
      const namespaced = path[resourceIndex] === 'namespaces' && path.length > resourceIndex + 2;
      return path.length <= resourceIndex + (namespaced ? 3 : 1) ? 'list' : 'get';
    }
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'PATCH': {
      const contentType = Object.entries(request.getHeaders()).find(([key]) => key.toLowerCase() === 'content-type')?.[1] ?? '';
      return contentType.includes('apply-patch') ? 'apply' : 'patch';
    }
    default:
      return method.toLowerCase();
  }
}
