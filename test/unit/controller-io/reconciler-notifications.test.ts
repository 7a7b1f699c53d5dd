// The reconciler with the notifier over the in-memory cluster: a transition and its notification are
// written in one status write, sent in the background, confirmed later; a new leader sends what was
// recorded and not confirmed, and nothing that was.
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { NodeMetadataStatus, PendingNotification } from '../../../src/api/nodemetadata.js';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import type { ControllerConfig } from '../../../src/controller/config/config.js';
import { Notifier } from '../../../src/controller/notifications/notifier.js';
import type { WebhookAnswer, WebhookRequest } from '../../../src/controller/notifications/transport.js';
import { NodeReconciler } from '../../../src/controller/reconcile/reconciler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { FakeCluster, RecordingEvents } from './fake-cluster.js';
import { configOf as config } from '../controller/config-of.js';

const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);
const NODE = 'aks-pool1-12345678-vmss000000';
const VM = 'aks-pool1-12345678-vmss_0';
const flush = () => new Promise((resolve) => setImmediate(resolve));

const SINKS = `notifications:
  clusterName: test
  sinks:
    - {name: all, format: generic, urlFrom: {env: ALL_URL}}
    - {name: ends, format: slack, transitions: [Scheduled, Completed, Cancelled], urlFrom: {env: ENDS_URL}}
`;

function rebootEvent(notBeforeMs = T0 + 15 * 60_000): ScheduledEvent {
  return { id: 'EV-1', type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', notBefore: new Date(notBeforeMs).toISOString(), source: 'Platform', resources: [VM], durationSeconds: -1 };
}

function agentStatus(events: ScheduledEvent[], approvals: NodeMetadataStatus['approvals'] = []): NodeMetadataStatus {
  return { provider: 'azure', observedTime: new Date(T0).toISOString(), instance: { name: VM, region: 'westeurope', zone: 'westeurope-1' }, events, approvals };
}

/** A receiver per sink URL: answers 200 unless holding; records what each sink got. */
class Receivers {
  holding = false;
  readonly got: { sink: string; transition: string; id: string }[] = [];
  private held: (() => void)[] = [];
  readonly send = (request: WebhookRequest): Promise<WebhookAnswer> => {
    const record = () => {
      const body = JSON.parse(request.body) as { transition?: string; id?: string; text?: string };
      const sink = request.url.endsWith('/all') ? 'all' : 'ends';
      // The slack body has no transition field: read it from its context line.
      const transition = body.transition ?? /· (\w+) ·/.exec(JSON.stringify(body))?.[1] ?? '?';
      this.got.push({ sink, transition, id: body.id ?? '' });
      return { kind: 'answered', status: 200 } as const;
    };
    if (!this.holding) return Promise.resolve(record());
    return new Promise((resolve) => this.held.push(() => resolve({ kind: 'timeout' })));
  };
  /** The held requests time out (the receiver never answered). */
  timeOut(): void {
    for (const answer of this.held.splice(0)) answer();
  }
  transitions(sink: string): string[] {
    return this.got.filter((g) => g.sink === sink).map((g) => g.transition);
  }
}

describe('NodeReconciler with notifications', () => {
  let cluster: FakeCluster;
  let clock: FakeClock;
  let current: ControllerConfig;
  let receivers: Receivers;

  function controller(options: { leading?: () => boolean; reports?: boolean } = {}) {
    const events = new RecordingEvents();
    const settled: string[] = [];
    const notifier = new Notifier({
      clock,
      logger: silentLogger(),
      newClient: () => ({ send: receivers.send, route: 'direct', close: async () => undefined }),
      resolveUrl: async (source) => `https://receiver.example/${'env' in source && source.env === 'ALL_URL' ? 'all' : 'ends'}`,
      random: () => 0.5,
      userAgent: 'nodemeta-controller/test',
      isLeading: options.leading ?? (() => true),
      onSettled: (name) => settled.push(name),
    });
    notifier.configure(current.notifications);
    const reconciler = new NodeReconciler({
      cache: cluster,
      writer: cluster,
      events,
      config: () => current,
      clock,
      logger: silentLogger(),
      notifications: notifier,
      ...(options.reports === true ? { statusReportWriters: 2 } : {}),
    });
    return { reconciler, notifier, settled, events };
  }

  async function settle(reconciler: NodeReconciler): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const result = await reconciler.reconcile(NODE);
      if (result.requeueAfter !== 1) return;
    }
    throw new Error('did not settle');
  }

  /** The pending notifications each status write carried, per write. */
  const pendingWritten = () =>
    cluster.writes.filter((w) => w.kind === 'status').map((w) => ((w.body as { notifications?: { pending?: PendingNotification[] } }).notifications?.pending ?? []).map((e) => e.transition));
  const stored = () => (cluster.status(NODE)?.notifications?.pending ?? []).map((e) => e.transition);

  beforeEach(() => {
    cluster = new FakeCluster();
    clock = new FakeClock(T0);
    receivers = new Receivers();
    current = config(SINKS);
    cluster.addNode(NODE);
  });

  it('records each transition in the status write that makes it, sends it in the background, and confirms it in a later write', async () => {
    receivers.holding = true;
    const { reconciler, notifier, settled } = controller();
    cluster.setNodeMetadata(NODE, agentStatus([rebootEvent()]));
    await settle(reconciler);
    // Scheduled → Draining → Drained (no pods) → approval asked: three transitions, each in its own write.
    const writes = cluster.writes.filter((w) => w.kind === 'status').map((w) => w.body as { maintenance?: { phase: string }; notifications?: { pending?: PendingNotification[] } });
    const scheduled = writes.find((w) => w.maintenance?.phase === 'Scheduled')!;
    expect(scheduled.notifications?.pending?.map((e) => e.transition)).toEqual(['Scheduled']);
    expect(stored()).toEqual(['Scheduled', 'DrainStarted', 'Drained']);
    // Nothing delivered yet (the receivers hold every request): nothing confirmed, no reconcile asked.
    expect(settled).toEqual([]);

    receivers.holding = false;
    receivers.timeOut();
    for (let i = 0; i < 4; i++) {
      await flush();
      clock.advance(60_000);
    }
    await notifier.idle();
    expect(receivers.transitions('all')).toEqual(['Scheduled', 'DrainStarted', 'Drained']);
    expect(receivers.transitions('ends')).toEqual(['Scheduled']);
    clock.advance(1_000);
    expect(settled).toContain(NODE);
    cluster.clearWrites();
    await settle(reconciler);
    expect(pendingWritten()).toEqual([[]]);
    expect(cluster.status(NODE)?.notifications).toBeUndefined();
    // Settled: reconciling again writes nothing and sends nothing.
    cluster.clearWrites();
    await settle(reconciler);
    expect(cluster.writes).toEqual([]);
    expect(receivers.got).toHaveLength(4);
    // Memory follows the work: nothing is remembered of a node whose notifications are confirmed.
    expect(notifier.trackedNodes()).toBe(0);
  });

  it('a sink that wants none of the transitions costs nothing: no field, no extra write', async () => {
    current = config('notifications:\n  sinks:\n    - {name: ends, format: slack, transitions: [Completed], urlFrom: {env: ENDS_URL}}\n');
    const { reconciler } = controller();
    cluster.setNodeMetadata(NODE, agentStatus([rebootEvent()]));
    await settle(reconciler);
    expect(pendingWritten().flat()).toEqual([]);

    // The event is over: Completed is recorded, sent, confirmed.
    cluster.setNodeMetadata(NODE, agentStatus([], [{ eventId: 'EV-1', time: new Date(T0).toISOString() }]));
    await settle(reconciler);
    expect(stored()).toEqual(['Completed']);
    await flush();
    expect(receivers.transitions('ends')).toEqual(['Completed']);
  });

  it('a new leader sends what the old one recorded and did not confirm, in order; nothing confirmed is sent again', async () => {
    // Leader A: Scheduled delivered and confirmed; the rest recorded while its receivers hang.
    let aLeads = true;
    const a = controller({ leading: () => aLeads });
    cluster.setNodeMetadata(NODE, agentStatus([rebootEvent()]));
    current = config(`${SINKS}drain: {maxConcurrentDrains: 1}\npolicy: {Reboot: {action: Cordon}}\n`);
    a.notifier.configure(current.notifications);
    await settle(a.reconciler);
    await flush();
    expect(receivers.transitions('all')).toEqual(['Scheduled', 'Cordoned']);
    clock.advance(1_000);
    await settle(a.reconciler);
    expect(stored()).toEqual([]);

    receivers.holding = true;
    current = config(SINKS);
    a.notifier.configure(current.notifications);
    await settle(a.reconciler);
    expect(stored()).toEqual(['DrainStarted', 'Drained']);
    // A loses the Lease: its sinks stop; what they held is not finished.
    aLeads = false;
    a.notifier.stop();
    receivers.timeOut();
    await flush();

    receivers.holding = false;
    const b = controller();
    await settle(b.reconciler);
    await b.notifier.idle();
    expect(receivers.transitions('all')).toEqual(['Scheduled', 'Cordoned', 'DrainStarted', 'Drained']);
    expect(receivers.transitions('ends')).toEqual(['Scheduled']);
    // Each id once: the repeat a leader change may cause did not happen here (A never got a 2xx).
    expect(new Set(receivers.got.map((g) => `${g.sink}/${g.id}`)).size).toBe(receivers.got.length);
    clock.advance(1_000);
    await settle(b.reconciler);
    expect(stored()).toEqual([]);
  });

  it('confirmations go as background reports when the reconciler has report writers, and ride on step writes', async () => {
    const { reconciler, notifier } = controller({ reports: true });
    cluster.setNodeMetadata(NODE, agentStatus([rebootEvent()]));
    await settle(reconciler);
    await notifier.idle();
    clock.advance(1_000);
    await settle(reconciler);
    await flush();
    expect(stored()).toEqual([]);
    expect(receivers.transitions('all')).toEqual(['Scheduled', 'DrainStarted', 'Drained']);
    reconciler.stop();
  });

  it('without sinks, nothing changes: no notifications field is ever written', async () => {
    current = config('');
    const { reconciler } = controller();
    cluster.setNodeMetadata(NODE, agentStatus([rebootEvent()]));
    await settle(reconciler);
    for (const write of cluster.writes.filter((w) => w.kind === 'status')) expect(write.body).not.toHaveProperty('notifications');
  });
});
