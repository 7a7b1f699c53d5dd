// The reconciler's maintenance wiring over the in-memory cluster: the state machine's actions carried
// out (cordon, evictions, approval request, uncordon), in the right order, resumable, within budget.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { NodeMetadataStatus } from '../../../src/api/nodemetadata.js';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import type { ControllerConfig } from '../../../src/controller/config/config.js';
import { NodeReconciler, type ReconcileCounters } from '../../../src/controller/reconcile/reconciler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { FakeCluster, RecordingEvents } from './fake-cluster.js';
import { configOf as config } from '../controller/config-of.js';

const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);
const NODE = 'aks-pool1-12345678-vmss000000';
const VM = 'aks-pool1-12345678-vmss_0';

function event(type: ScheduledEvent['type'], notBeforeMs: number, resources: string[], id = 'EV-1'): ScheduledEvent {
  return { id, type, rawType: type, status: 'Scheduled', notBefore: new Date(notBeforeMs).toISOString(), source: 'Platform', resources, durationSeconds: -1 };
}

function agentStatus(vmName: string, events: ScheduledEvent[], approvals: NodeMetadataStatus['approvals'] = []): NodeMetadataStatus {
  return {
    provider: 'azure',
    observedTime: new Date(T0).toISOString(),
    instance: { name: vmName, region: 'westeurope', zone: 'westeurope-1', faultDomain: '0', updateDomain: '0', instanceType: 'Standard_D4s_v5', priority: 'regular' },
    events,
    approvals,
  };
}

function recordingCounters() {
  const evictions = new Map<string, number>();
  const cordonSeconds: number[] = [];
  const drainSeconds: number[] = [];
  const counters: ReconcileCounters = {
    labelsApplied: { inc: () => undefined },
    labelsRemoved: { inc: () => undefined },
    invalidLabels: { inc: () => undefined },
    evictions: { inc: ({ result }, value = 1) => void evictions.set(result, (evictions.get(result) ?? 0) + value) },
    eventToCordon: { observe: (seconds) => void cordonSeconds.push(seconds) },
    drainDuration: { observe: (seconds) => void drainSeconds.push(seconds) },
  };
  return { counters, evictions, cordonSeconds, drainSeconds };
}

describe('NodeReconciler maintenance', () => {
  let cluster: FakeCluster;
  let events: RecordingEvents;
  let clock: FakeClock;
  let current: ControllerConfig;
  let metrics: ReturnType<typeof recordingCounters>;
  let reconciler: NodeReconciler;

  const newReconciler = () => new NodeReconciler({ cache: cluster, writer: cluster, events, config: () => current, clock, logger: silentLogger(), counters: metrics.counters });

  /** Reconciles until the step asks for no immediate look (a transition asks for 1 ms), as the work queue would. */
  async function settle(name = NODE, using = reconciler): Promise<number | undefined> {
    for (let i = 0; i < 20; i++) {
      const result = await using.reconcile(name);
      if (result.requeueAfter !== 1) return result.requeueAfter;
    }
    throw new Error(`${name} did not settle in 20 reconciles`);
  }

  const phase = (name = NODE) => cluster.status(name)?.maintenance?.phase;

  beforeEach(() => {
    cluster = new FakeCluster();
    events = new RecordingEvents();
    clock = new FakeClock(T0);
    current = config();
    metrics = recordingCounters();
    reconciler = newReconciler();
    cluster.addNode(NODE);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('drains a Reboot at once: cordon with the annotation, evictions with the capped grace period, Drained, approval asked, Approved, then uncordon on completion', async () => {
    cluster.addPods(NODE, ['web-1', 'web-2'], { terminationGracePeriodSeconds: 900 });
    cluster.addPods(NODE, ['agent-x'], { ownerKinds: ['DaemonSet'] });
    const reboot = event('Reboot', T0 + 15 * 60_000, [VM]);
    cluster.setNodeMetadata(NODE, agentStatus(VM, [reboot]));

    const wait = await settle();
    expect(phase()).toBe('Draining');
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: 'EV-1' });
    // The cordon comes before the status that says Draining, the evictions after it.
    const kinds = cluster.writes.map((write) => write.kind);
    expect(kinds.indexOf('cordon')).toBeLessThan(kinds.lastIndexOf('status'));
    expect(kinds.lastIndexOf('status')).toBeLessThan(kinds.indexOf('eviction'));
    // DaemonSet pods stay; the grace period is capped by maxGracePeriod (default 5 min).
    expect(cluster.evicted).toEqual(['default/web-1', 'default/web-2']);
    expect(cluster.writes.filter((write) => write.kind === 'eviction').map((write) => write.body)).toEqual([{ gracePeriodSeconds: 300 }, { gracePeriodSeconds: 300 }]);
    expect(cluster.status(NODE)?.maintenance).toMatchObject({ totalPods: 2, pendingPods: 2, evictedPods: 0 });
    expect(cluster.status(NODE)?.conditions?.find((condition) => condition.type === 'Drained')).toMatchObject({ status: 'False', reason: 'Draining' });
    expect(wait).toBeLessThanOrEqual(10_000);
    expect(metrics.cordonSeconds).toEqual([0]);

    // The pods terminate; the pods cache shows them gone.
    clock.advance(20_000);
    cluster.finishTerminating(NODE);
    await settle();
    expect(phase()).toBe('Drained');
    expect(cluster.status(NODE)?.maintenance).toMatchObject({ pendingPods: 0, evictedPods: 2, approve: 'EV-1', drainedTime: '2026-11-22T04:00:20Z' });
    expect(cluster.status(NODE)?.conditions?.find((condition) => condition.type === 'Drained')).toMatchObject({ status: 'True', reason: 'Drained' });
    expect(metrics.drainSeconds).toEqual([20]);
    expect(events.reasons()).toEqual(expect.arrayContaining(['MaintenanceScheduled', 'DrainStarted', 'Drained', 'ApprovalRequested']));

    // The agent approved (StartRequests) and recorded it.
    cluster.setNodeMetadata(NODE, agentStatus(VM, [reboot], [{ eventId: 'EV-1', time: new Date(clock.now()).toISOString() }]));
    await settle();
    expect(phase()).toBe('Approved');
    expect(cluster.status(NODE)?.maintenance?.approve).toBeUndefined();

    // The reboot ran and the event is gone: undo everything.
    clock.advance(5 * 60_000);
    cluster.setNodeMetadata(NODE, agentStatus(VM, [], [{ eventId: 'EV-1', time: new Date(T0).toISOString() }]));
    await settle();
    expect(phase()).toBe('Completed');
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: false, cordonedFor: undefined });
    expect(cluster.taints(NODE)).toBeUndefined();
    expect(cluster.status(NODE)?.conditions?.find((condition) => condition.type === 'Drained')).toBeUndefined();
    expect(events.reasons().at(-1)).toBe('MaintenanceCompleted');

    // Settled: nothing more to write.
    cluster.clearWrites();
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
  });

  it('retries a pod a PodDisruptionBudget refuses only after its backoff, reports what blocks, and fails the drain at the eviction timeout', async () => {
    // The eviction ledger draws its backoff's jitter from Math.random here (the reconciler passes no
    // random source): pinned just below 1, the first retry is due at the top of its [0, 5 s) window.
    jest.spyOn(Math, 'random').mockReturnValue(0.999999);
    reconciler = newReconciler();
    current = config('drain:\n  evictionTimeout: 2m\n');
    cluster.addPods(NODE, ['db-0']);
    cluster.evictionAnswer = () => ({ kind: 'blocked', reason: 'Cannot evict pod as it would violate the pod\'s disruption budget.: The disruption budget db needs 1 healthy pods and has 1 currently' });
    cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM])]));

    await settle();
    const attempts = () => cluster.writes.filter((write) => write.kind === 'eviction').length;
    expect(attempts()).toBe(1);
    expect(events.events.filter((e) => e.reason === 'EvictionBlocked')).toEqual([expect.objectContaining({ type: 'Warning', message: expect.stringContaining('disruption budget db') })]);
    await settle();
    expect(cluster.status(NODE)?.maintenance?.blockedPods).toEqual([{ namespace: 'default', name: 'db-0', reason: expect.stringContaining('disruption budget db') }]);

    clock.advance(4_990);
    await settle();
    expect(attempts()).toBe(1);
    clock.advance(10);
    await settle();
    expect(attempts()).toBe(2);
    // The same refusal again: no second Event.
    expect(events.reasons().filter((reason) => reason === 'EvictionBlocked')).toHaveLength(1);

    clock.advance(2 * 60_000);
    await settle();
    expect(phase()).toBe('Failed');
    expect(cluster.status(NODE)?.maintenance?.lastError).toContain('disruption budget db');
    expect(cluster.cordonOf(NODE).unschedulable).toBe(true);
    expect(cluster.podsOn(NODE)?.map((pod) => pod.name)).toEqual(['db-0']);
    expect(metrics.evictions.get('blocked')).toBeGreaterThanOrEqual(2);
  });

  describe('atDeadline: Delete', () => {
    const REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget.: The disruption budget db needs 1 healthy pods and has 1 currently";
    const deletions = () => cluster.writes.filter((write) => write.kind === 'deletion');

    beforeEach(() => {
      current = config('policy:\n  Reboot: {atDeadline: Delete}\n');
      cluster.addPods(NODE, ['db-0'], { terminationGracePeriodSeconds: 30 });
      cluster.evictionAnswer = () => ({ kind: 'blocked', reason: REFUSAL });
      // NotBefore 2 min away: db-0 is deleted 30 s + the 10 s margin before it.
      cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 2 * 60_000, [VM])]));
    });

    it('deletes the refused pod once, at its grace period plus the margin before NotBefore, with a Warning Event naming the budget, and counts it', async () => {
      const deleted = new Map<string, number>();
      metrics.counters.podsDeletedAtDeadline = { inc: ({ event_type }) => void deleted.set(event_type, (deleted.get(event_type) ?? 0) + 1) };
      await settle();
      expect(phase()).toBe('Draining');
      clock.advance(79_000);
      await settle();
      expect(deletions()).toEqual([]);
      clock.advance(1_000);
      await settle();
      expect(deletions()).toEqual([{ kind: 'deletion', name: 'default/db-0', body: { gracePeriodSeconds: 30 } }]);
      expect(events.events.filter((e) => e.reason === 'PodDeletedAtDeadline')).toEqual([
        expect.objectContaining({ type: 'Warning', message: expect.stringMatching(/^Reboot: pod default\/db-0 deleted with a 30s grace period, 40s before NotBefore .*overrides PodDisruptionBudget default\/db /) }),
      ]);
      expect(deleted).toEqual(new Map([['Reboot', 1]]));
      // The cache still shows the pod running (the fake does not mark it): no second delete.
      clock.advance(5_000);
      await settle();
      clock.advance(20_000);
      await settle();
      expect(deletions()).toHaveLength(1);
      expect(events.reasons().filter((reason) => reason === 'PodDeletedAtDeadline')).toHaveLength(1);
    });

    it('403 (no delete on pods): says so, falls back to waiting, never tries again', async () => {
      cluster.deletionAnswer = () => ({ kind: 'forbidden', reason: 'pods "db-0" is forbidden: User "system:serviceaccount:nodemeta:nodemeta-controller" cannot delete resource "pods"' });
      await settle();
      clock.advance(80_000);
      await settle();
      expect(deletions()).toHaveLength(1);
      expect(events.reasons()).not.toContain('PodDeletedAtDeadline');
      expect(events.events.filter((e) => e.reason === 'DeleteAtDeadlineFailed')).toEqual([
        expect.objectContaining({ type: 'Warning', message: expect.stringContaining('cannot delete pod default/db-0 at the deadline: the controller may not delete pods') }),
      ]);
      clock.advance(30_000);
      await settle();
      expect(deletions()).toHaveLength(1);
      expect(phase()).toBe('Draining');
    });

    it('Wait: nothing is deleted, even past NotBefore', async () => {
      current = config();
      await settle();
      clock.advance(3 * 60_000);
      await settle();
      expect(deletions()).toEqual([]);
    });
  });

  it('leaves an admin\'s cordon alone: no annotation added, still cordoned after completion', async () => {
    cluster.setUnschedulable(NODE, true);
    cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM])]));
    await settle();
    expect(phase()).toBe('Drained');
    expect(cluster.writes.filter((write) => write.kind === 'cordon')).toEqual([]);
    cluster.setNodeMetadata(NODE, agentStatus(VM, []));
    await settle();
    expect(phase()).toBe('Completed');
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: undefined });
    expect(cluster.writes.filter((write) => write.kind === 'uncordon')).toEqual([]);
  });

  it('re-plans when an admin cordons the node between its read and the cordon write, and then keeps that cordon', async () => {
    cluster.onNextWrite('cordon', () => cluster.setUnschedulable(NODE, true));
    cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM])]));
    await settle();
    expect(cluster.reads).toContain(NODE);
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: undefined });
  });

  it('does not move a drain while the caches are cold (an empty pod cache is not an empty node)', async () => {
    cluster.addPods(NODE, ['web-1']);
    cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM])]));
    await settle();
    expect(phase()).toBe('Draining');
    cluster.isWarm = false;
    cluster.deletePods(NODE);
    cluster.clearWrites();
    expect(await reconciler.reconcile(NODE)).toEqual({ requeueAfter: 1_000 });
    expect(cluster.writes).toEqual([]);
    expect(phase()).toBe('Draining');
  });

  it('resumes a drain after a restart (empty eviction memory) without evicting a terminating pod again', async () => {
    cluster.addPods(NODE, ['web-1', 'web-2', 'web-3']);
    let calls = 0;
    cluster.evictionAnswer = () => (++calls === 3 ? new Error('connection reset') : { kind: 'evicted' });
    cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM])]));
    await settle();
    expect(cluster.evicted).toEqual(['default/web-1', 'default/web-2']);

    // A new leader: a fresh reconciler with no memory of the evictions.
    cluster.evictionAnswer = () => ({ kind: 'evicted' });
    const successor = newReconciler();
    await settle(NODE, successor);
    expect(cluster.evicted).toEqual(['default/web-1', 'default/web-2', 'default/web-3']);
    cluster.finishTerminating(NODE);
    await settle(NODE, successor);
    expect(phase()).toBe('Drained');
  });

  describe('across nodes', () => {
    const OTHER = 'aks-pool1-12345678-vmss000001';
    const OTHER_VM = 'aks-pool1-12345678-vmss_1';

    beforeEach(() => cluster.addNode(OTHER));

    /** Budget of one drain; NODE drains a Reboot with 15 min notice; OTHER's own Reboot comes next. */
    const notBefore = T0 + 15 * 60_000;
    const otherReboot = () => cluster.setNodeMetadata(OTHER, agentStatus(OTHER_VM, [event('Reboot', notBefore, [OTHER_VM], 'EV-B')]));
    async function firstOfTwoDrains(): Promise<void> {
      current = config('drain:\n  maxConcurrentDrains: 1\n  maxGracePeriod: 1m\n');
      cluster.addPods(NODE, ['a-1']);
      cluster.addPods(OTHER, ['b-1']);
      cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', notBefore, [VM], 'EV-A')]));
      await settle(NODE);
    }

    it('asks for approval of an event naming two nodes only once both are drained', async () => {
      const shared = event('Reboot', T0 + 15 * 60_000, [VM, OTHER_VM]);
      cluster.addPods(OTHER, ['web-9']);
      cluster.setNodeMetadata(NODE, agentStatus(VM, [shared]));
      cluster.setNodeMetadata(OTHER, agentStatus(OTHER_VM, [shared]));
      await settle(NODE);
      await settle(OTHER);
      expect(phase(NODE)).toBe('Drained');
      expect(phase(OTHER)).toBe('Draining');
      expect(cluster.status(NODE)?.maintenance?.approve).toBeUndefined();

      cluster.finishTerminating(OTHER);
      await settle(OTHER);
      expect(phase(OTHER)).toBe('Drained');
      expect(cluster.status(OTHER)?.maintenance?.approve).toBe('EV-1');
      // The first node, looked at again (its peer's phase change enqueues it), asks too.
      await settle(NODE);
      expect(cluster.status(NODE)?.maintenance?.approve).toBe('EV-1');
    });

    it('maps a node without an agent through its providerID: one the event does not name does not hold the approval up, one it names does', async () => {
      const WINDOWS = 'akswin000002';
      const vmss = 'azure:///subscriptions/0000/resourceGroups/mc/providers/Microsoft.Compute/virtualMachineScaleSets';
      cluster.addNode(WINDOWS, { providerID: `${vmss}/akswin/virtualMachines/2` });
      cluster.setNodeMetadata(OTHER, agentStatus(OTHER_VM, []));
      cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM])]));
      await settle(NODE);
      expect(phase(NODE)).toBe('Drained');
      expect(cluster.status(NODE)?.maintenance?.approve).toBe('EV-1');

      // The same, but the event also names the agent-less node's VM: it is not drained, so no approval.
      cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', T0 + 15 * 60_000, [VM, 'akswin_2'], 'EV-2')]));
      await settle(NODE);
      expect(cluster.status(NODE)?.maintenance).toMatchObject({ phase: 'Drained', eventId: 'EV-2' });
      expect(cluster.status(NODE)?.maintenance?.approve).toBeUndefined();
    });

    it('never lets two nodes drain at once under maxConcurrentDrains 1, even when both are reconciled at the same moment', async () => {
      current = config('drain:\n  maxConcurrentDrains: 1\n  maxGracePeriod: 1m\n');
      cluster.addPods(NODE, ['a-1']);
      cluster.addPods(OTHER, ['b-1']);
      cluster.setNodeMetadata(NODE, agentStatus(VM, [event('Reboot', notBefore, [VM], 'EV-A')]));
      otherReboot();
      for (let i = 0; i < 6; i++) await Promise.all([reconciler.reconcile(NODE), reconciler.reconcile(OTHER)]);
      expect([phase(NODE), phase(OTHER)].sort()).toEqual(['Cordoned', 'Draining']);
      const waiting = phase(NODE) === 'Cordoned' ? NODE : OTHER;
      const draining = waiting === NODE ? OTHER : NODE;
      expect(cluster.cordonOf(waiting).unschedulable).toBe(true);
      expect(events.events.filter((e) => e.object.name === waiting).map((e) => e.reason)).toContain('DrainWaitingForBudget');

      // The first drain ends: the waiting node takes the slot.
      cluster.finishTerminating(draining);
      await settle(draining);
      expect(phase(draining)).toBe('Drained');
      await settle(waiting);
      expect(phase(waiting)).toBe('Draining');
    });

    it('frees the drain slot of a node deleted mid-drain (a reclaimed spot VM), so the next node drains at once', async () => {
      await firstOfTwoDrains();
      expect(phase(NODE)).toBe('Draining');
      cluster.removeNode(NODE);
      expect(await reconciler.reconcile(NODE)).toEqual({});

      otherReboot();
      await settle(OTHER);
      expect(phase(OTHER)).toBe('Draining');
    });

    it('drains a node waiting for budget once its deadline leaves only the time a drain needs', async () => {
      await firstOfTwoDrains();
      otherReboot();
      const wait = await settle(OTHER);
      expect(phase(OTHER)).toBe('Cordoned');
      // Forced start: NotBefore - maxGracePeriod - 10 s margin.
      expect(wait).toBe(15 * 60_000 - 60_000 - 10_000);
      clock.advance(wait!);
      await settle(OTHER);
      expect(phase(OTHER)).toBe('Draining');
      expect(phase(NODE)).toBe('Draining');
    });
  });
});
