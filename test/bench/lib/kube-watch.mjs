/* global setTimeout, clearTimeout */
// Watches for the benches: the objects of one API path kept up to date from a watch, and waits for
// a condition on them that resolve with the moment the watch event that made it true arrived (so a
// figure is the time the change became visible to a client watching, not when a poll happened by).
import { Watch } from '@kubernetes/client-node';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The objects under `apiPath` (with `params`, e.g. a fieldSelector), by namespace/name, kept from a
 * watch that restarts itself (client-node's watch ends after 30 s without data, the server closes
 * watches now and then) from the last resourceVersion, or from scratch after a 410.
 */
export class WatchedObjects {
  constructor(kubeConfig, apiPath, params = {}) {
    this.kubeConfig = kubeConfig;
    this.apiPath = apiPath;
    this.params = params;
    this.objects = new Map();
    this.waiters = new Set();
    this.listeners = new Set();
    this.stopped = false;
    this.synced = false;
  }

  /** Starts watching; resolves once the first connection has listed what exists (best effort: 1 s). */
  async start() {
    void this.loop();
    for (const deadline = Date.now() + 5000; !this.synced && Date.now() < deadline; ) await sleep(50);
    return this;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters.clear();
  }

  get(name, namespace) {
    return this.objects.get(namespace === undefined ? name : `${namespace}/${name}`);
  }

  list() {
    return [...this.objects.values()];
  }

  /** Calls fn(type, object, arrivalMs) for every change from now on. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Resolves with the arrival time (epoch ms) of the watch event after which pred(this) holds, or
   * now if it holds already; rejects after timeoutMs.
   */
  until(pred, timeoutMs, what) {
    if (pred(this)) return Promise.resolve(Date.now());
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  apply(type, object, arrivalMs) {
    const { name, namespace } = object.metadata ?? {};
    const key = namespace === undefined ? name : `${namespace}/${name}`;
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, object);
    for (const listener of this.listeners) listener(type, object, arrivalMs);
    for (const waiter of [...this.waiters]) {
      if (!waiter.pred(this)) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(arrivalMs);
    }
  }

  async loop() {
    let resourceVersion;
    while (!this.stopped) {
      const fresh = resourceVersion === undefined;
      const seen = new Set();
      await new Promise((resolve) => {
        const query = { ...this.params, allowWatchBookmarks: true, ...(fresh ? {} : { resourceVersion }) };
        // The first ADDED burst of a fresh watch is the current state; mark synced shortly after it.
        let syncTimer = fresh ? setTimeout(() => this.markSynced(fresh, seen), 1000) : undefined;
        new Watch(this.kubeConfig)
          .watch(
            this.apiPath,
            query,
            (type, object) => {
              const arrival = Date.now();
              if (type === 'ERROR') {
                resourceVersion = undefined;
                return;
              }
              if (object?.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
              if (type === 'BOOKMARK') return;
              if (fresh && !this.synced) {
                const { name, namespace } = object.metadata ?? {};
                seen.add(namespace === undefined ? name : `${namespace}/${name}`);
                clearTimeout(syncTimer);
                syncTimer = setTimeout(() => this.markSynced(fresh, seen), 300);
              }
              this.apply(type, object, arrival);
            },
            () => {
              clearTimeout(syncTimer);
              resolve();
            },
          )
          .then(
            (controller) => {
              this.controller = controller;
              if (this.stopped) controller.abort();
            },
            () => resolve(),
          );
      });
      if (!this.stopped) await sleep(200);
    }
  }

  /** After a fresh (re)list, objects that were not listed are gone. */
  markSynced(fresh, seen) {
    if (!fresh) return;
    for (const key of [...this.objects.keys()]) if (!seen.has(key)) this.objects.delete(key);
    this.synced = true;
  }
}
