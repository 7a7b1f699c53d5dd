// Rate limiters for the work queue, after client-go's workqueue package: a per-key exponential
// backoff for failures, a global token bucket so a burst of failing keys cannot hammer the API
// server, and the maximum of both as the default.

import { backoffCeiling } from '../time/backoff.js';
import type { Clock } from '../time/clock.js';

export interface RateLimiter {
  /** How long to wait before `key` is processed again; counts as one more failure of `key`. */
  when(key: string): number;
  /** Stop tracking `key` (it succeeded): its next failure starts again at the base delay. */
  forget(key: string): void;
  /** Failures of `key` since it was last forgotten. */
  numRequeues(key: string): number;
}

export interface ExponentialBackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Per key: base, 2×base, 4×base … capped at max: the ceiling of the one backoff (time/backoff.ts)
 * without its jitter, as client-go's ItemExponentialFailureRateLimiter. The keys are one process's
 * (the leader's) and pass the global token bucket after it, which already spaces out keys that
 * failed together; a fleet that must not retry in step draws from the jittered Backoff instead.
 */
export class ExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(private readonly options: ExponentialBackoffOptions) {}

  when(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return backoffCeiling({ baseMs: this.options.baseDelayMs, capMs: this.options.maxDelayMs }, failures);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

export interface TokenBucketOptions {
  /** Sustained rate, tokens per second. */
  qps: number;
  /** Tokens available at once. */
  burst: number;
}

/**
 * A token bucket shared by all keys. Each `when` reserves a token; when none is left the caller
 * waits until its reserved token accrues (tokens go negative, as golang.org/x/time/rate's
 * Reserve does), so successive callers get increasing delays rather than all the same one.
 */
export class TokenBucketRateLimiter implements RateLimiter {
  private tokens: number;
  private lastRefill: number;

  constructor(
    private readonly options: TokenBucketOptions,
    private readonly clock: Clock,
  ) {
    this.tokens = options.burst;
    this.lastRefill = clock.now();
  }

  when(_key: string): number {
    const now = this.clock.now();
    const refilled = ((now - this.lastRefill) / 1000) * this.options.qps;
    this.tokens = Math.min(this.options.burst, this.tokens + refilled);
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.options.qps);
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** The longest delay any of the limiters asks for. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    // Every limiter must see the failure (each keeps its own account), so no short-circuit.
    return this.limiters.map((limiter) => limiter.when(key)).reduce((a, b) => Math.max(a, b), 0);
  }

  forget(key: string): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiters.map((limiter) => limiter.numRequeues(key)).reduce((a, b) => Math.max(a, b), 0);
  }
}

export interface ControllerRateLimiterOptions {
  backoff?: Partial<ExponentialBackoffOptions>;
  bucket?: Partial<TokenBucketOptions>;
}

/** client-go's DefaultControllerRateLimiter: 5 ms doubling to 1000 s per key, 10 qps / burst 100 overall. */
export function defaultControllerRateLimiter(clock: Clock, options: ControllerRateLimiterOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(
    new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1_000_000, ...options.backoff }),
    new TokenBucketRateLimiter({ qps: 10, burst: 100, ...options.bucket }, clock),
  );
}
