// A work queue keyed by string (the node name), with client-go's guarantees
// (k8s.io/client-go/util/workqueue):
// - a key is queued at most once (adding a queued key is a no-op);
// - a key is never handed to two workers at once: a key added while it is being processed is
//   marked dirty and queued again when the worker calls `done`, so the change is not lost;
// - `addAfter` delays a key (the earliest requested time wins), `addRateLimited` delays it by the
//   rate limiter (per-key backoff, global bucket), `forget` resets its backoff.
// Reconciling by key means the latest state is read when the key is processed, so collapsing
// many adds into one run is correct.

import type { Clock, TimerHandle } from '../time/clock.js';
import type { RateLimiter } from './rate-limiter.js';

/** Hooks for the queue's Prometheus metrics (client-go's workqueue metrics), all optional. */
export interface WorkQueueMetrics {
  /** A key entered the queue (not counting adds collapsed into a queued key). */
  added?(key: string): void;
  /** Time a key waited in the queue before a worker took it. */
  queued?(key: string, waitedMs: number): void;
  /** Time a worker held a key. */
  processed?(key: string, tookMs: number): void;
  /** A key was requeued by the rate limiter (a failure). */
  retried?(key: string): void;
}

export interface WorkQueueOptions {
  clock: Clock;
  rateLimiter: RateLimiter;
  metrics?: WorkQueueMetrics;
}

interface DelayedKey {
  readyAt: number;
  /** Insertion order, so keys due at the same moment come out in the order they were added. */
  sequence: number;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;
  private readonly metrics: WorkQueueMetrics;
  /** When each queued key entered the queue, and when each in-flight key was taken. */
  private readonly queuedSince = new Map<string, number>();
  private readonly processingSince = new Map<string, number>();

  /** Keys ready to be handed out, in order. */
  private readonly queue: string[] = [];
  /** Keys that need processing: queued ones, plus in-flight ones added again. */
  private readonly dirty = new Set<string>();
  /** Keys a worker holds right now. */
  private readonly processing = new Set<string>();
  /** Workers blocked in `get`, first come first served. */
  private readonly waiters: ((key: string | undefined) => void)[] = [];

  private readonly delayed = new Map<string, DelayedKey>();
  private delayedSequence = 0;
  private timer: { handle: TimerHandle; firesAt: number } | undefined;

  private shuttingDown = false;
  /** shutDownWithDrain: hand out what is queued, then stop. shutDown: stop at once. */
  private draining = false;
  private readonly drainedWaiters: (() => void)[] = [];

  constructor(options: WorkQueueOptions) {
    this.clock = options.clock;
    this.rateLimiter = options.rateLimiter;
    this.metrics = options.metrics ?? {};
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // An in-flight key goes back into the queue when its worker calls done().
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds `key` once `delayMs` has passed; a key already waiting keeps the earlier of both times. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + delayMs;
    const waiting = this.delayed.get(key);
    if (waiting !== undefined && waiting.readyAt <= readyAt) return;
    this.delayed.set(key, { readyAt, sequence: this.delayedSequence++ });
    this.armTimer();
  }

  /** Adds `key` after the delay the rate limiter gives it (one more failure for its backoff). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.retried?.(key);
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** The key succeeded: its next failure backs off from the start again. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process; the caller must call `done(key)` when finished. Resolves to
   * undefined once the queue is shut down (after the queued keys with shutDownWithDrain).
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.isClosed()) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    if (!this.processing.delete(key)) return;
    const since = this.processingSince.get(key);
    this.processingSince.delete(key);
    if (since !== undefined) this.metrics.processed?.(key, this.clock.now() - since);
    if (this.dirty.has(key)) this.enqueue(key);
    this.checkDrained();
  }

  /** Keys ready to be processed (not counting in-flight or delayed ones): the queue-depth metric. */
  len(): number {
    return this.queue.length;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops at once: new adds are ignored, waiting and future `get`s get undefined, queued keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    this.draining = false;
    this.queue.length = 0;
    this.queuedSince.clear();
    this.dirty.clear();
    this.stopTimer();
    this.delayed.clear();
    this.wakeAllWaiters();
    // Also ends a shutDownWithDrain() still waiting: this is the forced stop (as in client-go).
    for (const resolve of this.drainedWaiters.splice(0)) resolve();
  }

  /**
   * Graceful stop: new adds (and delayed keys) are ignored, keys already queued are still handed
   * out, and the promise resolves once every handed-out key is done. Workers must keep calling
   * `done`; `shutDown()` afterwards forces the stop without waiting for the queue to empty.
   */
  shutDownWithDrain(): Promise<void> {
    this.shuttingDown = true;
    this.draining = true;
    this.stopTimer();
    this.delayed.clear();
    const drained = new Promise<void>((resolve) => this.drainedWaiters.push(resolve));
    if (this.queue.length === 0) this.wakeAllWaiters();
    this.checkDrained();
    return drained;
  }

  private isClosed(): boolean {
    return this.shuttingDown && (!this.draining || this.queue.length === 0);
  }

  private take(): string | undefined {
    if (this.shuttingDown && !this.draining) return undefined;
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.dirty.delete(key);
    this.processing.add(key);
    const now = this.clock.now();
    const since = this.queuedSince.get(key);
    this.queuedSince.delete(key);
    if (since !== undefined) this.metrics.queued?.(key, now - since);
    this.processingSince.set(key, now);
    return key;
  }

  private enqueue(key: string): void {
    this.queue.push(key);
    this.queuedSince.set(key, this.clock.now());
    this.metrics.added?.(key);
    this.handOut();
  }

  private handOut(): void {
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const waiter = this.waiters.shift()!;
      waiter(this.take());
    }
    if (this.isClosed()) this.wakeAllWaiters();
  }

  private wakeAllWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private checkDrained(): void {
    if (!this.shuttingDown || this.processing.size > 0) return;
    if (this.draining && this.queue.length > 0) return;
    for (const resolve of this.drainedWaiters.splice(0)) resolve();
  }

  private armTimer(): void {
    let earliest = Infinity;
    for (const { readyAt } of this.delayed.values()) earliest = Math.min(earliest, readyAt);
    if (earliest === Infinity) return;
    if (this.timer !== undefined && this.timer.firesAt <= earliest) return;
    this.stopTimer();
    const delayMs = Math.max(0, earliest - this.clock.now());
    this.timer = { handle: this.clock.setTimeout(() => this.releaseDueKeys(), delayMs), firesAt: earliest };
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  private releaseDueKeys(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const due = [...this.delayed.entries()]
      .filter(([, waiting]) => waiting.readyAt <= now)
      .sort(([, a], [, b]) => a.readyAt - b.readyAt || a.sequence - b.sequence);
    for (const [key] of due) {
      this.delayed.delete(key);
      this.add(key);
    }
    this.armTimer();
  }
}

export interface ReconcileResult {
  /** Process the key again after this long (waiting on time: drain progress, NotBefore). */
  requeueAfter?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

export interface RunWorkersOptions {
  /** Called when reconcile throws; the key is then requeued with backoff. */
  onError?: (key: string, error: unknown) => void;
}

/**
 * Runs `count` workers until the queue shuts down. Success forgets the key's backoff (and honours
 * requeueAfter); a throw requeues it rate-limited, as controller-runtime does.
 */
export async function runWorkers(queue: WorkQueue, count: number, reconcile: Reconcile, options: RunWorkersOptions = {}): Promise<void> {
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await reconcile(key);
        queue.forget(key);
        if (result?.requeueAfter !== undefined && result.requeueAfter > 0) queue.addAfter(key, result.requeueAfter);
      } catch (error) {
        options.onError?.(key, error);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: count }, worker));
}
