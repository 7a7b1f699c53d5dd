import type { Agent, AgentOptions } from 'node:http';
import type { Clock, TimerHandle } from '../../time/clock.js';
import { MetadataError, oneLine } from './errors.js';
import type { TokenBucket } from './token-bucket.js';
import { parseRetryAfter } from '../../runtime/retry-after.js';

// node:http through process.getBuiltinModule, not `import`: an ES import of node:http reads every
// export for the module namespace, WebSocket and its kin among them, and those getters load Node's
// bundled undici, HTTP/2, zlib and web streams: 4 MiB of the agent's RSS (docs/scaling.md), unused.
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

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
 * HTTP to one metadata endpoint through its own `node:http` (or `node:https`) Agent: never a proxy
 * (the Agent gets an empty proxy environment, so HTTP_PROXY and NODE_USE_ENV_PROXY=1 are ignored,
 * as both providers require), keep-alive, explicit connect, headers and body timeouts, bounded
 * answers. Core http rather than undici: its parser is native, where undici's is WebAssembly, which
 * V8's `--lite-mode` (the agent's memory budget) does not run. Transport failures become
 * MetadataErrors of kind timeout / connection / malformed; any HTTP status is returned for the
 * provider to interpret.
 */
export class MetadataTransport {
  readonly service: string;
  readonly baseUrl: URL;
  private readonly agent: Agent;
  private readonly budget: TokenBucket;
  private readonly clock: Clock;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly onResponse: ResponseObserver | undefined;

  constructor(options: TransportOptions) {
    this.service = options.service;
    this.baseUrl = parseBaseUrl(options.baseUrl, options.service);
    this.budget = options.budget;
    this.clock = options.clock;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectTimeoutMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUTS.requestTimeoutMs;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_TIMEOUTS.maxResponseBytes;
    this.onResponse = options.onResponse;
    const agentOptions: AgentOptions = {
      keepAlive: true,
      maxSockets: 4,
      // An idle socket lives this long unless the server's Keep-Alive header asks for less.
      timeout: 4_000,
      // Node 24 proxies an Agent given a proxy environment; an empty one means "no proxy", also if a
      // later Node falls back to process.env for Agents built without one (nodejs/node#64528).
      proxyEnv: {},
    };
    this.agent = this.baseUrl.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
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
    const fail: Fail = (kind, detail, cause) => new MetadataError({ kind, service: this.service, method: req.method, path: shown, detail, cause });

    await this.budget.take({ signal: req.signal, deadline: req.deadline, service: this.service });
    let timeoutMs = req.timeoutMs ?? this.requestTimeoutMs;
    if (req.deadline !== undefined) {
      const left = req.deadline - this.clock.now();
      if (left <= 0) throw fail('timeout', 'the deadline passed before the request could be sent');
      timeoutMs = Math.min(timeoutMs, left);
    }
    const headers: Record<string, string> = { 'user-agent': 'nodemeta-agent', ...req.headers };
    if (req.body !== undefined) headers['content-type'] ??= 'application/json';
    if (req.method !== 'GET') headers['content-length'] = String(Buffer.byteLength(req.body ?? ''));
    let response: TransportResponse;
    try {
      response = await exchange({
        url: this.url(req.path, req.query),
        agent: this.agent,
        method: req.method,
        headers,
        body: req.body,
        signal: req.signal,
        clock: this.clock,
        connectTimeoutMs: this.connectTimeoutMs,
        timeoutMs,
        maxResponseBytes: this.maxResponseBytes,
        fail,
      });
    } catch (err) {
      const error = req.signal?.aborted ? fail('timeout', 'cancelled or out of time', err) : err instanceof MetadataError ? err : classifyTransportError(err, fail);
      this.onResponse?.({ method: req.method, endpoint: endpointLabel(req.path), code: error.kind });
      throw error;
    }
    this.onResponse?.({ method: req.method, endpoint: endpointLabel(req.path), code: String(response.status) });
    return response;
  }

  /** Destroys the Agent's sockets, idle and busy: requests still running fail as connection errors. */
  async close(): Promise<void> {
    this.agent.destroy();
    await Promise.resolve();
  }
}

type Fail = (kind: 'timeout' | 'connection' | 'malformed', detail: string, cause?: unknown) => MetadataError;

interface Exchange {
  url: URL;
  agent: Agent;
  method: HttpMethod;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal | undefined;
  clock: Clock;
  connectTimeoutMs: number;
  /** For the headers after the request is on the wire, then for each pause in the body. */
  timeoutMs: number;
  maxResponseBytes: number;
  fail: Fail;
}

/**
 * One request and its whole answer. Times are undici's: connect (TCP, and TLS for https), headers
 * (from a connected socket to the status line and headers), body (longest pause between chunks).
 * An answer cut short (the server closes early, or fewer bytes than its Content-Length) is an error,
 * never a shorter body.
 */
function exchange(x: Exchange): Promise<TransportResponse> {
  return new Promise<TransportResponse>((resolve, reject) => {
    let timer: TimerHandle | undefined;
    let settled = false;
    const arm = (ms: number, error: () => MetadataError) => {
      x.clock.clearTimeout(timer);
      if (settled) return;
      timer = x.clock.setTimeout(() => finish(error()), ms);
    };
    const onAbort = () => finish(x.fail('timeout', 'cancelled or out of time', x.signal?.reason));
    const finish = (error: Error | undefined, response?: TransportResponse) => {
      if (settled) return;
      settled = true;
      x.clock.clearTimeout(timer);
      x.signal?.removeEventListener('abort', onAbort);
      if (error) {
        // Destroying the request also destroys its socket, so a half-read answer is never reused.
        request.destroy();
        reject(error);
      } else {
        resolve(response!);
      }
    };
    const waitForHeaders = () => arm(x.timeoutMs, () => x.fail('timeout', `no answer within ${x.timeoutMs} ms`));

    const transport = x.url.protocol === 'https:' ? https : http;
    const request = transport.request(x.url, { agent: x.agent, method: x.method, headers: x.headers });
    if (x.signal?.aborted) {
      onAbort();
      return;
    }
    x.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (err) => finish(err));
    request.on('socket', (socket) => {
      // A fresh socket is still connecting; a kept-alive one is ready for the request at once.
      if (!socket.connecting) {
        waitForHeaders();
        return;
      }
      arm(x.connectTimeoutMs, () => x.fail('timeout', 'could not connect in time'));
      socket.once(transport === https ? 'secureConnect' : 'connect', waitForHeaders);
    });
    request.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const declared = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (declared !== undefined && declared > x.maxResponseBytes) {
        finish(x.fail('malformed', `answer larger than ${x.maxResponseBytes} bytes`));
        return;
      }
      const stalled = () => x.fail('timeout', `answer body stalled for ${x.timeoutMs} ms`);
      arm(x.timeoutMs, stalled);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > x.maxResponseBytes) {
          finish(x.fail('malformed', `answer larger than ${x.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
        arm(x.timeoutMs, stalled);
      });
      res.on('error', (err) => finish(err));
      res.on('close', () => {
        // 'end' comes before 'close' for a complete answer; a close without it is a cut-off answer.
        if (!res.complete) finish(prematureClose());
      });
      res.on('end', () => {
        if (!res.complete || (declared !== undefined && size !== declared)) {
          finish(prematureClose());
          return;
        }
        finish(undefined, { status, headers: flattenHeaders(res.headers), text: Buffer.concat(chunks, size).toString('utf8') });
      });
    });
    request.end(x.body);
  });
}

/** The socket closed before the answer was complete: what undici calls "other side closed". */
class PrematureCloseError extends Error {
  override name = 'PrematureCloseError';
  readonly code = 'ERR_PREMATURE_CLOSE';
}

function prematureClose(): PrematureCloseError {
  return new PrematureCloseError('the connection closed before the complete answer arrived');
}

function classifyTransportError(err: unknown, fail: Fail): MetadataError {
  const code = errorCode(err);
  switch (code) {
    case 'ECONNREFUSED':
      return fail('connection', 'connection refused', err);
    case 'ECONNRESET': // also Node's "socket hang up" (closed before any answer) and "aborted" (mid-answer)
    case 'EPIPE':
    case 'ERR_PREMATURE_CLOSE':
    case 'ERR_STREAM_PREMATURE_CLOSE':
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

// Retry-After has one parser for every HTTP client (src/runtime/retry-after.ts).
export { parseRetryAfter };

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
