// The edge that talks HTTP for the notification sinks: where a sink's URL comes from (an environment
// variable or a file, e.g. a mounted Secret key) and the POSTs, with undici (docs/notifications.md,
// "Proxies"): one dispatcher per sink, so its connection is reused from one notification to the
// next, through the proxy the standard variables name (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, or their
// lower-case forms), which Node's fetch and http ignore. A proxied request always goes through a
// CONNECT tunnel, for http:// receivers too, so that any refusal of the proxy is the answer to a
// CONNECT and is never taken for the receiver's.
//
// A webhook URL carries its token (Slack: /services/T…/B…/<secret>; Teams Workflows: a `sig` query
// parameter), so nothing here ever puts it into an error or a return value: undici's errors (which
// may quote the URL) are reduced to a fixed word, and the few bytes of a refusal that are kept have
// the URL cut out. A proxy URL may carry credentials (user:password@): only its host and port are
// ever shown.

import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { Agent, EnvHttpProxyAgent, Pool, request, type Dispatcher } from 'undici';
import { flattenControlCharacters } from '../../api/text.js';
import type { Clock } from '../../time/clock.js';
import { parseRetryAfter } from '../../runtime/retry-after.js';
import type { UrlSource } from '../config/config.js';

/** What one POST came to. */
export type WebhookAnswer =
  /** The receiver answered; `detail` is the start of a refusal's body (never of a success's). */
  | { kind: 'answered'; status: number; retryAfterMs?: number; detail?: string }
  /** No full answer within the timeout. */
  | { kind: 'timeout' }
  /** The connection failed (refused, reset, DNS, TLS); `code` is the system's word for it. */
  | { kind: 'connection'; code: string }
  /** The proxy answered the CONNECT with something else than 200 (407, 403, 502...). */
  | { kind: 'proxy-refused'; status: number }
  /** The proxy itself could not be reached (refused, reset, DNS, TLS to the proxy). */
  | { kind: 'proxy-connection'; code: string };

export interface WebhookRequest {
  url: string;
  /** JSON text. */
  body: string;
  timeoutMs: number;
  /** Sent as User-Agent, e.g. `nodemeta-controller/<identity>`. */
  userAgent: string;
  /** Aborts the request (the process stops): answered as a timeout. */
  signal?: AbortSignal;
}

/** One POST; never throws, never follows a redirect (a body must not go to another host). */
export type WebhookTransport = (request: WebhookRequest) => Promise<WebhookAnswer>;

/** One sink's HTTP client: its POSTs share a dispatcher (and its connections) until closed. */
export interface WebhookClient {
  send: WebhookTransport;
  /** Where its requests go: `direct`, or the proxies' host:port (for one log line; never credentials). */
  route: string;
  close(): Promise<void>;
}

/** A URL source that cannot give a usable URL; the message names the source, never a URL. */
export class UrlSourceError extends Error {
  override name = 'UrlSourceError';
}

export interface UrlSourceEnvironment {
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => Promise<string>;
}

const PROCESS_ENVIRONMENT: UrlSourceEnvironment = { env: process.env, readFile: (path) => readFile(path, 'utf8') };

/** Reads the URL from its source now (a file is read every time: a rotated Secret applies at once). */
export async function resolveUrl(source: UrlSource, environment: UrlSourceEnvironment = PROCESS_ENVIRONMENT): Promise<string> {
  let text: string | undefined;
  const where = 'env' in source ? `environment variable ${source.env}` : `file ${source.file}`;
  if ('env' in source) {
    text = environment.env[source.env];
    if (text === undefined || text.trim() === '') throw new UrlSourceError(`${where} is not set`);
  } else {
    try {
      text = await environment.readFile(source.file);
    } catch (error) {
      throw new UrlSourceError(`cannot read ${where}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const url = text.trim();
  if (!isHttpUrl(url)) throw new UrlSourceError(`${where} does not hold an http(s) URL`);
  return url;
}

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol, hostname } = new URL(text);
  return (protocol === 'https:' || protocol === 'http:') && hostname !== '';
}

/** How much of a refusal's body is kept (Slack answers e.g. `invalid_payload`, `no_service`). */
const DETAIL_BYTES = 200;

/** The proxy variables, lower case first as curl reads them; an empty value is unset. */
export interface ProxySettings {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

export function proxySettings(env: NodeJS.ProcessEnv): ProxySettings {
  const read = (name: string): string => (env[name.toLowerCase()] || env[name] || '').trim();
  return { httpProxy: read('HTTP_PROXY'), httpsProxy: read('HTTPS_PROXY'), noProxy: read('NO_PROXY') };
}

export interface WebhookClientOptions {
  /** The request timeout runs on it (the one clock of the code base). */
  clock: Clock;
  /** Where the proxy variables come from. */
  env: NodeJS.ProcessEnv;
}

/**
 * A sink's client: an `EnvHttpProxyAgent` when a proxy variable is set (every variable passed
 * explicitly, so nothing else of the environment applies), else a plain `Agent`. One connection per
 * receiver: a sink sends one request at a time.
 */
export function createWebhookClient(options: WebhookClientOptions): WebhookClient {
  const proxies = proxySettings(options.env);
  const agentOptions = { connections: 1 };
  let dispatcher: Dispatcher;
  let route = 'direct';
  if (proxies.httpProxy !== '' || proxies.httpsProxy !== '') {
    route = [...new Set([proxies.httpsProxy, proxies.httpProxy].filter((uri) => uri !== '').map(proxyHost))].join(', ');
    // A proxy variable that is not a URL: every request says so (never a silent direct send).
    if (route.includes(UNPARSABLE_PROXY)) return { send: async () => ({ kind: 'proxy-connection', code: 'ERR_INVALID_PROXY_URL' }), route, close: async () => undefined };
    dispatcher = new EnvHttpProxyAgent({
      ...agentOptions,
      ...proxies,
      proxyTunnel: true,
      // The client to the proxy marks its connection failures, which undici passes on as they are.
      clientFactory: (origin: URL | string, clientOptions: Pool.Options) => new Pool(origin, { ...clientOptions, connect: markProxyFailures(clientOptions.connect) }),
    });
  } else {
    dispatcher = new Agent(agentOptions);
  }
  return {
    send: (webhookRequest) => post(dispatcher, options.clock, webhookRequest),
    route,
    close: () => dispatcher.close().catch(() => undefined),
  };
}

const UNPARSABLE_PROXY = 'a proxy variable that is not an http(s) URL';

/** scheme://host:port of a proxy URL, never its credentials. */
function proxyHost(uri: string): string {
  if (!URL.canParse(uri)) return UNPARSABLE_PROXY;
  const { host, protocol } = new URL(uri);
  return (protocol === 'http:' || protocol === 'https:') && host !== '' ? `${protocol}//${host}` : UNPARSABLE_PROXY;
}

/** A connection to the proxy failed (its code is the system's: ECONNREFUSED, ENOTFOUND...). */
export class ProxyConnectionFailure extends Error {
  override name = 'ProxyConnectionFailure';
  constructor(readonly code: string) {
    super(`connection to the proxy failed (${code})`);
  }
}

type Connector = NonNullable<Pool.Options['connect']>;

function markProxyFailures(connect: Pool.Options['connect']): Connector | undefined {
  if (typeof connect !== 'function') return connect as Connector | undefined;
  return (connectOptions, callback) =>
    connect(connectOptions, (error, socket) => {
      if (error !== null) callback(new ProxyConnectionFailure(systemCode(error) ?? 'error'), null);
      else callback(null, socket);
    });
}

async function post(dispatcher: Dispatcher, clock: Clock, webhookRequest: WebhookRequest): Promise<WebhookAnswer> {
  const timeout = new AbortController();
  const timer = clock.setTimeout(() => timeout.abort(), webhookRequest.timeoutMs);
  const signal = webhookRequest.signal === undefined ? timeout.signal : AbortSignal.any([timeout.signal, webhookRequest.signal]);
  try {
    const response = await request(webhookRequest.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': webhookRequest.userAgent },
      body: webhookRequest.body,
      dispatcher,
      signal,
    });
    const answer: WebhookAnswer & { kind: 'answered' } = { kind: 'answered', status: response.statusCode };
    const retryAfter = response.headers['retry-after'];
    const retryAfterMs = parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null);
    if (retryAfterMs !== undefined) answer.retryAfterMs = retryAfterMs;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      await response.body.dump().catch(() => undefined);
    } else {
      const detail = redact((await response.body.text().catch(() => '')).slice(0, DETAIL_BYTES), webhookRequest.url);
      if (detail !== '') answer.detail = detail;
    }
    return answer;
  } catch (error) {
    // Aborted by the timeout or by the sink stopping: answered as a timeout.
    if (signal.aborted) return { kind: 'timeout' };
    return failureOf(error);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** undici's words for a proxy's answer to a CONNECT that is not 200 (tunnel) or a 407 (forward). */
const PROXY_STATUS = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$|^Proxy Authentication Required \((407)\)$/;

/** A failure as a fixed word: an error's message may quote the URL. */
export function failureOf(error: unknown): WebhookAnswer {
  if (error instanceof ProxyConnectionFailure) return { kind: 'proxy-connection', code: error.code };
  const { name, code, message, cause } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
  // Before the abort check: undici's refused tunnel is a RequestAbortedError (named AbortError).
  const proxyStatus = typeof message === 'string' ? PROXY_STATUS.exec(message) : null;
  if (proxyStatus !== null) return { kind: 'proxy-refused', status: Number(proxyStatus[1] ?? proxyStatus[2]) };
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout' };
  // undici's own proxy errors: the tunnel's socket closed, or TLS to an https:// proxy failed.
  if (code === 'UND_ERR_PRX_CONN' || code === 'UND_ERR_PRX_TLS') return { kind: 'proxy-connection', code: systemCode(cause) ?? code };
  if (cause instanceof ProxyConnectionFailure) return { kind: 'proxy-connection', code: cause.code };
  const word = systemCode(error) ?? systemCode(cause);
  if (word !== undefined && /TIMEOUT/.test(word)) return { kind: 'timeout' };
  return { kind: 'connection', code: word ?? 'error' };
}

/** An error's code when it is a system word (ECONNREFUSED, UND_ERR_SOCKET), never free text. */
function systemCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : undefined;
}

/** "407 Proxy Authentication Required": a status and its standard phrase. */
export function statusText(status: number): string {
  const phrase = STATUS_CODES[status];
  return phrase === undefined ? String(status) : `${status} ${phrase}`;
}

/**
 * `text` without `url`, its path and query (where the token is) or any long token-like run, and
 * without control characters: safe for one log line.
 */
export function redact(text: string, url: string): string {
  let out = text;
  const secrets = [url];
  if (URL.canParse(url)) {
    const parsed = new URL(url);
    secrets.push(`${parsed.pathname}${parsed.search}`, parsed.search, ...parsed.pathname.split('/').filter((part) => part.length >= 8), ...[...parsed.searchParams.values()].filter((value) => value.length >= 8));
  }
  for (const secret of secrets.filter((part) => part.length > 1).sort((a, b) => b.length - a.length)) out = out.split(secret).join('<redacted>');
  return flattenControlCharacters(out);
}
