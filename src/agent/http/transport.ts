import { Agent, request } from 'undici';
import type { Clock } from './clock.js';
import { MetadataError, oneLine } from './errors.js';
import type { TokenBucket } from './token-bucket.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST';

export interface TransportOptions {
  /** `azure` / `alibaba`: names the service in error messages. */
  service: string;
  /** e.g. `http://169.254.169.254` or `http://127.0.0.1:8080/vm/<name>` (emulator). */
  baseUrl: string;
  /** The process-wide request budget: every request, retries included, takes a slot. */
  budget: TokenBucket;
  clock: Clock;
  /** TCP connect timeout; the metadata service is on the host, so it answers fast or not at all. */
  connectTimeoutMs?: number;
  /** Default time for headers and for the body, each; a request may ask for more. */
  requestTimeoutMs?: number;
  /** Answers larger than this are refused (a metadata document is a few KiB). */
  maxResponseBytes?: number;
  /** Told of every request's outcome (metrics): HTTP status, or the failure kind. */
  onResponse?: ResponseObserver;
}

/** `endpoint` is the request path with per-item parts folded (`tags/instance/*`), so it stays a small set. */
export type ResponseObserver = (outcome: { method: HttpMethod; endpoint: string; code: string }) => void;

/** Folds item-specific path parts so that a metric label has a bounded set of values. */
export function endpointLabel(path: string): string {
  return path.replace(/(\/tags\/instance\/).+$/, '$1*');
}

export const DEFAULT_TIMEOUTS = { connectTimeoutMs: 2_000, requestTimeoutMs: 10_000, maxResponseBytes: 4 * 1024 * 1024 } as const;

export interface TransportRequest {
  method: HttpMethod;
  /** Path below the base URL, starting with `/`. */
  path: string;
  /** Built into the URL once per name: IMDS rejects repeated parameter names. */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** Overrides the default headers/body timeout (Azure's first scheduled-events call: 120 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Epoch ms; the request's timeouts are shortened to end by then. */
  deadline?: number;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
}

/**
 * HTTP to one metadata endpoint through its own undici Agent: never a proxy (the global dispatcher,
 * HTTP_PROXY and friends are ignored, as both providers require), keep-alive, explicit connect,
 * headers and body timeouts, bounded answers. Transport failures become MetadataErrors of kind
 * timeout / connection / malformed; any HTTP status is returned for the provider to interpret.
 */
export class MetadataTransport {
  readonly service: string;
  readonly baseUrl: URL;
  private readonly agent: Agent;
  private readonly budget: TokenBucket;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly onResponse: ResponseObserver | undefined;

  constructor(options: TransportOptions) {
    this.service = options.service;
    this.baseUrl = parseBaseUrl(options.baseUrl, options.service);
    this.budget = options.budget;
    this.clock = options.clock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUTS.requestTimeoutMs;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_TIMEOUTS.maxResponseBytes;
    this.onResponse = options.onResponse;
    this.agent = new Agent({
      connect: { timeout: options.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectTimeoutMs },
      headersTimeout: this.requestTimeoutMs,
      bodyTimeout: this.requestTimeoutMs,
      keepAliveTimeout: 4_000,
      connections: 4,
      maxResponseSize: this.maxResponseBytes,
    });
  }

  /** The URL for a path, for messages and probes (no secrets in it: tokens travel in headers). */
  url(path: string, query?: Record<string, string>): URL {
    const url = new URL(this.baseUrl.href);
    url.pathname = this.baseUrl.pathname.replace(/\/+$/, '') + path;
    if (query) url.search = new URLSearchParams(query).toString();
    return url;
  }

  async send(req: TransportRequest): Promise<TransportResponse> {
    const shown = describePath(req.path, req.query);
    const fail = (kind: 'timeout' | 'connection' | 'malformed', detail: string, cause?: unknown): MetadataError =>
      new MetadataError({ kind, service: this.service, method: req.method, path: shown, detail, cause });

    await this.budget.take({ signal: req.signal, deadline: req.deadline, service: this.service });
    let timeoutMs = req.timeoutMs ?? this.requestTimeoutMs;
    if (req.deadline !== undefined) {
      const left = req.deadline - this.clock.now();
      if (left <= 0) throw fail('timeout', 'the deadline passed before the request could be sent');
      timeoutMs = Math.min(timeoutMs, left);
    }
    const headers: Record<string, string> = { 'user-agent': 'nodemeta-agent', ...req.headers };
    if (req.body !== undefined) headers['content-type'] ??= 'application/json';
    let status: number;
    let responseHeaders: Record<string, string | undefined>;
    let text: string;
    try {
      const res = await request(this.url(req.path, req.query), {
        dispatcher: this.agent,
        method: req.method,
        headers,
        body: req.body,
        signal: req.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      responseHeaders = flattenHeaders(res.headers);
      text = await res.body.text();
    } catch (err) {
      const error = req.signal?.aborted ? fail('timeout', 'cancelled or out of time', err) : classifyTransportError(err, fail, timeoutMs, this.maxResponseBytes);
      this.onResponse?.({ method: req.method, endpoint: endpointLabel(req.path), code: error.kind });
      throw error;
    }
    this.onResponse?.({ method: req.method, endpoint: endpointLabel(req.path), code: String(status) });
    return { status, headers: responseHeaders, text };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

type Fail = (kind: 'timeout' | 'connection' | 'malformed', detail: string, cause?: unknown) => MetadataError;

function classifyTransportError(err: unknown, fail: Fail, timeoutMs: number, maxBytes: number): MetadataError {
  const code = errorCode(err);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return fail('timeout', 'could not connect in time', err);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return fail('timeout', `no answer within ${timeoutMs} ms`, err);
    case 'UND_ERR_BODY_TIMEOUT':
      return fail('timeout', `answer body stalled for ${timeoutMs} ms`, err);
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return fail('malformed', `answer larger than ${maxBytes} bytes`, err);
    case 'ECONNREFUSED':
      return fail('connection', 'connection refused', err);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return fail('connection', 'connection reset or closed before a complete answer', err);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return fail('connection', `network unreachable (${code})`, err);
    case 'ETIMEDOUT':
      return fail('timeout', 'connection timed out', err);
    default: {
      const name = err instanceof Error ? err.name : typeof err;
      return fail('connection', `request failed (${code ?? name})`, err);
    }
  }
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function describePath(path: string, query?: Record<string, string>): string {
  return query && Object.keys(query).length > 0 ? `${path}?${new URLSearchParams(query).toString()}` : path;
}

function parseBaseUrl(raw: string, service: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MetadataError({ kind: 'unsupported', service, detail: `endpoint "${oneLine(raw, 100)}" is not a URL` });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MetadataError({ kind: 'unsupported', service, detail: `endpoint must be http:// or https://, got ${url.protocol}` });
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new MetadataError({ kind: 'unsupported', service, detail: 'endpoint must not carry credentials, a query or a fragment' });
  }
  return url;
}

/** A MetadataError for a non-2xx answer, with the service's own short explanation when it gave one. */
export function httpError(service: string, method: HttpMethod, path: string, res: TransportResponse, query?: Record<string, string>): MetadataError {
  return new MetadataError({
    kind: 'http',
    service,
    method,
    path: describePath(path, query),
    status: res.status,
    detail: errorBodySummary(res.text) || statusText(res.status),
    retryAfterMs: parseRetryAfter(res.headers['retry-after']),
    newestVersions: newestVersions(res.text),
  });
}

function errorBodySummary(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string') {
      return oneLine((parsed as { error: string }).error, 160);
    }
  } catch {
    // not JSON: a text or HTML error page
  }
  return /^</.test(trimmed) ? '' : oneLine(trimmed, 160);
}

function newestVersions(text: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const list = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>)['newest-versions'] : undefined;
    if (!Array.isArray(list)) return undefined;
    const versions = list.filter((v): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v));
    return versions.length > 0 ? versions : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or nonsense. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,6}$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) && /[a-z]/i.test(v) ? Math.max(0, t - now) : undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized (token missing, invalid or expired)',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  410: 'gone (retry for up to 70 s)',
  429: 'too many requests (rate limit)',
  500: 'service error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'unexpected status';
}
