/**
 * The one error type metadata-service clients throw. Its message is meant for a person reading one
 * log line: which service, which request, what went wrong, how many attempts. It never contains a
 * token, a header value or a successful response body (a body could hold user data).
 */

import { flattenControlCharacters } from '../../api/text.js';

export type MetadataErrorKind =
  /** The service answered with a non-2xx status. */
  | 'http'
  /** No answer in time (connect, headers or body timeout, or the caller's deadline). */
  | 'timeout'
  /** The connection failed or was reset. */
  | 'connection'
  /** The answer could not be understood (truncated, not JSON, wrong shape, too large). */
  | 'malformed'
  /** The process-wide request budget has no slot before the deadline. */
  | 'budget'
  /** The service or the provider cannot do what was asked (e.g. approval on Alibaba). */
  | 'unsupported';

export interface MetadataErrorOptions {
  kind: MetadataErrorKind;
  /** `azure` / `alibaba`, or a short label such as `detect`. */
  service: string;
  method?: string;
  /** Request path relative to the endpoint, without the query string. */
  path?: string;
  status?: number;
  /** What went wrong, without secrets. */
  detail: string;
  attempts?: number;
  /** Milliseconds the server asked us to wait (Retry-After). */
  retryAfterMs?: number;
  /** Azure's 400 answer lists the api-versions it supports. */
  newestVersions?: string[];
  cause?: unknown;
}

export class MetadataError extends Error {
  readonly kind: MetadataErrorKind;
  readonly service: string;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly status: number | undefined;
  readonly detail: string;
  readonly attempts: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly newestVersions: string[] | undefined;

  constructor(options: MetadataErrorOptions) {
    super(formatMessage(options), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MetadataError';
    this.kind = options.kind;
    this.service = options.service;
    this.method = options.method;
    this.path = options.path;
    this.status = options.status;
    this.detail = options.detail;
    this.attempts = options.attempts;
    this.retryAfterMs = options.retryAfterMs;
    this.newestVersions = options.newestVersions;
  }

  /** The same error, recording how many attempts were made before giving up. */
  withAttempts(attempts: number, extraDetail?: string): MetadataError {
    return new MetadataError({
      kind: this.kind,
      service: this.service,
      method: this.method,
      path: this.path,
      status: this.status,
      detail: extraDetail ? `${this.detail}; ${extraDetail}` : this.detail,
      attempts,
      retryAfterMs: this.retryAfterMs,
      newestVersions: this.newestVersions,
      cause: this.cause,
    });
  }
}

function formatMessage(o: MetadataErrorOptions): string {
  const prefix = o.service === 'detect' ? 'provider detection' : `${o.service} metadata service`;
  const where = o.path ? ` ${o.method ?? 'GET'} ${o.path}` : '';
  const status = o.status !== undefined ? `HTTP ${o.status}: ` : '';
  const attempts = o.attempts !== undefined && o.attempts > 1 ? `, ${o.attempts} attempts` : '';
  return `${prefix}${where}: ${status}${o.detail} [${o.kind} error${attempts}]`;
}

export function isMetadataError(err: unknown): err is MetadataError {
  return err instanceof MetadataError;
}

/** Makes a string safe for one log line: no control characters, bounded length. */
export function oneLine(text: string, max = 200): string {
  const flat = flattenControlCharacters(text);
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
