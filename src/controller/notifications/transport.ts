// The edge that talks HTTP for the notification sinks: where a sink's URL comes from (an environment
// variable or a file, e.g. a mounted Secret key) and one POST with Node's global fetch.
//
// A webhook URL carries its token (Slack: /services/T…/B…/<secret>; Teams Workflows: a `sig` query
// parameter), so nothing here ever puts it into an error or a return value: fetch's own errors (which
// may quote the URL) are reduced to a fixed word, and the few bytes of a refusal that are kept have
// the URL cut out.

import { readFile } from 'node:fs/promises';
import { flattenControlCharacters } from '../../api/text.js';
import { parseRetryAfter } from '../../runtime/retry-after.js';
import type { UrlSource } from '../config/config.js';

/** What one POST came to. */
export type WebhookAnswer =
  /** The receiver answered; `detail` is the start of a refusal's body (never of a success's). */
  | { kind: 'answered'; status: number; retryAfterMs?: number; detail?: string }
  /** No full answer within the timeout. */
  | { kind: 'timeout' }
  /** The connection failed (refused, reset, DNS, TLS); `code` is the system's word for it. */
  | { kind: 'connection'; code: string };

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

/** The production transport: Node's global fetch. */
export const fetchTransport: WebhookTransport = async (request) => {
  const signals = [AbortSignal.timeout(request.timeoutMs), ...(request.signal === undefined ? [] : [request.signal])];
  const signal = AbortSignal.any(signals);
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': request.userAgent },
      body: request.body,
      redirect: 'manual',
      signal,
    });
    const answer: WebhookAnswer & { kind: 'answered' } = { kind: 'answered', status: response.status };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfterMs !== undefined) answer.retryAfterMs = retryAfterMs;
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => undefined);
    } else {
      const detail = redact((await response.text().catch(() => '')).slice(0, DETAIL_BYTES), request.url);
      if (detail !== '') answer.detail = detail;
    }
    return answer;
  } catch (error) {
    return failureOf(error);
  }
};

/** A fetch failure as a fixed word: its message may quote the URL. */
export function failureOf(error: unknown): WebhookAnswer {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout' };
  const cause = (error as { cause?: { code?: unknown; name?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(cause.code) ? cause.code : undefined;
  if (code !== undefined && /TIMEOUT/.test(code)) return { kind: 'timeout' };
  if (cause?.name === 'TimeoutError') return { kind: 'timeout' };
  return { kind: 'connection', code: code ?? 'error' };
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
