// The controller's client-side rate limit on API requests (client-go's QPS and burst), with
// priorities: a token goes to the most urgent waiter first. In a maintenance wave the cordons and
// taints that keep pods off doomed nodes must not queue behind thousands of evictions, status writes
// and Events that draw on the same budget (docs/architecture.md, "The flow": the fast path), and Events, being a report, come last.
//
// A token bucket: `burst` tokens at most, refilled at `qps` per second. A request takes one token or
// waits for the next; waiters are served by priority, then in arrival order. Nothing is dropped.
//
// Tokens alone order only the requests that wait for one; below the rate, every request goes at
// once and the API server, not this process, decides what is served first. So while an urgent
// request waits or is in flight, normal and low ones are held back (each at most `urgentHoldMs`):
// in a wave the cordons then have the API server's attention to themselves, rather than sharing it
// with the same controller's status writes and Events.

import type { Clock, TimerHandle } from '../time/clock.js';

export type RequestPriority = 'urgent' | 'normal' | 'low';
const ORDER: readonly RequestPriority[] = ['urgent', 'normal', 'low'];

export interface RequestLimiterOptions {
  /** Sustained requests per second. */
  qps: number;
  /** Requests that may go at once after a quiet spell. */
  burst: number;
  clock: Clock;
  /** How long at most an urgent request holds back normal and low ones (default 2 s; 0: never). */
  urgentHoldMs?: number;
}

/** Called once the request's answer (or its failure) has come back. */
export type RequestDone = () => void;

interface Waiter {
  resolve: (done: RequestDone) => void;
  since: number;
}

export const DEFAULT_URGENT_HOLD_MS = 2_000;

export class RequestLimiter {
  private tokens: number;
  private lastRefill: number;
  private readonly waiters: Record<RequestPriority, Waiter[]> = { urgent: [], normal: [], low: [] };
  private timer: TimerHandle | undefined;
  private urgentInFlight = 0;
  private readonly urgentHoldMs: number;

  constructor(private readonly options: RequestLimiterOptions) {
    if (!(options.qps > 0) || !(options.burst >= 1)) throw new Error(`rate limit needs qps > 0 and burst >= 1 (got qps ${options.qps}, burst ${options.burst})`);
    this.tokens = options.burst;
    this.lastRefill = options.clock.now();
    this.urgentHoldMs = Math.max(0, options.urgentHoldMs ?? DEFAULT_URGENT_HOLD_MS);
  }

  /**
   * Resolves when the request may go, with the function to call when its answer has come back (the
   * time it waited is what the caller measures). Calling it more than once counts once.
   */
  acquire(priority: RequestPriority = 'normal'): Promise<RequestDone> {
    this.refill();
    const now = this.options.clock.now();
    // An urgent request passes waiters held behind urgent ones; the others queue behind anyone waiting.
    const free = priority === 'urgent' ? this.waiters.urgent.length === 0 : this.waiting() === 0 && !this.urgentBusy();
    if (free && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve(this.started(priority));
    }
    return new Promise((resolve) => {
      this.waiters[priority].push({ resolve, since: now });
      this.schedule();
    });
  }

  /** Requests waiting for a token, all priorities. */
  waiting(): number {
    return ORDER.reduce((sum, priority) => sum + this.waiters[priority].length, 0);
  }

  /** An urgent request waits or is in flight: the others hold (within urgentHoldMs). */
  private urgentBusy(): boolean {
    return this.urgentHoldMs > 0 && (this.urgentInFlight > 0 || this.waiters.urgent.length > 0);
  }

  private started(priority: RequestPriority): RequestDone {
    if (priority !== 'urgent') return () => {};
    this.urgentInFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.urgentInFlight--;
      if (this.urgentInFlight === 0) this.release();
    };
  }

  private refill(): void {
    const now = this.options.clock.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.options.qps);
    this.lastRefill = now;
  }

  private release(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.refill();
    const now = this.options.clock.now();
    for (const priority of ORDER) {
      const queue = this.waiters[priority];
      while (queue.length > 0 && this.tokens >= 1) {
        // Held back behind an urgent request, unless it has waited its longest.
        if (priority !== 'urgent' && this.urgentBusy() && now - queue[0]!.since < this.urgentHoldMs) break;
        this.tokens -= 1;
        queue.shift()!.resolve(this.started(priority));
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiting() === 0) return;
    const now = this.options.clock.now();
    let delayMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.options.qps));
    if (this.tokens >= 1 && this.waiters.urgent.length === 0) {
      // Only held requests wait: the next look is when the oldest of them has waited its longest
      // (or sooner, when the last urgent request ends).
      const oldest = Math.min(...(['normal', 'low'] as const).flatMap((priority) => this.waiters[priority].slice(0, 1).map((waiter) => waiter.since)));
      delayMs = Math.max(1, oldest + this.urgentHoldMs - now);
    }
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.release();
    }, delayMs);
  }
}
