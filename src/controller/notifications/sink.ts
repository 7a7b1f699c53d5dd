// One webhook sink: a bounded queue sent in the background, one request at a time and in order, so a
// receiver sees a node's transitions as they happened. Nothing here is ever awaited by a reconcile:
// offer() only queues. A full queue drops the new notification and counts it.
//
// Retries (jittered exponential backoff from runtime/backoff.ts, full jitter so that the sinks of
// several clusters do not retry in step): answers 408, 429 and 5xx, timeouts, connection errors and a
// URL source that cannot be read yet (a Secret not mounted yet). 429 and 503 may say Retry-After:
// honoured, up to MAX_RETRY_AFTER_MS. Any other answer (a 4xx: bad URL, revoked token) is final.
// A proxy that refuses the CONNECT with a 5xx (it cannot reach the receiver) is retried; a 407 or 403
// (credentials, policy) is final, and says it was the proxy (docs/notifications.md, "Proxies").
// The URL is never logged: log lines name the sink, the node, the transition and what went wrong.

import type { Logger } from '../../observability/logger.js';
import { Backoff, type Random } from '../../time/backoff.js';
import { sleep, type Clock } from '../../time/clock.js';
import type { NotificationTransition } from '../../api/nodemetadata.js';
import type { NotificationSinkConfig, UrlSource } from '../config/config.js';
import { renderNotification, type Notification } from './formats.js';
import { statusText, UrlSourceError, type WebhookAnswer, type WebhookTransport } from './transport.js';

/** First retry delay scale and cap (full jitter: a retry waits random(0, min(cap, base·2ⁿ))). */
export const RETRY_BASE_MS = 1_000;
export const RETRY_CAP_MS = 60_000;
/** A Retry-After longer than this is cut to it: a sink must not stall for hours on one answer. */
export const MAX_RETRY_AFTER_MS = 300_000;

export type SinkOutcome = 'sent' | 'failed' | 'dropped';

/**
 * Why a request delivered nothing: the `reason` label of
 * nodemeta_controller_notifications_failed_requests_total, a bounded set (docs/metrics.md).
 */
export const RequestFailureReason = {
  /** The receiver answered a final non-2xx (a 4xx other than 408 and 429, a redirect). */
  ReceiverRefused: 'ReceiverRefused',
  /** The receiver answered 5xx, 408 or 429. */
  ReceiverFailed: 'ReceiverFailed',
  Timeout: 'Timeout',
  /** No connection to the receiver (refused, reset, DNS, TLS). */
  Connection: 'Connection',
  /** The proxy answered the CONNECT with a non-200 status (407, 403, 502...). */
  ProxyRefused: 'ProxyRefused',
  /** No connection to the proxy. */
  ProxyUnreachable: 'ProxyUnreachable',
  /** The URL's file or environment variable gave no usable URL. */
  UrlSource: 'UrlSource',
} as const;
export type RequestFailureReason = (typeof RequestFailureReason)[keyof typeof RequestFailureReason];

/** The per-sink metrics (metrics.ts: nodemeta_controller_notifications_*). */
export interface SinkCounters {
  sent: { inc(labels: { sink: string }, value?: number): void };
  failed: { inc(labels: { sink: string }, value?: number): void };
  dropped: { inc(labels: { sink: string }, value?: number): void };
  retries: { inc(labels: { sink: string }, value?: number): void };
  /** Every request that delivered nothing, by reason (retried or not). */
  failedRequests?: { inc(labels: { sink: string; reason: RequestFailureReason }, value?: number): void };
  /** Seconds from the transition being recorded to the receiver's 2xx. */
  latency: { observe(labels: { sink: string }, seconds: number): void };
}

export interface SinkItem {
  /** The node it is about (for the outbox and log lines). */
  node: string;
  /** Identity of the pending notification within its node (transitions.ts pendingKey). */
  key: string;
  notification: Notification;
}

export interface WebhookSinkOptions {
  config: NotificationSinkConfig;
  transport: WebhookTransport;
  resolveUrl: (source: UrlSource) => Promise<string>;
  clock: Clock;
  logger: Logger;
  counters?: SinkCounters;
  random?: Random;
  /** Sent as User-Agent. */
  userAgent: string;
  /** False once this replica stops leading: nothing more is sent. */
  isLeading: () => boolean;
  /** The item is done with: sent, given up (failed) or dropped. Not called for items a stop leaves unsent. */
  onFinished: (item: SinkItem, outcome: SinkOutcome) => void;
}

export class WebhookSink {
  private config: NotificationSinkConfig;
  private readonly queue: SinkItem[] = [];
  /** Set synchronously while run() loops, so an offer() never lands in a queue nobody sends. */
  private active = false;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly abort = new AbortController();
  /** Set while the queue is full (its log line is written once per episode, with the count after). */
  private droppedWhileFull: number | undefined;

  constructor(private readonly options: WebhookSinkOptions) {
    this.config = options.config;
    // Each sink's series exist from the start at 0, so that an alert on increase() sees the first one.
    const labels = { sink: this.name };
    for (const counter of [options.counters?.sent, options.counters?.failed, options.counters?.dropped, options.counters?.retries]) counter?.inc(labels, 0);
    for (const reason of Object.values(RequestFailureReason)) options.counters?.failedRequests?.inc({ ...labels, reason }, 0);
  }

  get name(): string {
    return this.config.name;
  }

  wants(transition: NotificationTransition): boolean {
    return this.config.transitions.includes(transition);
  }

  /** Notifications waiting, the one being sent included. */
  depth(): number {
    return this.queue.length;
  }

  /** Queues `item`; false when the queue is full (the item is then dropped and counted) or the sink stopped. */
  offer(item: SinkItem): boolean {
    if (this.stopped) return false;
    if (this.queue.length >= this.config.queueSize) {
      this.drop(item);
      return false;
    }
    this.queue.push(item);
    if (this.droppedWhileFull !== undefined && this.queue.length <= this.config.queueSize / 2) {
      this.options.logger.info('notification queue has room again', { sink: this.name, dropped: this.droppedWhileFull });
      this.droppedWhileFull = undefined;
    }
    if (!this.active) {
      this.active = true;
      this.running = this.run();
    }
    return true;
  }

  /** A reloaded configuration of the same sink: applies to the next request. A shorter queue drops the newest excess. */
  reconfigure(config: NotificationSinkConfig): void {
    this.config = config;
    const excess = this.queue.length - config.queueSize;
    if (excess > 0) for (const item of this.queue.splice(this.queue.length - excess, excess)) this.drop(item);
  }

  /**
   * Stops sending. `dropWaiting`: the sink was removed from the configuration, what waits is dropped
   * (counted); else (leadership lost, shutdown) it is left unsent, for the next leader's outbox.
   */
  stop(dropWaiting: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    const waiting = this.queue.splice(0);
    if (dropWaiting) for (const item of waiting) this.drop(item);
  }

  /** Resolves once the queue is empty (or the sink stopped). */
  async idle(): Promise<void> {
    while (this.active) await this.running;
  }

  private drop(item: SinkItem): void {
    this.options.counters?.dropped.inc({ sink: this.name });
    if (this.droppedWhileFull === undefined && !this.stopped) {
      this.options.logger.warn('notification queue full, dropping new notifications', { sink: this.name, queueSize: this.config.queueSize, node: item.node, transition: item.notification.entry.transition });
      this.droppedWhileFull = 0;
    }
    if (this.droppedWhileFull !== undefined) this.droppedWhileFull++;
    this.options.onFinished(item, 'dropped');
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped && this.queue.length > 0) {
        const item = this.queue[0]!;
        const outcome = await this.deliver(item);
        if (outcome === 'stopped') return;
        this.queue.shift();
        this.options.onFinished(item, outcome);
      }
    } catch (error) {
      // A bug, not an answer: logged, and the sink stays usable (the next offer starts it again).
      this.options.logger.error('notification sink stopped on an error', { sink: this.name, error: error instanceof Error ? error.name : 'error' });
    } finally {
      this.active = false;
    }
  }

  private async deliver(item: SinkItem): Promise<'sent' | 'failed' | 'stopped'> {
    const labels = { sink: this.name };
    const { entry } = item.notification;
    const what = { sink: this.name, node: item.node, transition: entry.transition, eventId: entry.eventId };
    const backoff = new Backoff({ baseMs: RETRY_BASE_MS, capMs: RETRY_CAP_MS, random: this.options.random ?? Math.random });
    for (let attempt = 1; ; attempt++) {
      if (this.stopped || !this.options.isLeading()) return 'stopped';
      const config = this.config;
      const answer = await this.attempt(config, item.notification);
      if (this.stopped) return 'stopped';
      const verdict = verdictOf(answer);
      if (verdict === 'sent') {
        this.options.counters?.sent.inc(labels);
        this.options.counters?.latency.observe(labels, Math.max(0, this.options.clock.now() - Date.parse(entry.time)) / 1000);
        this.options.logger.debug('notification sent', { ...what, attempts: attempt });
        return 'sent';
      }
      const reason = describeAnswer(answer, config.timeoutMs);
      this.options.counters?.failedRequests?.inc({ ...labels, reason: failureReasonOf(answer, verdict) });
      if (verdict === 'final' || attempt >= config.maxAttempts) {
        this.options.counters?.failed.inc(labels);
        this.options.logger.warn('notification failed, giving up', { ...what, attempts: attempt, reason });
        return 'failed';
      }
      const asked = answer.kind === 'answered' ? Math.min(answer.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS) : 0;
      const delay = Math.max(backoff.next(), asked);
      this.options.counters?.retries.inc(labels);
      this.options.logger.info('notification not delivered, retrying', { ...what, attempt, reason, retryInMs: delay });
      await sleep(this.options.clock, delay, this.abort.signal);
    }
  }

  private async attempt(config: NotificationSinkConfig, notification: Notification): Promise<WebhookAnswer | { kind: 'source'; detail: string }> {
    let url: string;
    try {
      url = await this.options.resolveUrl(config.urlFrom);
    } catch (error) {
      return { kind: 'source', detail: error instanceof UrlSourceError ? error.message : 'cannot read the URL' };
    }
    return this.options.transport({ url, body: renderNotification(config.format, notification), timeoutMs: config.timeoutMs, userAgent: this.options.userAgent, signal: this.abort.signal });
  }
}

/**
 * sent: 2xx. retry: 408, 429, 5xx, timeout, connection (to the receiver or the proxy), a proxy's 5xx
 * to the CONNECT, URL source. final: anything else (a proxy's 407 or 403 too).
 */
export function verdictOf(answer: WebhookAnswer | { kind: 'source' }): 'sent' | 'retry' | 'final' {
  if (answer.kind === 'proxy-refused') return answer.status >= 500 ? 'retry' : 'final';
  if (answer.kind !== 'answered') return 'retry';
  if (answer.status >= 200 && answer.status < 300) return 'sent';
  if (answer.status === 408 || answer.status === 429 || answer.status >= 500) return 'retry';
  return 'final';
}

/** One phrase for a log line; never the URL. */
export function describeAnswer(answer: WebhookAnswer | { kind: 'source'; detail: string }, timeoutMs: number): string {
  switch (answer.kind) {
    case 'answered': {
      const retryAfter = answer.retryAfterMs === undefined ? '' : ` (Retry-After ${Math.round(answer.retryAfterMs / 1000)}s)`;
      return `HTTP ${answer.status}${retryAfter}${answer.detail === undefined ? '' : `: ${answer.detail}`}`;
    }
    case 'timeout':
      return `no answer within ${Math.round(timeoutMs / 100) / 10}s`;
    case 'connection':
      return `connection failed (${answer.code})`;
    case 'proxy-refused':
      return `proxy refused: ${statusText(answer.status)}`;
    case 'proxy-connection':
      return `proxy unreachable (${answer.code})`;
    case 'source':
      return `URL source: ${answer.detail}`;
  }
}

/** The metric's reason for an answer that delivered nothing. */
export function failureReasonOf(answer: WebhookAnswer | { kind: 'source' }, verdict: 'retry' | 'final'): RequestFailureReason {
  switch (answer.kind) {
    case 'answered':
      return verdict === 'final' ? RequestFailureReason.ReceiverRefused : RequestFailureReason.ReceiverFailed;
    case 'timeout':
      return RequestFailureReason.Timeout;
    case 'connection':
      return RequestFailureReason.Connection;
    case 'proxy-refused':
      return RequestFailureReason.ProxyRefused;
    case 'proxy-connection':
      return RequestFailureReason.ProxyUnreachable;
    case 'source':
      return RequestFailureReason.UrlSource;
  }
}
