/** A source of uniform numbers in [0, 1): `Math.random` in production, a fixed sequence in tests. */
export type Random = () => number;

export type JitterStrategy = 'full' | 'decorrelated';

export interface BackoffOptions {
  /** First delay scale, ms. */
  baseMs: number;
  /** No single delay exceeds this, ms. */
  capMs: number;
  strategy: JitterStrategy;
  random: Random;
}

/** Retry delays: 250 ms base, 5 s cap, decorrelated jitter. */
export const DEFAULT_BACKOFF = { baseMs: 250, capMs: 5_000, strategy: 'decorrelated' } as const;

/**
 * Exponential backoff with jitter, so that a fleet of agents hit by the same fault does not retry in
 * lock step (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 * - full:         random(0, min(cap, base * 2^n))
 * - decorrelated: min(cap, random(base, previous * 3)), never below base
 * One Backoff per operation: it remembers the previous delay.
 */
export class Backoff {
  private readonly options: BackoffOptions;
  private attempt = 0;
  private previous: number;

  constructor(options: BackoffOptions) {
    if (!(options.baseMs > 0) || !(options.capMs >= options.baseMs)) {
      throw new RangeError(`backoff: need 0 < base (${options.baseMs}) <= cap (${options.capMs})`);
    }
    this.options = options;
    this.previous = options.baseMs;
  }

  /** The next delay in ms. */
  next(): number {
    const { baseMs, capMs, strategy, random } = this.options;
    const r = clampUnit(random());
    let delay: number;
    if (strategy === 'full') {
      delay = r * Math.min(capMs, baseMs * 2 ** this.attempt);
    } else {
      const upper = Math.max(baseMs, this.previous * 3);
      delay = Math.min(capMs, baseMs + r * (upper - baseMs));
    }
    this.attempt += 1;
    this.previous = delay;
    return Math.round(delay);
  }

  /** The operation succeeded: the next failure starts again from the first delay. */
  reset(): void {
    this.attempt = 0;
    this.previous = this.options.baseMs;
  }

  /**
   * The next delay, unless waiting it would pass the deadline (epoch ms): then undefined, and the
   * caller gives up now rather than sleeping into a certain failure.
   */
  nextBefore(now: number, deadline: number | undefined, minimumMs = 0): number | undefined {
    const delay = Math.max(this.next(), minimumMs);
    if (deadline !== undefined && now + delay >= deadline) return undefined;
    return delay;
  }
}

function clampUnit(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 0.999999 : x;
}
