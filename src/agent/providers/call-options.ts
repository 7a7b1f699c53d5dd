import type { Logger } from '../../observability/logger.js';
import type { Random } from '../../time/backoff.js';
import type { Clock } from '../../time/clock.js';
import type { RetryPolicy } from '../http/retry.js';
import type { TokenBucket } from '../http/token-bucket.js';
import type { ResponseObserver } from '../http/transport.js';

/** What every metadata-service client is built with; all of it injected, nothing global. */
export interface ClientOptions {
  /** Base URL of the service (default: the provider's link-local address). */
  endpoint?: string;
  /** The process-wide request budget, shared by every client of the process. */
  budget: TokenBucket;
  clock: Clock;
  random: Random;
  logger: Logger;
  retry?: RetryPolicy;
  connectTimeoutMs?: number;
  /** Default per-request headers/body timeout. */
  requestTimeoutMs?: number;
  /**
   * An operation (one read, with its retries) gives up after this long. Must exceed Azure's 70 s
   * window for 410 answers.
   */
  operationTimeoutMs?: number;
  /** Told of every request's outcome (the agent's request metrics). */
  onResponse?: ResponseObserver;
}

export const DEFAULT_OPERATION_TIMEOUT_MS = 80_000;

