// The one retry timing of the code base: capped exponential backoff with full jitter
// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). The delay before
// retry n (from 0) is random(0, min(cap, base · 2ⁿ)): a fleet of thousands of agents that failed in
// the same instant (an API server restart, a metadata outage) comes back spread evenly over the
// whole window instead of in step (test/unit/runtime/backoff.test.ts shows 5,000 of them).

/** A source of uniform numbers in [0, 1): `Math.random` in production, a fixed or seeded sequence in tests. */
export type Random = () => number;

export interface BackoffTiming {
  /** The first retry waits random(0, base), ms. */
  baseMs: number;
  /** No delay exceeds this, ms. */
  capMs: number;
}

export interface BackoffOptions extends BackoffTiming {
  random: Random;
}

/**
 * One Backoff per run of failures of one operation: it counts the attempts; `reset` after a
 * success so that the next failure starts again from the first window.
 */
export class Backoff {
  private readonly options: BackoffOptions;
  private attempt = 0;

  constructor(options: BackoffOptions) {
    checkTiming(options);
    this.options = options;
  }

  /** The next delay in ms: random(0, min(cap, base · 2ⁿ)) for the n-th retry. */
  next(): number {
    const delay = backoffDelay(this.options, this.attempt, this.options.random);
    this.attempt += 1;
    return delay;
  }

  /** The operation succeeded: the next failure starts again from the first window. */
  reset(): void {
    this.attempt = 0;
  }

  /**
   * The next delay (at least `minimumMs`, e.g. a Retry-After), unless waiting it would pass the
   * deadline (epoch ms): then undefined, and the caller gives up now rather than sleeping into a
   * certain failure.
   */
  nextBefore(now: number, deadline: number | undefined, minimumMs = 0): number | undefined {
    const delay = Math.max(this.next(), minimumMs);
    if (deadline !== undefined && now + delay >= deadline) return undefined;
    return delay;
  }
}

/**
 * The delay before retry `attempt` (0 for the first), drawn once: for a caller that keeps the
 * attempt count with its own state (the eviction ledger counts per pod).
 */
export function backoffDelay(timing: BackoffTiming, attempt: number, random: Random): number {
  return Math.round(clampUnit(random()) * backoffCeiling(timing, attempt));
}

/**
 * min(cap, base · 2ⁿ): the window the n-th retry is drawn from. Used alone (no jitter) only by the
 * work queue's per-key limiter, whose keys share one process and one global token bucket.
 */
export function backoffCeiling(timing: BackoffTiming, attempt: number): number {
  // 2ⁿ overflows to Infinity long after it passes any sane cap; Math.min handles that.
  return Math.min(timing.capMs, timing.baseMs * 2 ** Math.max(0, attempt));
}

function checkTiming(timing: BackoffTiming): void {
  if (!(timing.baseMs > 0) || !(timing.capMs >= timing.baseMs)) {
    throw new RangeError(`backoff: need 0 < base (${timing.baseMs}) <= cap (${timing.capMs})`);
  }
}

function clampUnit(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 0.999999 : x;
}
