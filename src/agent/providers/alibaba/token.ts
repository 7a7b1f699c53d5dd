import type { Clock } from '../../../time/clock.js';
import { MetadataError } from '../../http/errors.js';
import { httpError, type MetadataTransport } from '../../http/transport.js';

/** Token lifetime asked for: one hour (the service allows 1..21600 s). Renewed before it runs out. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3_600;
export const TOKEN_PATH = '/latest/api/token';
export const TOKEN_HEADER = 'X-aliyun-ecs-metadata-token';
export const TOKEN_TTL_HEADER = 'X-aliyun-ecs-metadata-token-ttl-seconds';

export interface TokenFetchOptions {
  signal?: AbortSignal;
  deadline?: number;
}

/**
 * Alibaba's hardened-mode session token: `PUT /latest/api/token` with a TTL, then sent as
 * `X-aliyun-ecs-metadata-token` on every GET. Kept in memory only (never logged, never in an error
 * message), renewed when 80% of its life has passed (at most 5 min before expiry), and dropped on a
 * 401 so the next call fetches a new one. Concurrent callers share one PUT.
 */
export class MetadataTokenSource {
  private readonly transport: MetadataTransport;
  private readonly clock: Clock;
  private readonly ttlSeconds: number;
  private current: { value: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(transport: MetadataTransport, clock: Clock, ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 21_600) {
      throw new RangeError(`alibaba token TTL must be 1..21600 seconds, got ${ttlSeconds}`);
    }
    this.transport = transport;
    this.clock = clock;
    this.ttlSeconds = ttlSeconds;
  }

  async get(options: TokenFetchOptions = {}): Promise<string> {
    if (this.current && this.clock.now() < this.current.renewAt) return this.current.value;
    this.pending ??= this.fetch(options).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the token (the service answered 401: expired or revoked). */
  invalidate(): void {
    this.current = undefined;
  }

  private async fetch(options: TokenFetchOptions): Promise<string> {
    const requestedAt = this.clock.now();
    const res = await this.transport.send({
      method: 'PUT',
      path: TOKEN_PATH,
      headers: { [TOKEN_TTL_HEADER]: String(this.ttlSeconds) },
      signal: options.signal,
      deadline: options.deadline,
    });
    if (res.status < 200 || res.status > 299) throw httpError('alibaba', 'PUT', TOKEN_PATH, res);
    const token = res.text.trim();
    // A token goes into a header: refuse anything that could break one (and say so without quoting it).
    if (token === '' || token.length > 4_096 || !/^[\x21-\x7e]+$/.test(token)) {
      throw new MetadataError({ kind: 'malformed', service: 'alibaba', method: 'PUT', path: TOKEN_PATH, detail: `token answer is not a usable token (${token.length} characters)` });
    }
    const ttlMs = this.ttlSeconds * 1000;
    this.current = { value: token, renewAt: requestedAt + ttlMs - Math.min(300_000, ttlMs / 5) };
    return token;
  }
}
