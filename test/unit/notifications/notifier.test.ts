// The notifier between the reconciler and the sinks: what it hands to which sink, when an entry is
// finished, the debounced confirmation, and hot reloads of the sinks.
import type { EventReason } from '../../../src/api/event-reasons.js';
import { describe, expect, test } from '@jest/globals';
import type { NodeMetadata, PendingNotification } from '../../../src/api/nodemetadata.js';
import { parseConfig, type NotificationsConfig } from '../../../src/controller/config/config.js';
import { Notifier } from '../../../src/controller/notifications/notifier.js';
import type { WebhookAnswer, WebhookRequest } from '../../../src/controller/notifications/transport.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

function sinks(yaml: string): NotificationsConfig {
  const result = parseConfig(`notifications:\n  clusterName: c1\n  sinks:\n${yaml}`);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.config.notifications;
}

const entry = (transition: PendingNotification['transition'], second: number): PendingNotification => ({
  transition,
  time: new Date(Date.UTC(2026, 10, 22, 4, 0, second)).toISOString(),
  eventId: 'EV-1',
  eventType: 'Reboot',
  phase: 'Scheduled',
});

function nodeMetadata(name: string, pending: PendingNotification[]): NodeMetadata {
  return {
    apiVersion: 'nodemeta.io/v1alpha1',
    kind: 'NodeMetadata',
    metadata: { name },
    status: { provider: 'alibaba', instance: { region: 'cn-hangzhou', zone: 'cn-hangzhou-h' }, ...(pending.length === 0 ? {} : { notifications: { pending } }) },
  };
}

function setUp(config: NotificationsConfig, hold = false) {
  const clock = new FakeClock();
  const requests: { sink: string; body: Record<string, unknown> }[] = [];
  const held: (() => void)[] = [];
  const settled: string[] = [];
  /** Sink names whose client was made, and closed, in order. */
  const clients = { made: [] as string[], closed: [] as string[] };
  const notifier = new Notifier({
    clock,
    logger: silentLogger(),
    newClient: (name) => (clients.made.push(name), {
      send: (request: WebhookRequest) => {
        requests.push({ sink: new URL(request.url).pathname.slice(1), body: JSON.parse(request.body) as Record<string, unknown> });
        if (!hold) return Promise.resolve<WebhookAnswer>({ kind: 'answered', status: 204 });
        return new Promise<WebhookAnswer>((resolve) => held.push(() => resolve({ kind: 'answered', status: 204 })));
      },
      route: 'direct',
      close: async () => void clients.closed.push(name),
    }),
    resolveUrl: async (source) => `https://receiver.example/${'env' in source ? source.env : 'file'}`,
    userAgent: 'test',
    isLeading: () => true,
    onSettled: (name) => settled.push(name),
  });
  notifier.configure(config);
  return { clock, notifier, requests, settled, clients, release: () => held.splice(0).forEach((go) => go()) };
}

describe('Notifier', () => {
  test('hands each stored entry once to the sinks that want it, with the node facts and the cluster name', async () => {
    const { notifier, requests } = setUp(sinks('    - {name: a, format: generic, urlFrom: {env: A}}\n    - {name: b, format: generic, transitions: [Completed], urlFrom: {env: B}}\n'));
    const stored = nodeMetadata('n1', [entry('Scheduled', 1), entry('Completed', 2)]);
    notifier.track('n1', stored);
    notifier.track('n1', stored);
    await notifier.idle();
    const got = (sink: string) => requests.filter((r) => r.sink === sink).map((r) => r.body.transition);
    expect(got('A')).toEqual(['Scheduled', 'Completed']);
    expect(got('B')).toEqual(['Completed']);
    expect(requests[0]!.body).toMatchObject({ cluster: 'c1', node: { name: 'n1', provider: 'alibaba', region: 'cn-hangzhou', zone: 'cn-hangzhou-h' } });
  });

  test('an entry is finished once every sink that wants it is done; the node is reconciled once for several', async () => {
    const { clock, notifier, settled, release } = setUp(sinks('    - {name: a, format: generic, urlFrom: {env: A}}\n'), true);
    const stored = nodeMetadata('n1', [entry('Scheduled', 1), entry('DrainStarted', 2)]);
    notifier.track('n1', stored);
    const step = { status: { phase: 'Draining' as const, eventId: 'EV-1' }, actions: [] };
    expect(notifier.next('n1', stored.status?.notifications, step, new Date())?.pending).toHaveLength(2);
    await flush();
    release();
    await flush();
    release();
    await notifier.idle();
    expect(settled).toEqual([]);
    clock.advance(1_000);
    expect(settled).toEqual(['n1']);
    expect(notifier.next('n1', stored.status?.notifications, step, new Date())).toBeUndefined();
    // The confirmation is stored: nothing is remembered any more.
    notifier.track('n1', nodeMetadata('n1', []));
    expect(notifier.trackedNodes()).toBe(0);
  });

  test('a step records only the transitions some sink wants', () => {
    const { notifier } = setUp(sinks('    - {name: a, format: generic, transitions: [DrainFailed], urlFrom: {env: A}}\n'));
    const emit = (reason: EventReason) => ({ kind: 'Emit' as const, type: 'Normal' as const, reason, message: '' });
    const now = new Date(Date.UTC(2026, 10, 22, 4, 0, 0));
    expect(notifier.next('n1', undefined, { status: { phase: 'Draining', eventId: 'EV-1' }, actions: [emit('DrainStarted')] }, now)).toBeUndefined();
    expect(notifier.next('n1', undefined, { status: { phase: 'Failed', eventId: 'EV-1', lastError: 'timed out' }, actions: [emit('DrainFailed')] }, now)?.pending).toEqual([
      { transition: 'DrainFailed', time: now.toISOString(), eventId: 'EV-1', phase: 'Failed', detail: 'timed out' },
    ]);
  });

  test('a reload: a new sink gets what comes next; a removed sink drops what it held (so those entries finish); a changed one keeps its queue', async () => {
    const { clock, notifier, settled, requests, release } = setUp(sinks('    - {name: a, format: generic, urlFrom: {env: A}}\n    - {name: b, format: generic, urlFrom: {env: B}}\n'), true);
    notifier.track('n1', nodeMetadata('n1', [entry('Scheduled', 1)]));
    await flush();
    expect(notifier.depths()).toEqual(new Map([['a', 1], ['b', 1]]));
    notifier.configure(sinks('    - {name: b, format: slack, urlFrom: {env: B}}\n    - {name: c, format: teams, urlFrom: {env: C}}\n'));
    expect(notifier.depths()).toEqual(new Map([['b', 1], ['c', 0]]));
    release();
    await notifier.idle();
    clock.advance(1_000);
    expect(settled).toEqual(['n1']);
    notifier.track('n1', nodeMetadata('n1', [entry('Scheduled', 1), entry('Drained', 3)]));
    await flush();
    release();
    await notifier.idle();
    expect(requests.map((r) => r.sink)).toEqual(['A', 'B', 'B', 'C']);
  });

  test("each sink has an HTTP client of its own, kept across reloads, closed when the sink is removed or the notifier stops", () => {
    const { notifier, clients } = setUp(sinks('    - {name: a, format: generic, urlFrom: {env: A}}\n    - {name: b, format: generic, urlFrom: {env: B}}\n'));
    notifier.configure(sinks('    - {name: a, format: generic, timeout: 5s, urlFrom: {env: A}}\n'));
    expect(clients).toEqual({ made: ['a', 'b'], closed: ['b'] });
    notifier.stop();
    expect(clients).toEqual({ made: ['a', 'b'], closed: ['b', 'a'] });
  });

  test('stopped (leadership lost): nothing more is handed to the sinks, no reconcile is asked', async () => {
    const { clock, notifier, requests, settled } = setUp(sinks('    - {name: a, format: generic, urlFrom: {env: A}}\n'));
    notifier.stop();
    notifier.track('n1', nodeMetadata('n1', [entry('Scheduled', 1)]));
    await flush();
    clock.advance(5_000);
    expect(requests).toEqual([]);
    expect(settled).toEqual([]);
    // Nothing it did not send counts as finished: a write would keep the entry for the next leader.
    const step = { status: { phase: 'Scheduled' as const, eventId: 'EV-1' }, actions: [] };
    expect(notifier.next('n1', { pending: [entry('Scheduled', 1)] }, step, new Date())?.pending).toHaveLength(1);
  });
});
