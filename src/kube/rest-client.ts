// A small REST client for the few calls the agent makes (read its Node, apply its NodeMetadata
// status, watch its own object), over undici with its own Agent: no proxy, no global dispatcher.

import { Agent, request, type Dispatcher } from 'undici';
import { KubeApiError } from './errors.js';
import type { KubeCredentials } from './credentials.js';

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
}

export class KubeRestClient {
  private readonly dispatcher: Agent;
  private readonly userAgent: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly credentials: KubeCredentials,
    options: KubeRestClientOptions = {},
  ) {
    this.userAgent = options.userAgent ?? 'nodemeta';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.dispatcher = new Agent({
      connect: {
        ca: credentials.ca,
        cert: credentials.cert,
        key: credentials.key,
        rejectUnauthorized: !credentials.insecureSkipTLSVerify,
        timeout: 10_000,
      },
      keepAliveTimeout: 30_000,
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
   */
  async watch<T>(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (event: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.send('GET', path, { query: { ...query, watch: true, allowWatchBookmarks: true }, signal, timeoutMs: 0 });
    if (res.statusCode >= 300) throw await this.toError(res, 'GET', path);
    let buffered = '';
    for await (const chunk of res.body) {
      buffered += (chunk as Buffer).toString('utf8');
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
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async json<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const res = await this.send(method, path, options);
    if (res.statusCode >= 300) throw await this.toError(res, method, path);
    return (await res.body.json()) as T;
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Dispatcher.ResponseData> {
    const url = new URL(this.credentials.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    const token = await this.credentials.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      body = JSON.stringify(options.body); // JSON is valid YAML, so apply-patch+yaml takes it too
    }
    const timeout = options.timeoutMs ?? this.timeoutMs;
    return request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher: this.dispatcher,
      signal: options.signal,
      headersTimeout: timeout || 0,
      bodyTimeout: timeout || 0,
    });
  }

  private async toError(res: Dispatcher.ResponseData, method: string, path: string): Promise<KubeApiError> {
    const text = await res.body.text().catch(() => '');
    let status: { reason?: string; message?: string } | undefined;
    try {
      status = JSON.parse(text) as { reason?: string; message?: string };
    } catch {
      status = undefined;
    }
    return new KubeApiError(res.statusCode, status?.reason ?? 'Unknown', status?.message ?? text.slice(0, 300), method, path, status ?? text);
  }
}
