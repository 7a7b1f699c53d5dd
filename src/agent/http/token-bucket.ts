import { sleep, type Clock } from '../../time/clock.js';
import { MetadataError } from './errors.js';

export interface TokenBucketOptions {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Requests that may go out back to back after a quiet period. */
  burst: number;
  clock: Clock;
}

/**
 * Default budget for one agent process: 2 requests/s sustained, bursts of 2. In any one-second
 * window at most burst + rate = 4 requests leave the process, under Azure's "about 5 requests per
 * second per VM" (beyond which IMDS answers 429) and gentle on Alibaba's unstated throttle. Polling
 * scheduled events once a second (Azure's recommendation) uses half of it; the rest is left for the
 * slow poll, approvals and retries.
 */
export const DEFAULT_BUDGET = { ratePerSecond: 2, burst: 2 } as const;

export interface TakeOptions {
  signal?: AbortSignal;
  /** Epoch ms: when the slot would come later than this, fail now with a `budget` error. */
  deadline?: number;
  /** For the error message. */
  service?: string;
}

/**
 * The per-process request budget, shared by every call of every provider (one instance per agent,
 * passed in; never a module global). Reservation-based, like Go's rate.Limiter: each request takes
 * a slot in FIFO order, so a caller that issues its requests one after another cannot starve
 * another caller, and the budget holds across concurrent callers.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(`request budget: rate must be a positive number, got ${options.ratePerSecond}`);
    }
    if (!(options.burst >= 1) || !Number.isInteger(options.burst)) {
      throw new RangeError(`request budget: burst must be a positive integer, got ${options.burst}`);
    }
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.clock = options.clock;
    this.tokens = options.burst;
    this.last = options.clock.now();
  }

  /** Waits for a slot. Throws a `budget` MetadataError when the slot is past the deadline. */
  async take(options: TakeOptions = {}): Promise<void> {
    const wait = this.reserve();
    if (wait <= 0) return;
    const now = this.clock.now();
    if (options.deadline !== undefined && now + wait > options.deadline) {
      this.tokens += 1;
      throw new MetadataError({
        kind: 'budget',
        service: options.service ?? 'metadata',
        detail: `request budget (${this.ratePerSecond}/s) has no slot for ${Math.ceil(wait)} ms, past the deadline`,
      });
    }
    await sleep(this.clock, wait, options.signal);
    if (options.signal?.aborted) {
      // Cancelled while waiting: the slot goes back to the budget.
      this.tokens += 1;
      options.signal.throwIfAborted();
    }
  }

  /** Milliseconds until a slot would be free, without taking it. */
  waitTime(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.ratePerSecond;
  }

  /** Reserves the next slot; returns how long to wait for it (0: now). */
  private reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerSecond;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
  }
}
