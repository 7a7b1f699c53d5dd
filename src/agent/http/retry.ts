import { Backoff, type BackoffTiming, type Random } from '../../time/backoff.js';
import { sleep, type Clock } from '../../time/clock.js';
import { MetadataError } from './errors.js';

/**
 * How a failure is retried. Azure IMDS documents the statuses (seeds, "Errors and debugging"):
 *
 * | failure                              | class     | retried                                      |
 * |--------------------------------------|-----------|----------------------------------------------|
 * | HTTP 410 Gone                        | gone      | for up to 70 s after the first 410            |
 * | HTTP 429, 500, 502, 503, 504         | transient | up to maxAttempts, backoff (429: Retry-After) |
 * | timeout, connection refused or reset | transient | up to maxAttempts, backoff                    |
 * | malformed 2xx body (truncated...)    | malformed | up to malformedMaxAttempts, backoff           |
 * | HTTP 400, 401, 403, 404, 405, other  | never     | no: the request itself is wrong               |
 * | budget, unsupported                  | never     | no                                            |
 *
 * Every retry is bounded by the operation's deadline and the caller's AbortSignal. Alibaba's 401
 * (expired token) is not retried here: its client renews the token once and asks again.
 */
export type RetryClass = 'never' | 'transient' | 'gone' | 'malformed';

const TRANSIENT_STATUSES = new Set([429, 500, 502, 503, 504]);

export function classifyFailure(err: MetadataError): RetryClass {
  switch (err.kind) {
    case 'http':
      if (err.status === 410) return 'gone';
      return err.status !== undefined && TRANSIENT_STATUSES.has(err.status) ? 'transient' : 'never';
    case 'timeout':
    case 'connection':
      return 'transient';
    case 'malformed':
      return 'malformed';
    case 'budget':
    case 'unsupported':
      return 'never';
  }
}

export interface RetryPolicy {
  /** Attempts in total while failures are transient (429, 5xx, timeouts, resets). */
  maxAttempts: number;
  /** Azure: "410 Gone: retry for up to 70 seconds". */
  goneWindowMs: number;
  /** A truncated or garbled 2xx body is retried a little, in case the transport cut it. */
  malformedMaxAttempts: number;
  /** A Retry-After longer than this is not honoured as such (the backoff cap applies). */
  maxRetryAfterMs: number;
  backoff: BackoffTiming;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  goneWindowMs: 70_000,
  malformedMaxAttempts: 3,
  maxRetryAfterMs: 30_000,
  // The one backoff (time/backoff.ts): retry n waits random(0, min(5 s, 250 ms × 2ⁿ)).
  backoff: { baseMs: 250, capMs: 5_000 },
};

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: MetadataError;
}

export interface RetryContext {
  policy: RetryPolicy;
  clock: Clock;
  random: Random;
  signal?: AbortSignal;
  /** Epoch ms after which no new attempt starts. */
  deadline?: number;
  onRetry?: (info: RetryInfo) => void;
}

/**
 * Runs `attempt` until it succeeds or the failure is not worth retrying. Errors other than
 * MetadataError are bugs and propagate at once. The error thrown at the end is the last failure,
 * with the number of attempts and why retrying stopped.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, ctx: RetryContext): Promise<T> {
  const { policy, clock } = ctx;
  const backoff = new Backoff({ ...policy.backoff, random: ctx.random });
  let transientFailures = 0;
  let malformedFailures = 0;
  let firstGoneAt: number | undefined;
  for (let n = 1; ; n++) {
    let failure: MetadataError;
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof MetadataError)) throw err;
      failure = err;
    }
    if (ctx.signal?.aborted) throw failure.withAttempts(n, 'gave up: the operation was cancelled or timed out');
    const cls = classifyFailure(failure);
    const now = clock.now();
    let windowEnd: number | undefined;
    switch (cls) {
      case 'never':
        throw failure.withAttempts(n);
      case 'gone':
        firstGoneAt ??= now;
        windowEnd = firstGoneAt + policy.goneWindowMs;
        if (now >= windowEnd) throw failure.withAttempts(n, goneMessage(policy));
        break;
      case 'malformed':
        malformedFailures += 1;
        if (malformedFailures >= policy.malformedMaxAttempts) throw failure.withAttempts(n);
        break;
      case 'transient':
        transientFailures += 1;
        if (transientFailures >= policy.maxAttempts) throw failure.withAttempts(n);
        break;
    }
    const deadline = minDefined(ctx.deadline, windowEnd);
    const retryAfter = Math.min(failure.retryAfterMs ?? 0, policy.maxRetryAfterMs);
    const delay = backoff.nextBefore(now, deadline, retryAfter);
    if (delay === undefined) {
      const goneLimit = windowEnd !== undefined && (ctx.deadline === undefined || windowEnd <= ctx.deadline);
      throw failure.withAttempts(n, goneLimit ? goneMessage(policy) : 'no time left to retry before the deadline');
    }
    ctx.onRetry?.({ attempt: n, delayMs: delay, error: failure });
    await sleep(clock, delay, ctx.signal);
    if (ctx.signal?.aborted) throw failure.withAttempts(n, 'gave up: the operation was cancelled or timed out');
  }
}

function goneMessage(policy: RetryPolicy): string {
  return `still gone: the ${policy.goneWindowMs / 1000} s retry window after the first 410 is used up`;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
