// The controller's client-side rate limit on API requests (client-go's QPS and burst), with
// priorities: a token goes to the most urgent waiter first. In a maintenance wave the cordons and
// taints that keep pods off doomed nodes must not queue behind thousands of evictions, status writes
// and Events that draw on the same budget (STYLE.md, habit 14), and Events, being a report, come last.
//
// A token bucket: `burst` tokens at most, refilled at `qps` per second. A request takes one token or
// waits for the next; waiters are served by priority, then in arrival order. Nothing is dropped.

import type { Clock, TimerHandle } from './clock.js';

export type RequestPriority = 'urgent' | 'normal' | 'low';
const ORDER: readonly RequestPriority[] = ['urgent', 'normal', 'low'];

export interface RequestLimiterOptions {
  /** Sustained requests per second. */
  qps: number;
  /** Requests that may go at once after a quiet spell. */
  burst: number;
  clock: Clock;
}

export class RequestLimiter {
  private tokens: number;
  private lastRefill: number;
  private readonly waiters: Record<RequestPriority, (() => void)[]> = { urgent: [], normal: [], low: [] };
  private timer: TimerHandle | undefined;

  constructor(private readonly options: RequestLimiterOptions) {
    if (!(options.qps > 0) || !(options.burst >= 1)) throw new Error(`rate limit needs qps > 0 and burst >= 1 (got qps ${options.qps}, burst ${options.burst})`);
    this.tokens = options.burst;
    this.lastRefill = options.clock.now();
  }

  /** Resolves when the request may go; the time it waited is what the caller measures. */
  acquire(priority: RequestPriority = 'normal'): Promise<void> {
    this.refill();
    if (this.waiting() === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiters[priority].push(resolve);
      this.schedule();
    });
  }

  /** Requests waiting for a token, all priorities. */
  waiting(): number {
    return ORDER.reduce((sum, priority) => sum + this.waiters[priority].length, 0);
  }

  private refill(): void {
    const now = this.options.clock.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.options.qps);
    this.lastRefill = now;
  }

  private release(): void {
    this.timer = undefined;
    this.refill();
    for (const priority of ORDER) {
      const queue = this.waiters[priority];
      while (queue.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        queue.shift()!();
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiting() === 0) return;
    const delayMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.options.qps));
    this.timer = this.options.clock.setTimeout(() => this.release(), delayMs);
  }
}
