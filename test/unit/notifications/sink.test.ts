// One webhook sink over a scripted transport and a fake clock: order, the bounded queue, retries
// with jittered backoff and Retry-After, final answers, stopping, and no URL in any log line.
import { PassThrough } from 'node:stream';
import { describe, expect, test } from '@jest/globals';
import type { NotificationSinkConfig } from '../../../src/controller/config/config.js';
import { notificationId } from '../../../src/controller/notifications/formats.js';
import { Registry } from 'prom-client';
import { createControllerMetrics } from '../../../src/controller/metrics.js';
import { MAX_RETRY_AFTER_MS, RequestFailureReason, WebhookSink, type SinkItem, type SinkOutcome, type WebhookSinkOptions } from '../../../src/controller/notifications/sink.js';
import { UrlSourceError, type WebhookAnswer, type WebhookRequest } from '../../../src/controller/notifications/transport.js';
import { createLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';

const URL_WITH_TOKEN = 'https://hooks.example.com/services/T000/B000/very-secret-token-123';
const TOKEN = 'very-secret-token-123';

/** Lets every pending promise callback run (the sink's loop, the scripted transport). */
const flush = () => new Promise((resolve) => setImmediate(resolve));

function item(n: number, node = 'node-a'): SinkItem {
  const entry = { transition: 'DrainStarted' as const, time: new Date(Date.UTC(2026, 10, 22, 4, 0, n)).toISOString(), eventId: `EV-${n}`, phase: 'Draining' as const };
  return { node, key: `EV-${n}`, notification: { id: notificationId(node, entry), cluster: '', node: { name: node }, entry } };
}

/** A transport answering from a script; a `hold` answer stays pending until released. */
class ScriptedTransport {
  readonly requests: WebhookRequest[] = [];
  private readonly script: (WebhookAnswer | 'hold')[] = [];
  private held: ((answer: WebhookAnswer) => void)[] = [];
  fallback: WebhookAnswer = { kind: 'answered', status: 200 };

  answer(...answers: (WebhookAnswer | 'hold')[]): this {
    this.script.push(...answers);
    return this;
  }

  release(answer: WebhookAnswer = { kind: 'answered', status: 200 }): void {
    for (const resolve of this.held.splice(0)) resolve(answer);
  }

  readonly send = (request: WebhookRequest): Promise<WebhookAnswer> => {
    this.requests.push(request);
    const next = this.script.shift() ?? this.fallback;
    if (next !== 'hold') return Promise.resolve(next);
    return new Promise((resolve) => this.held.push(resolve));
  };

  eventIds(): string[] {
    return this.requests.map((request) => (JSON.parse(request.body) as { event: { id: string } }).event.id);
  }
}

function setUp(overrides: Partial<NotificationSinkConfig> = {}, options: { leading?: () => boolean; resolveUrl?: () => Promise<string>; random?: () => number } = {}) {
  const clock = new FakeClock();
  const transport = new ScriptedTransport();
  const logStream = new PassThrough();
  const logs: string[] = [];
  logStream.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  const counts = { sent: 0, failed: 0, dropped: 0, retries: 0, latency: [] as number[] };
  const finished: [string, SinkOutcome][] = [];
  const config: NotificationSinkConfig = { name: 'ops', format: 'generic', transitions: ['DrainStarted'], urlFrom: { env: 'OPS_URL' }, timeoutMs: 10_000, maxAttempts: 4, queueSize: 100, ...overrides };
  const sinkOptions: WebhookSinkOptions = {
    config,
    transport: transport.send,
    resolveUrl: options.resolveUrl ?? (async () => URL_WITH_TOKEN),
    clock,
    logger: createLogger({ component: 'test', level: 'debug', stream: logStream }),
    counters: {
      sent: { inc: (_labels, value = 1) => void (counts.sent += value) },
      failed: { inc: (_labels, value = 1) => void (counts.failed += value) },
      dropped: { inc: (_labels, value = 1) => void (counts.dropped += value) },
      retries: { inc: (_labels, value = 1) => void (counts.retries += value) },
      latency: { observe: (_labels, seconds) => void counts.latency.push(seconds) },
    },
    random: options.random ?? (() => 0.5),
    userAgent: 'nodemeta-controller/test',
    isLeading: options.leading ?? (() => true),
    onFinished: (done, outcome) => void finished.push([done.key, outcome]),
  };
  const sink = new WebhookSink(sinkOptions);
  return { clock, transport, sink, counts, finished, logs, options: sinkOptions };
}

describe('WebhookSink', () => {
  test('sends in the order offered, one request at a time, with the rendered body, timeout and user agent', async () => {
    const { transport, sink, counts, finished } = setUp();
    transport.answer('hold');
    for (const n of [1, 2, 3]) expect(sink.offer(item(n))).toBe(true);
    await flush();
    expect(transport.requests).toHaveLength(1);
    expect(sink.depth()).toBe(3);
    transport.release();
    await sink.idle();
    expect(transport.eventIds()).toEqual(['EV-1', 'EV-2', 'EV-3']);
    expect(transport.requests[0]).toMatchObject({ url: URL_WITH_TOKEN, timeoutMs: 10_000, userAgent: 'nodemeta-controller/test' });
    expect(JSON.parse(transport.requests[0]!.body)).toMatchObject({ apiVersion: 'nodemeta.io/notification/v1', transition: 'DrainStarted' });
    expect(counts).toMatchObject({ sent: 3, failed: 0, dropped: 0 });
    expect(finished).toEqual([['EV-1', 'sent'], ['EV-2', 'sent'], ['EV-3', 'sent']]);
    expect(sink.depth()).toBe(0);
  });

  test('a full queue drops the new notification, counts it and says so once', async () => {
    const { transport, sink, counts, finished, logs } = setUp({ queueSize: 2 });
    transport.answer('hold');
    expect([1, 2, 3, 4].map((n) => sink.offer(item(n)))).toEqual([true, true, false, false]);
    expect(counts.dropped).toBe(2);
    expect(finished).toEqual([['EV-3', 'dropped'], ['EV-4', 'dropped']]);
    await flush();
    expect(logs.filter((line) => line.includes('notification queue full'))).toHaveLength(1);
    transport.release();
    await sink.idle();
    expect(transport.eventIds()).toEqual(['EV-1', 'EV-2']);
  });

  test('5xx, 429, 408, timeouts, connection errors and an unreadable URL source are retried with backoff; the order holds', async () => {
    const { clock, transport, sink, counts, finished } = setUp({ maxAttempts: 10 });
    transport.answer(
      { kind: 'answered', status: 500 },
      { kind: 'answered', status: 503 },
      { kind: 'answered', status: 429 },
      { kind: 'answered', status: 408 },
      { kind: 'timeout' },
      { kind: 'connection', code: 'ECONNREFUSED' },
    );
    sink.offer(item(1));
    sink.offer(item(2));
    for (let i = 0; i < 6; i++) {
      await flush();
      clock.advance(60_000);
    }
    await sink.idle();
    expect(transport.eventIds()).toEqual(['EV-1', 'EV-1', 'EV-1', 'EV-1', 'EV-1', 'EV-1', 'EV-1', 'EV-2']);
    expect(counts).toMatchObject({ sent: 2, retries: 6, failed: 0 });
    expect(finished.map(([key]) => key)).toEqual(['EV-1', 'EV-2']);
  });

  test('the backoff is jittered exponential (full jitter from 1 s, capped at 1 min)', async () => {
    const { clock, transport, sink } = setUp({ maxAttempts: 10 }, { random: () => 0.999 });
    transport.fallback = { kind: 'answered', status: 500 };
    sink.offer(item(1));
    const times: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 8; i++) {
      await flush();
      times.push(clock.now() - start);
      // Move to the next timer exactly: the attempt happens when its delay is over.
      clock.advance(Math.min(60_000, 1000 * 2 ** i));
    }
    expect(transport.requests.length).toBe(8);
    // Attempt n+1 waited about min(60 s, 1 s * 2^n) after attempt n.
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000]);
    sink.stop(false);
  });

  test('Retry-After is honoured when longer than the backoff, up to 5 minutes', async () => {
    const { clock, transport, sink } = setUp({}, { random: () => 0 });
    transport.answer({ kind: 'answered', status: 429, retryAfterMs: 30_000 }, { kind: 'answered', status: 503, retryAfterMs: 3_600_000 });
    sink.offer(item(1));
    await flush();
    expect(transport.requests).toHaveLength(1);
    clock.advance(29_999);
    await flush();
    expect(transport.requests).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(transport.requests).toHaveLength(2);
    clock.advance(MAX_RETRY_AFTER_MS - 1);
    await flush();
    expect(transport.requests).toHaveLength(2);
    clock.advance(1);
    await sink.idle();
    expect(transport.requests).toHaveLength(3);
  });

  test('any other answer is final: counted failed, not retried, and the next notification goes', async () => {
    const { transport, sink, counts, finished, logs } = setUp();
    transport.answer({ kind: 'answered', status: 404, detail: 'no_service' }, { kind: 'answered', status: 200 });
    sink.offer(item(1));
    sink.offer(item(2));
    await sink.idle();
    expect(transport.eventIds()).toEqual(['EV-1', 'EV-2']);
    expect(counts).toMatchObject({ sent: 1, failed: 1, retries: 0 });
    expect(finished).toEqual([['EV-1', 'failed'], ['EV-2', 'sent']]);
    await flush();
    expect(logs.join('')).toContain('HTTP 404: no_service');
  });

  test('gives up after maxAttempts', async () => {
    const { clock, transport, sink, counts, finished } = setUp({ maxAttempts: 3 });
    transport.fallback = { kind: 'timeout' };
    sink.offer(item(1));
    for (let i = 0; i < 3; i++) {
      await flush();
      clock.advance(60_000);
    }
    await sink.idle();
    expect(transport.requests).toHaveLength(3);
    expect(counts).toMatchObject({ failed: 1, retries: 2, sent: 0 });
    expect(finished).toEqual([['EV-1', 'failed']]);
  });

  test("each sink's counters exist from the start, at 0 (an alert on increase() then sees the first failure)", async () => {
    const registry = new Registry();
    const metrics = createControllerMetrics({ registry });
    const { sent, failed, dropped, retries, latency } = { sent: metrics.notificationsSent, failed: metrics.notificationsFailed, dropped: metrics.notificationsDropped, retries: metrics.notificationsRetries, latency: metrics.notificationsLatency };
    new WebhookSink({ ...setUp().options, counters: { sent, failed, dropped, retries, failedRequests: metrics.notificationsFailedRequests, latency } });
    const text = await registry.metrics();
    for (const name of ['sent', 'failed', 'dropped', 'retries']) expect(text).toContain(`nodemeta_controller_notifications_${name}_total{sink="ops"} 0`);
    for (const reason of Object.values(RequestFailureReason)) expect(text).toContain(`nodemeta_controller_notifications_failed_requests_total{sink="ops",reason="${reason}"} 0`);
  });

  test("a proxy's refusal is final and says so in the log line and the metric's reason, without the URL", async () => {
    const registry = new Registry();
    const metrics = createControllerMetrics({ registry });
    const { options, transport, counts, finished, logs } = setUp();
    const sink = new WebhookSink({ ...options, counters: { ...options.counters!, failedRequests: metrics.notificationsFailedRequests } });
    transport.answer({ kind: 'proxy-refused', status: 407 }, { kind: 'proxy-refused', status: 403 });
    sink.offer(item(1));
    sink.offer(item(2));
    await sink.idle();
    expect(transport.requests).toHaveLength(2);
    expect(counts).toMatchObject({ failed: 2, retries: 0 });
    expect(finished).toEqual([['EV-1', 'failed'], ['EV-2', 'failed']]);
    await flush();
    const lines = logs.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.message === 'notification failed, giving up').map((line) => line.reason)).toEqual(['proxy refused: 407 Proxy Authentication Required', 'proxy refused: 403 Forbidden']);
    expect(logs.join('')).not.toContain(TOKEN);
    expect(logs.join('')).not.toContain('hooks.example.com');
    expect(await registry.metrics()).toContain('nodemeta_controller_notifications_failed_requests_total{sink="ops",reason="ProxyRefused"} 2');
  });

  test('latency runs from the transition being recorded to the 2xx', async () => {
    const { clock, transport, sink, counts } = setUp();
    clock.advance(2_500 - (clock.now() - Date.UTC(2026, 10, 22, 4, 0, 1)));
    transport.answer({ kind: 'answered', status: 202 });
    sink.offer(item(1));
    await sink.idle();
    expect(counts.latency).toEqual([2.5]);
  });

  test('a follower sends nothing; a stop leaves what waits unsent (for the next leader), a removal drops it', async () => {
    let leading = false;
    const follower = setUp({}, { leading: () => leading });
    follower.sink.offer(item(1));
    await follower.sink.idle();
    expect(follower.transport.requests).toHaveLength(0);
    expect(follower.finished).toEqual([]);

    const stopped = setUp();
    stopped.transport.answer('hold');
    stopped.sink.offer(item(1));
    stopped.sink.offer(item(2));
    await flush();
    stopped.sink.stop(false);
    stopped.transport.release();
    await stopped.sink.idle();
    expect(stopped.finished).toEqual([]);
    expect(stopped.counts.dropped).toBe(0);
    expect(stopped.sink.offer(item(3))).toBe(false);

    const removed = setUp();
    removed.transport.answer('hold');
    removed.sink.offer(item(1));
    removed.sink.offer(item(2));
    await flush();
    removed.sink.stop(true);
    expect(removed.finished).toEqual([
      ['EV-1', 'dropped'],
      ['EV-2', 'dropped'],
    ]);
    expect(removed.counts.dropped).toBe(2);
    leading = true;
  });

  test('the URL never appears in a log line, whatever happens', async () => {
    const { clock, transport, sink, logs } = setUp({ maxAttempts: 2 });
    transport.answer({ kind: 'answered', status: 500 }, { kind: 'answered', status: 200 }, { kind: 'connection', code: 'ENOTFOUND' }, { kind: 'timeout' }, { kind: 'answered', status: 403, detail: 'invalid_token' });
    for (const n of [1, 2, 3]) sink.offer(item(n));
    for (let i = 0; i < 5; i++) {
      await flush();
      clock.advance(60_000);
    }
    await sink.idle();
    expect(transport.requests.length).toBe(5);
    await flush();
    const text = logs.join('');
    expect(text).toContain('notification sent');
    expect(text).toContain('notification not delivered, retrying');
    expect(text).toContain('notification failed, giving up');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('hooks.example.com');
  });

  test('an unreadable URL source is retried and named in the log line, never a URL', async () => {
    let ready = false;
    const { clock, transport, sink, logs, counts } = setUp({}, { resolveUrl: async () => (ready ? URL_WITH_TOKEN : Promise.reject(new UrlSourceError('cannot read file /etc/nodemeta/notifications/ops/url: ENOENT'))) });
    sink.offer(item(1));
    await flush();
    expect(transport.requests).toHaveLength(0);
    ready = true;
    clock.advance(60_000);
    await sink.idle();
    expect(transport.requests).toHaveLength(1);
    expect(counts).toMatchObject({ sent: 1, retries: 1 });
    await flush();
    expect(logs.join('')).toContain('URL source: cannot read file /etc/nodemeta/notifications/ops/url: ENOENT');
  });
});
