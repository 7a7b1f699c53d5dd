// A small REST client for the few calls the agent makes (read its Node, apply its NodeMetadata
// status, watch its own object), over node:https with its own Agent: no proxy, no global agent.
// Core https rather than undici: undici parses HTTP in WebAssembly, which V8's --lite-mode (the
// agent's memory budget, docs/scaling.md, "What the agent keeps in memory") does not run.

import type { Agent, IncomingMessage } from 'node:http';
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js';
import { KubeApiError } from '../api/kube-errors.js';
import type { KubeCredentials } from './credentials.js';

// node:http through process.getBuiltinModule, not `import`: an ES import of node:http reads every
// export for the module namespace, WebSocket and its kin among them, and those getters load Node's
// bundled undici, HTTP/2, zlib and web streams: 4 MiB of the agent's RSS (docs/scaling.md), unused.
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');
const tls = process.getBuiltinModule('node:tls');

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Applies to the whole exchange; watches pass 0 (the server closes them). */
  timeoutMs?: number;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeRestClientOptions {
  userAgent?: string;
  timeoutMs?: number;
  /** Times the connect, headers and body waits (default: the system clock, whose timers hold the process as Node's do). */
  clock?: Clock;
}

/** TCP and TLS connect; the API server is near, so it answers fast or not at all. */
const CONNECT_TIMEOUT_MS = 10_000;

/** A response whose body has not been read yet. */
interface OpenResponse {
  statusCode: number;
  body: IncomingMessage;
  /** (Re)starts the wait for the next piece of the body (none when the request's timeout is 0). */
  touch: () => void;
}

export class KubeRestClient {
  private readonly agent: Agent;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly credentials: KubeCredentials,
    options: KubeRestClientOptions = {},
  ) {
    this.userAgent = options.userAgent ?? 'nodemeta';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.clock = options.clock ?? systemClock;
    const common = {
      keepAlive: true,
      maxSockets: 4,
      // Node 24 proxies an Agent given a proxy environment; an empty one means "no proxy", also if a
      // later Node falls back to process.env for Agents built without one (nodejs/node#64528).
      proxyEnv: {},
      // Idle kept-alive sockets close after this long (active ones are timed by the request).
      timeout: 30_000,
    };
    this.agent = credentials.server.startsWith('http://')
      ? new http.Agent(common)
      : new https.Agent({
          ...common,
          // One TLS context for the client's life. Given ca/cert/key instead, Node builds a new one
          // for every connection (about 1 ms of CPU to parse them), and the agent reconnects after
          // every idle spell.
          secureContext: tls.createSecureContext({ ca: credentials.ca, cert: credentials.cert, key: credentials.key }),
          rejectUnauthorized: !credentials.insecureSkipTLSVerify,
        });
  }

  get server(): string {
    return this.credentials.server;
  }

  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.json<T>('GET', path, options);
  }

  async create<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.json<T>('POST', path, { ...options, body });
  }

  /**
   * Server-side apply: `body` is the complete intent of `fieldManager` for this object; fields it
   * applied before and leaves out now are removed. `force` takes over conflicting fields.
   */
  async apply<T>(path: string, body: unknown, fieldManager: string, options: RequestOptions & { force?: boolean } = {}): Promise<T> {
    return this.json<T>('PATCH', path, {
      ...options,
      body,
      contentType: 'application/apply-patch+yaml',
      query: { ...options.query, fieldManager, force: options.force ? true : undefined },
    });
  }

  async mergePatch<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.json<T>('PATCH', path, { ...options, body, contentType: 'application/merge-patch+json' });
  }

  /**
   * Streams a watch: calls `onEvent` for each event until the server ends the stream, the signal
   * aborts, or an ERROR event arrives (then it throws a KubeApiError, e.g. 410 Gone: re-list).
   * The stream is newline-delimited JSON, one event a line, split anywhere across chunks.
   */
  async watch<T>(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (event: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.send('GET', path, { query: { ...query, watch: true, allowWatchBookmarks: true }, signal, timeoutMs: 0 });
    if (res.statusCode >= 300) throw await this.toError(res, 'GET', path);
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk as Buffer, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; reason?: string; message?: string };
            throw new KubeApiError(status.code ?? 500, status.reason ?? 'Unknown', status.message ?? 'watch error', 'WATCH', path, status);
          }
          onEvent(event);
        }
      }
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw err;
    } finally {
      // Stopping early (an ERROR event, a throwing onEvent) must not leave the stream open.
      res.body.destroy();
    }
    if (!res.body.complete) throw new Error(`GET ${path}: the watch stream was cut off`, { cause: res.body.errored ?? undefined });
  }

  /** Destroys the Agent's sockets, idle and busy (a running watch ends with an error). */
  async close(): Promise<void> {
    this.agent.destroy();
    await Promise.resolve();
  }

  private async json<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const res = await this.send(method, path, options);
    if (res.statusCode >= 300) throw await this.toError(res, method, path);
    const text = await readText(res);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`${method} ${path}: the answer is not JSON (${(err as Error).message})`, { cause: err });
    }
  }

  /**
   * Sends a request and waits for the status line and headers. `timeoutMs` (0: none) bounds the wait
   * for the headers, and then each pause in the body; `signal` aborts either.
   */
  private async send(method: string, path: string, options: RequestOptions): Promise<OpenResponse> {
    const url = new URL(this.credentials.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    const token = await this.credentials.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      body = JSON.stringify(options.body); // JSON is valid YAML, so apply-patch+yaml takes it too
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = options.signal;
    signal?.throwIfAborted();

    return new Promise<OpenResponse>((resolve, reject) => {
      const transport = url.protocol === 'http:' ? http : https;
      const request = transport.request(url, { agent: this.agent, method, headers });
      const clock = this.clock;
      let timer: TimerHandle | undefined;
      let answered: IncomingMessage | undefined;
      // Before the answer, errors end the request; after it, they end the body being read.
      const fail = (err: Error) => (answered ?? request).destroy(err);
      const arm = (ms: number, message: string) => {
        clock.clearTimeout(timer);
        if (ms > 0) timer = clock.setTimeout(() => fail(new KubeTimeoutError(`${method} ${path}: ${message}`)), ms);
      };
      const onAbort = () => fail(abortReason(signal!));
      const cleanup = () => {
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', (err) => {
        // After the answer arrived, an error (reset, timeout, abort) ends the body being read.
        if (answered) return answered.destroy(err);
        cleanup();
        reject(err);
      });
      request.on('socket', (socket) => {
        const waitForHeaders = () => arm(timeoutMs, `no answer within ${timeoutMs} ms`);
        if (!socket.connecting) return waitForHeaders();
        arm(CONNECT_TIMEOUT_MS, `could not connect to ${this.credentials.server} in ${CONNECT_TIMEOUT_MS} ms`);
        socket.once(transport === https ? 'secureConnect' : 'connect', () => {
          if (!answered) waitForHeaders();
        });
      });
      request.on('response', (res) => {
        answered = res;
        clock.clearTimeout(timer);
        res.on('close', cleanup);
        resolve({ statusCode: res.statusCode ?? 0, body: res, touch: () => arm(timeoutMs, `the answer stalled for ${timeoutMs} ms`) });
      });
      request.end(body);
    });
  }

  private async toError(res: OpenResponse, method: string, path: string): Promise<KubeApiError> {
    const text = await readText(res).catch(() => '');
    let status: { reason?: string; message?: string } | undefined;
    try {
      status = JSON.parse(text) as { reason?: string; message?: string };
    } catch {
      status = undefined;
    }
    return new KubeApiError(res.statusCode, status?.reason ?? 'Unknown', status?.message ?? text.slice(0, 300), method, path, status ?? text);
  }
}

/** No answer, or a stalled one, within the request's time. */
export class KubeTimeoutError extends Error {
  override name = 'KubeTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** The whole body as text; an answer cut short (reset, fewer bytes than announced) is an error. */
async function readText(res: OpenResponse): Promise<string> {
  res.touch();
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) {
    res.touch();
    chunks.push(chunk as Buffer);
  }
  if (!res.body.complete) throw new Error('the connection closed before the complete answer arrived');
  return Buffer.concat(chunks).toString('utf8');
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}
