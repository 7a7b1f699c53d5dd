// A list-watch cache that restarts itself. client-node's ListWatch re-watches on its own after a
// timeout or 410 Gone, but on any other error (API server restart, a network cut, RBAC glitch) it
// reports the error and stops for good; a controller built on it goes blind. This wrapper restarts
// it with the one backoff (time/backoff.ts: full jitter, capped) and says whether the cache is
// warm (listed at least once since the last restart), which the reconciler needs before it dares
// to remove anything.

import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { fromClientNodeError } from '../api/kube-errors.js';
import { Backoff, type Random } from '../time/backoff.js';
import { sleep, type Clock } from '../time/clock.js';
import type { Logger } from '../observability/logger.js';

export type InformerEvent = 'add' | 'update' | 'delete';

/** `T` is the object the API serves, `U` what the cache keeps (T itself without a transform). */
export interface ResilientInformerOptions<T extends KubernetesObject, U extends KubernetesObject = T> {
  /** For logs and metrics, e.g. `nodes`. */
  name: string;
  kubeConfig: KubeConfig;
  /** Watch path, e.g. `/api/v1/nodes`. */
  path: string;
  /** One page of the list: `page` carries the limit and continue token when `pageSize` is set. */
  list: (page: ListPage) => Promise<KubernetesListObject<T>>;
  /**
   * List this many objects a request, following the continue token (one consistent snapshot: the
   * API server serves a continued list at its first page's resourceVersion). With `transform`, each
   * page is trimmed before the next is fetched, so a large list never sits whole in memory.
   */
  pageSize?: number;
  labelSelector?: string;
  fieldSelector?: string;
  clock: Clock;
  logger: Logger;
  /**
   * Restarts wait random(0, min(max, initial × 2ⁿ)) (defaults 500 ms and 10 s), from the first window
   * again once synced. The cap bounds how long after an API server outage the cache is back: at
   * most 10 s more (a controller runs two replicas, each with a handful of informers: their
   * retries cost the server nothing that matters).
   */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Uniform numbers in [0, 1) for the backoff's jitter (default Math.random). */
  random?: Random;
  /** Called on each error before the restart (metrics). */
  onError?: (err: unknown) => void;
  /**
   * Applied to every object before the cache stores it, from the list and from the watch alike:
   * keep only what the controller reads, so that a cache of every pod of a large cluster stays small.
   * It must keep metadata.name, namespace and resourceVersion. It may return another type (a pod
   * reduced to a small class of its own: controller/readiness/pod-index.ts).
   */
  transform?: (raw: T) => U;
}

export interface ListPage {
  limit?: number;
  _continue?: string;
}

/** A Watch whose objects pass through `transform` before the ListWatch sees them. */
class TransformingWatch<T, U> extends Watch {
  constructor(
    config: KubeConfig,
    private readonly transform: (raw: T) => U,
  ) {
    super(config);
  }

  override watch(...[path, queryParams, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    // BOOKMARK and ERROR objects are not the resource: they pass as they are.
    return super.watch(path, queryParams, (phase, obj: unknown, raw?: unknown) => callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.transform(obj as T) : obj, raw), done);
  }
}

/** The longest wait before an informer retries (see ResilientInformerOptions.initialBackoffMs). */
export const INFORMER_MAX_BACKOFF_MS = 10_000;

export class ResilientInformer<T extends KubernetesObject, U extends KubernetesObject = T> implements ObjectCache<U> {
  private readonly listWatch: ListWatch<U>;
  private readonly handlers: Record<InformerEvent, ((obj: U) => void)[]> = { add: [], update: [], delete: [] };
  private readonly stopController = new AbortController();
  private synced = false;
  private failures = 0;
  private readonly backoff: Backoff;
  private firstSync: { promise: Promise<void>; resolve: () => void };

  constructor(private readonly options: ResilientInformerOptions<T, U>) {
    const baseMs = options.initialBackoffMs ?? 500;
    this.backoff = new Backoff({ baseMs, capMs: Math.max(baseMs, options.maxBackoffMs ?? INFORMER_MAX_BACKOFF_MS), random: options.random ?? Math.random });
    const { transform } = options;
    const watch = transform === undefined ? new Watch(options.kubeConfig) : new TransformingWatch<T, U>(options.kubeConfig, transform);
    const list = () => listAll<T, U>(options.list, options.pageSize, transform);
    this.listWatch = new ListWatch<U>(options.path, watch, list, false, options.labelSelector, options.fieldSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.listWatch.on(verb, (obj) => {
        for (const handler of this.handlers[verb]) handler(obj);
      });
    }
    this.listWatch.on('error', (err) => void this.restart(err));
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstSync = { promise, resolve };
  }

  on(verb: InformerEvent, handler: (obj: U) => void): void {
    this.handlers[verb].push(handler);
  }

  get(name: string, namespace?: string): U | undefined {
    return this.listWatch.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<U> {
    return this.listWatch.list(namespace);
  }

  /** True once the cache holds a full list; false again while it restarts after an error. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Starts list-watch; resolves after the first successful list, retrying until then. */
  async start(): Promise<void> {
    void this.connect();
    await Promise.race([this.firstSync.promise, abortPromise(this.stopController.signal)]);
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.synced = false;
    await this.listWatch.stop();
  }

  private async connect(): Promise<void> {
    const failuresBefore = this.failures;
    try {
      await this.listWatch.start();
    } catch (err) {
      await this.restart(err);
      return;
    }
    // ListWatch.start() does not throw when its list fails: it emits 'error' (which already
    // scheduled a restart and counted the failure) and resolves. Only a clean start is a sync;
    // otherwise a failed list would count as a warm (but empty) cache and let removals through.
    if (this.failures !== failuresBefore || this.stopController.signal.aborted) return;
    this.synced = true;
    this.failures = 0;
    this.backoff.reset();
    this.firstSync.resolve();
  }

  private async restart(err: unknown): Promise<void> {
    if (this.stopController.signal.aborted) return;
    this.synced = false;
    this.failures++;
    this.options.onError?.(err);
    const delay = this.backoff.next();
    // One line with the server's own message (api/kube-errors.ts), not client-node's dump of the answer.
    const error = errorMessage(fromClientNodeError(err, 'GET', this.options.path));
    this.options.logger.warn('informer failed, restarting', { informer: this.options.name, error, retryInMs: delay });
    await sleep(this.options.clock, delay, this.stopController.signal);
    if (this.stopController.signal.aborted) return;
    await this.listWatch.stop().catch(() => undefined);
    await this.connect();
  }
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

/**
 * The continue token of a list page. client-node's typed lists (V1NodeList) spell it `_continue`;
 * a custom object list comes back as the API server's raw JSON, where it is `continue`. Reading only
 * the first stopped a NodeMetadata list after its first page: 500 of 1,000 nodes were never seen.
 */
export function continueToken(page: KubernetesListObject<KubernetesObject>): string | undefined {
  const metadata = page.metadata as { _continue?: string; continue?: string } | undefined;
  const token = metadata?._continue ?? metadata?.continue;
  return token === undefined || token === '' ? undefined : token;
}

/** Every page of a list, each passed through `transform`; the last page's resourceVersion. */
export async function listAll<T extends KubernetesObject, U extends KubernetesObject = T>(
  list: (page: ListPage) => Promise<KubernetesListObject<T>>,
  pageSize: number | undefined,
  transform: ((raw: T) => U) | undefined,
): Promise<KubernetesListObject<U>> {
  // Without a transform U is T (the type's default): the objects pass as they are.
  const trim = (items: T[]): U[] => (transform === undefined ? (items as unknown as U[]) : items.map(transform));
  let page = await list(pageSize === undefined ? {} : { limit: pageSize });
  const items = trim(page.items);
  for (let token = continueToken(page); pageSize !== undefined && token !== undefined; token = continueToken(page)) {
    page = await list({ limit: pageSize, _continue: token });
    items.push(...trim(page.items));
  }
  return { ...page, metadata: page.metadata?.resourceVersion === undefined ? {} : { resourceVersion: page.metadata.resourceVersion }, items };
}
