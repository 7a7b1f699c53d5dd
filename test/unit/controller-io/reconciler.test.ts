import { beforeEach, describe, expect, it } from '@jest/globals';
import type { NodeMetadataStatus } from '../../../src/api/nodemetadata.js';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import type { ControllerConfig } from '../../../src/controller/config/config.js';
import { NodeReconciler } from '../../../src/controller/reconcile/reconciler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { FakeCluster, RecordingEvents } from './fake-cluster.js';
import { configOf } from '../controller/config-of.js';

const NODE = 'aks-pool-000001';
const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);

const config = (yaml = 'labels:\n  allowedTags: [team, "cost*"]\n') => configOf(yaml);

function agentStatus(overrides: Partial<NodeMetadataStatus> = {}): NodeMetadataStatus {
  return {
    provider: 'azure',
    observedTime: new Date(T0).toISOString(),
    instance: { region: 'westeurope', zone: 'westeurope-1', faultDomain: '0', updateDomain: '3', instanceType: 'Standard_D4s_v5', priority: 'regular' },
    tags: [{ name: 'team', value: 'payments' }],
    events: [],
    conditions: [{ type: 'MetadataAvailable', status: 'True', reason: 'Observed', message: 'ok', lastTransitionTime: new Date(T0).toISOString() }],
    ...overrides,
  };
}

function rebootEvent(notBeforeMs: number, id = 'EV-1'): ScheduledEvent {
  return { id, type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', notBefore: new Date(notBeforeMs).toISOString(), source: 'Platform', resources: [NODE], durationSeconds: -1 };
}

describe('NodeReconciler', () => {
  let cluster: FakeCluster;
  let events: RecordingEvents;
  let clock: FakeClock;
  let current: ControllerConfig;
  let reconciler: NodeReconciler;

  beforeEach(() => {
    cluster = new FakeCluster();
    events = new RecordingEvents();
    clock = new FakeClock(T0);
    current = config();
    reconciler = new NodeReconciler({ cache: cluster, writer: cluster, events, config: () => current, clock, logger: silentLogger() });
    cluster.addNode(NODE, { labels: { 'kubernetes.io/hostname': NODE, 'node.kubernetes.io/instance-type': 'Standard_D4s_v5' } });
  });

  it('applies the labels from the observation, then writes nothing when nothing changed', async () => {
    cluster.setNodeMetadata(NODE, agentStatus());
    await reconciler.reconcile(NODE);
    expect(cluster.labels(NODE)).toEqual({
      'kubernetes.io/hostname': NODE,
      'node.kubernetes.io/instance-type': 'Standard_D4s_v5',
      'nodemeta.io/provider': 'azure',
      'nodemeta.io/region': 'westeurope',
      'nodemeta.io/zone': 'westeurope-1',
      'nodemeta.io/fault-domain': '0',
      'nodemeta.io/update-domain': '3',
      'nodemeta.io/instance-type': 'Standard_D4s_v5',
      'nodemeta.io/priority': 'regular',
      'tag.nodemeta.io/team': 'payments',
    });
    expect(cluster.writes.map((w) => w.kind)).toEqual(['labels', 'status']);
    const labeled = cluster.status(NODE)?.conditions?.find((c) => c.type === 'Labeled');
    expect(labeled).toMatchObject({ status: 'True', reason: 'LabelsApplied', message: '8 labels applied', observedGeneration: 1 });
    expect(cluster.status(NODE)?.maintenance).toEqual({ phase: 'None' });
    expect(events.reasons()).toEqual(['LabelsApplied']);
    // The agent's condition is untouched.
    expect(cluster.status(NODE)?.conditions?.find((c) => c.type === 'MetadataAvailable')?.status).toBe('True');

    cluster.clearWrites();
    clock.advance(60_000);
    const again = await reconciler.reconcile(NODE);
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(cluster.reads).toEqual([]);
    expect(again).toEqual({});
    expect(events.reasons()).toEqual(['LabelsApplied']);
  });

  it('does not repeat its writes when the cache has not caught up with them yet (read-your-writes)', async () => {
    // Taint only: the maintenance step is settled after one reconcile, so any write after it is a repeat.
    current = config('policy:\n  Reboot:\n    action: Taint\n');
    cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 600_000)] }));
    cluster.freezeCache();
    await reconciler.reconcile(NODE);
    expect(cluster.writes.map((w) => w.kind)).toEqual(['labels', 'taints', 'status']);
    cluster.clearWrites();
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(events.reasons()).toEqual(['LabelsApplied', 'TaintsUpdated', 'MaintenanceScheduled']);

    // Once the cache catches up, it is the truth again; and so is a later change by someone else.
    cluster.thawCache();
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    cluster.setNodeMetadata(NODE, agentStatus({ events: [] }));
    await reconciler.reconcile(NODE);
    expect(cluster.taints(NODE)).toBeUndefined();
  });

  it('writes nothing at all for a node without NodeMetadata and without nodemeta labels or taints', async () => {
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(events.events).toEqual([]);
  });

  it('does nothing for a node that is not in the cache', async () => {
    cluster.setNodeMetadata('gone', agentStatus());
    expect(await reconciler.reconcile('gone')).toEqual({});
    expect(cluster.writes).toEqual([]);
  });

  it('removes an owned label when its tag goes away, but not while the caches are cold', async () => {
    cluster.setNodeMetadata(NODE, agentStatus());
    await reconciler.reconcile(NODE);
    cluster.setNodeMetadata(NODE, agentStatus({ tags: [] }));
    cluster.clearWrites();

    cluster.isWarm = false;
    await reconciler.reconcile(NODE);
    expect(cluster.labels(NODE)['tag.nodemeta.io/team']).toBe('payments');
    expect(cluster.writes.filter((w) => w.kind === 'labels')).toEqual([]);

    cluster.isWarm = true;
    await reconciler.reconcile(NODE);
    expect(cluster.labels(NODE)).not.toHaveProperty(['tag.nodemeta.io/team']);
    expect(cluster.labels(NODE)['nodemeta.io/zone']).toBe('westeurope-1');
    expect(events.events.at(-1)).toMatchObject({ reason: 'LabelsApplied', message: 'removed tag.nodemeta.io/team' });
  });

  it('never touches a label another writer set, even under nodemeta.io/', async () => {
    cluster.setForeignLabel(NODE, 'nodemeta.io/zone', 'set-by-hand');
    cluster.setForeignLabel(NODE, 'nodemeta.io/custom', 'mine');
    cluster.setNodeMetadata(NODE, agentStatus());
    await reconciler.reconcile(NODE);
    expect(cluster.labels(NODE)['nodemeta.io/zone']).toBe('set-by-hand');
    expect(cluster.labels(NODE)['nodemeta.io/custom']).toBe('mine');
    expect(cluster.labels(NODE)['nodemeta.io/region']).toBe('westeurope');
    const labeled = cluster.status(NODE)?.conditions?.find((c) => c.type === 'Labeled');
    expect(labeled).toMatchObject({ status: 'False', reason: 'LabelsOwnedElsewhere' });
    expect(labeled?.message).toContain('nodemeta.io/zone');
    // And removing everything we own still leaves them alone.
    cluster.setNodeMetadata(NODE, agentStatus({ instance: {}, tags: [] }));
    await reconciler.reconcile(NODE);
    expect(cluster.labels(NODE)).toMatchObject({ 'nodemeta.io/zone': 'set-by-hand', 'nodemeta.io/custom': 'mine', 'nodemeta.io/provider': 'azure' });
    expect(cluster.labels(NODE)).not.toHaveProperty(['nodemeta.io/region']);
  });

  it('skips an invalid tag, applies the rest, and reports it in the condition, an Event and the metric', async () => {
    let invalid = 0;
    const counters = { labelsApplied: { inc: () => undefined }, labelsRemoved: { inc: () => undefined }, invalidLabels: { inc: (n = 1) => void (invalid += n) } };
    reconciler = new NodeReconciler({ cache: cluster, writer: cluster, events, config: () => current, clock, logger: silentLogger(), counters });
    cluster.setNodeMetadata(NODE, agentStatus({ tags: [{ name: 'team', value: 'payments' }, { name: 'costcenter', value: 'not valid!' }] }));
    await reconciler.reconcile(NODE);
    expect(cluster.labels(NODE)['tag.nodemeta.io/team']).toBe('payments');
    expect(cluster.labels(NODE)).not.toHaveProperty(['tag.nodemeta.io/costcenter']);
    const labeled = cluster.status(NODE)?.conditions?.find((c) => c.type === 'Labeled');
    expect(labeled).toMatchObject({ status: 'False', reason: 'InvalidLabels' });
    expect(labeled?.message).toContain('tag.nodemeta.io/costcenter="not valid!"');
    const warning = events.events.find((e) => e.reason === 'InvalidLabelSkipped');
    expect(warning).toMatchObject({ type: 'Warning', object: { kind: 'Node', name: NODE, uid: `uid-${NODE}` } });
    expect(warning?.message).toBe(labeled?.message);
    expect(invalid).toBe(1);

    // Reported once: the same problem on the next reconcile is neither a write nor a new report.
    cluster.clearWrites();
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(events.events.filter((e) => e.reason === 'InvalidLabelSkipped')).toHaveLength(1);
    expect(invalid).toBe(1);
  });

  it('re-plans from a fresh read when another writer takes a label in the meantime (409), never forcing', async () => {
    cluster.setNodeMetadata(NODE, agentStatus());
    cluster.onNextWrite('labels', () => cluster.setForeignLabel(NODE, 'nodemeta.io/zone', 'raced'));
    await reconciler.reconcile(NODE);
    expect(cluster.reads).toEqual([NODE]);
    expect(cluster.labels(NODE)['nodemeta.io/zone']).toBe('raced');
    expect(cluster.labels(NODE)['nodemeta.io/region']).toBe('westeurope');
    expect(cluster.writes.filter((w) => w.kind === 'labels')).toHaveLength(2);
    expect(cluster.writes[1]!.body).not.toHaveProperty(['nodemeta.io/zone']);
  });

  it('gives up with an error after repeated conflicts, so the queue backs off', async () => {
    cluster.setNodeMetadata(NODE, agentStatus());
    const failing = Object.create(cluster) as FakeCluster;
    failing.applyLabels = async () => {
      throw new (await import('../../../src/controller/cache/cluster-state.js')).WriteConflictError('conflict');
    };
    reconciler = new NodeReconciler({ cache: cluster, writer: failing, events, config: () => current, clock, logger: silentLogger(), conflictRetries: 2 });
    await expect(reconciler.reconcile(NODE)).rejects.toThrow('conflict');
    expect(cluster.reads).toHaveLength(2);
  });

  describe('maintenance events', () => {
    it('adds the notice taint and phase Scheduled at once, switches it to NoSchedule when the action starts, and requeues for that moment', async () => {
      const notBefore = T0 + 2 * 3_600_000;
      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(notBefore)] }));
      // A transition asks for another look at once (1 ms); that look writes nothing and waits for the start.
      expect(await reconciler.reconcile(NODE)).toEqual({ requeueAfter: 1 });
      const writes = cluster.writes.length;
      // Reboot → Drain with the default 1 h lead time: starts at NotBefore - 1 h.
      expect(await reconciler.reconcile(NODE)).toEqual({ requeueAfter: 3_600_000 });
      expect(cluster.writes).toHaveLength(writes);
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'PreferNoSchedule' }]);
      expect(cluster.status(NODE)?.maintenance).toEqual({ phase: 'Scheduled', eventId: 'EV-1', eventType: 'Reboot', notBefore: '2026-11-22T06:00:00Z' });
      expect(events.reasons()).toEqual(['LabelsApplied', 'TaintsUpdated', 'MaintenanceScheduled']);
      expect(events.events.at(-1)?.message).toContain('action Drain at 2026-11-22T05:00:00Z');

      cluster.clearWrites();
      clock.advance(3_600_000 - 1);
      expect(await reconciler.reconcile(NODE)).toEqual({ requeueAfter: 1 });
      expect(cluster.writes).toEqual([]);

      // The drain starts: NoSchedule taint, cordon, then the status that says Draining (no pods to evict).
      clock.advance(1);
      expect(await reconciler.reconcile(NODE)).toEqual({ requeueAfter: 1 });
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
      expect(cluster.writes.map((w) => w.kind)).toEqual(['taints', 'cordon', 'status']);
      expect(cluster.status(NODE)?.maintenance?.phase).toBe('Draining');
    });

    it('removes the taint and completes the maintenance as cancelled when the event goes away before NotBefore', async () => {
      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 600_000)] }));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toHaveLength(1);

      cluster.setNodeMetadata(NODE, agentStatus({ events: [] }));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toBeUndefined();
      expect(cluster.status(NODE)?.maintenance).toEqual({ phase: 'Completed', eventId: 'EV-1', eventType: 'Reboot', notBefore: '2026-11-22T04:10:00Z', completedTime: '2026-11-22T04:00:00Z' });
      expect(events.reasons().slice(-2)).toEqual(['TaintsUpdated', 'MaintenanceCancelled']);
    });

    it('keeps its labels, taint and cordon while a deleted NodeMetadata is away, and picks the drain up again once the agent publishes', async () => {
      const during = agentStatus({ events: [rebootEvent(T0 + 600_000)] });
      cluster.setNodeMetadata(NODE, during);
      for (let i = 0; i < 5; i++) await reconciler.reconcile(NODE);
      const labels = cluster.labels(NODE);
      expect(labels['nodemeta.io/zone']).toBe('westeurope-1');
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
      expect(cluster.node(NODE)?.spec?.unschedulable).toBe(true);
      cluster.clearWrites();

      // `kubectl delete nmd`: no observation is not news that the VM lost its zone or its event.
      cluster.deleteNodeMetadata(NODE);
      await reconciler.reconcile(NODE);
      // The agent creates it again, empty at first, then publishes into it.
      cluster.setNodeMetadata(NODE, undefined);
      await reconciler.reconcile(NODE);
      expect(cluster.writes.filter((w) => w.kind !== 'status')).toEqual([]);
      expect(cluster.labels(NODE)).toEqual(labels);
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);

      cluster.setNodeMetadata(NODE, during);
      for (let i = 0; i < 5; i++) await reconciler.reconcile(NODE);
      expect(cluster.status(NODE)?.maintenance).toMatchObject({ eventId: 'EV-1', phase: expect.stringMatching(/^(Draining|Drained)$/) });
      expect(cluster.writes.filter((w) => w.kind === 'labels' || w.kind === 'taints' || w.kind === 'uncordon')).toEqual([]);
      expect(cluster.node(NODE)?.spec?.unschedulable).toBe(true);
    });

    it('keeps its taint and phase while the caches are cold', async () => {
      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 600_000)] }));
      await reconciler.reconcile(NODE);
      cluster.setNodeMetadata(NODE, agentStatus({ events: [] }));
      cluster.isWarm = false;
      cluster.clearWrites();
      await reconciler.reconcile(NODE);
      expect(cluster.writes).toEqual([]);
      expect(cluster.taints(NODE)).toHaveLength(1);
    });

    it('leaves foreign taints alone and retries from a fresh read when the taint list changed meanwhile', async () => {
      const foreign = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' as const };
      const other = { key: 'example.com/gpu', value: 'true', effect: 'NoSchedule' as const };
      cluster.setTaints(NODE, [foreign]);
      cluster.setNodeMetadata(NODE, agentStatus({ spot: { terminationTime: new Date(T0 + 300_000).toISOString() }, instance: { priority: 'spot' } }));
      cluster.onNextWrite('taints', () => cluster.setTaints(NODE, [foreign, other]));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toEqual([foreign, other, { key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }]);
      expect(cluster.reads).toEqual([NODE]);
      expect(cluster.status(NODE)?.maintenance).toMatchObject({ phase: 'Scheduled', eventId: 'spot-termination', eventType: 'SpotTermination' });

      cluster.setNodeMetadata(NODE, agentStatus({ instance: { priority: 'spot' } }));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toEqual([foreign, other]);
    });

    it('taints for the one active event: a spot reclaim outranks the notice of a later event, which returns once the reclaim is gone', async () => {
      const spot = { terminationTime: new Date(T0 + 300_000).toISOString() };
      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 36 * 3_600_000)], spot, instance: { priority: 'spot' } }));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }]);
      expect(cluster.status(NODE)?.maintenance).toMatchObject({ eventId: 'spot-termination', eventType: 'SpotTermination' });

      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 36 * 3_600_000)], instance: { priority: 'spot' } }));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'PreferNoSchedule' }]);
    });

    it('ignores an event whose action is None', async () => {
      current = config('policy:\n  Reboot:\n    action: None\n');
      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 600_000)] }));
      expect(await reconciler.reconcile(NODE)).toEqual({});
      expect(cluster.taints(NODE)).toBeUndefined();
      expect(cluster.status(NODE)?.maintenance).toEqual({ phase: 'None' });
    });

    it('follows a configuration change on the next reconcile', async () => {
      cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 600_000)] }));
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)?.[0]?.effect).toBe('NoSchedule');
      current = config('policy:\n  Reboot:\n    action: Taint\n');
      await reconciler.reconcile(NODE);
      expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'PreferNoSchedule' }]);
    });
  });

  describe('outOfServiceTaint', () => {
    const preempt = (notBeforeMs: number): ScheduledEvent => ({ id: 'EV-P', type: 'Preempt', rawType: 'Preempt', status: 'Scheduled', notBefore: new Date(notBeforeMs).toISOString(), source: 'Platform', resources: [NODE] });
    const outOfService = () => (cluster.taints(NODE) ?? []).filter((taint) => taint.key === 'node.kubernetes.io/out-of-service');

    it('taints a NotReady node whose Preempt has started, once; removes the taint when the node is Ready again', async () => {
      current = config('outOfServiceTaint: true\n');
      cluster.setNodeMetadata(NODE, agentStatus({ events: [preempt(T0 - 1_000)] }));
      cluster.setReady(NODE, false);
      await reconciler.reconcile(NODE);
      expect(outOfService()).toEqual([{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }]);
      expect(events.reasons()).toContain('OutOfService');
      cluster.clearWrites();
      await reconciler.reconcile(NODE);
      expect(cluster.writes.filter((w) => w.kind === 'outOfService')).toEqual([]);

      cluster.setReady(NODE, true);
      await reconciler.reconcile(NODE);
      expect(outOfService()).toEqual([]);
      expect(events.reasons()).toContain('BackInService');
      reconciler.stop();
    });

    it('does nothing when off (the default), or before the event starts', async () => {
      cluster.setNodeMetadata(NODE, agentStatus({ events: [preempt(T0 - 1_000)] }));
      cluster.setReady(NODE, false);
      await reconciler.reconcile(NODE);
      expect(outOfService()).toEqual([]);
      current = config('outOfServiceTaint: true\n');
      cluster.setNodeMetadata(NODE, agentStatus({ events: [preempt(T0 + 30_000)] }));
      await reconciler.reconcile(NODE);
      expect(outOfService()).toEqual([]);
      expect(cluster.writes.filter((w) => w.kind === 'outOfService')).toEqual([]);
      reconciler.stop();
    });
  });

});

describe('NodeReconciler with status reports off the reconcile path (statusReportWriters)', () => {
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('labels without waiting for the status report, hands each report over once, and then writes nothing', async () => {
    const cluster = new FakeCluster();
    const events = new RecordingEvents();
    const clock = new FakeClock(T0);
    // The status writes hang until the test lets them through.
    const held: (() => void)[] = [];
    const writer = Object.create(cluster) as FakeCluster;
    writer.applyControllerStatus = (name, status) => new Promise((resolve) => held.push(() => resolve(cluster.applyControllerStatus(name, status))));
    const reconciler = new NodeReconciler({ cache: cluster, writer, events, config: () => config(), clock, logger: silentLogger(), statusReportWriters: 2 });
    cluster.addNode(NODE, { labels: { 'kubernetes.io/hostname': NODE } });
    cluster.setNodeMetadata(NODE, agentStatus());

    await reconciler.reconcile(NODE); // returns with its status write still in flight
    expect(cluster.labels(NODE)['nodemeta.io/zone']).toBe('westeurope-1');
    expect(held).toHaveLength(1);
    expect(events.reasons()).toEqual(['LabelsApplied']);

    clock.advance(5_000);
    await reconciler.reconcile(NODE); // the cache still shows no condition: the report counts as written
    expect(held).toHaveLength(1);
    expect(events.reasons()).toEqual(['LabelsApplied']);

    held.shift()!();
    await flush();
    expect(cluster.status(NODE)?.conditions?.find((c) => c.type === 'Labeled')).toMatchObject({ status: 'True', reason: 'LabelsApplied' });
    expect(cluster.status(NODE)?.maintenance).toEqual({ phase: 'None' });
    cluster.clearWrites();
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(held).toHaveLength(0);
    reconciler.stop();
  });

  it('a maintenance step is written in the reconcile, after the report in flight, never overtaken by it', async () => {
    const cluster = new FakeCluster();
    const clock = new FakeClock(T0);
    const held: (() => void)[] = [];
    const order: string[] = [];
    const writer = Object.create(cluster) as FakeCluster;
    writer.applyControllerStatus = (name, status) =>
      new Promise((resolve) =>
        held.push(() => {
          order.push(status.maintenance?.phase ?? '-');
          resolve(cluster.applyControllerStatus(name, status));
        }),
      );
    const reconciler = new NodeReconciler({ cache: cluster, writer, events: new RecordingEvents(), config: () => config(), clock, logger: silentLogger(), statusReportWriters: 2 });
    cluster.addNode(NODE, { labels: { 'kubernetes.io/hostname': NODE } });
    cluster.setNodeMetadata(NODE, agentStatus());
    await reconciler.reconcile(NODE);
    expect(held).toHaveLength(1); // the report (phase None)
    cluster.setNodeMetadata(NODE, agentStatus({ events: [rebootEvent(T0 + 2 * 3_600_000)] }));
    const stepping = reconciler.reconcile(NODE);
    await flush();
    expect(held).toHaveLength(1); // the step waits for the report in flight
    held.shift()!();
    await flush();
    expect(held).toHaveLength(1);
    held.shift()!();
    await stepping;
    expect(order).toEqual(['None', 'Scheduled']);
    expect(cluster.status(NODE)?.maintenance?.phase).toBe('Scheduled');
    reconciler.stop();
  });

});
