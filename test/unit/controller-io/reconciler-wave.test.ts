// The reconciler in a maintenance wave, over the in-memory cluster: the fast path (taint and cordon in
// one write, nothing else), evictions held until every node of the wave is protected, and a drain's
// pods read only while the node drains.
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { NodeMetadataStatus } from '../../../src/api/nodemetadata.js';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import { WaveGate } from '../../../src/controller/maintenance/wave-gate.js';
import { NodeReconciler } from '../../../src/controller/reconcile/reconciler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { FakeCluster, RecordingEvents } from './fake-cluster.js';
import { configOf as config } from '../controller/config-of.js';

const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);
const NODES = ['aks-pool1-12345678-vmss000000', 'aks-pool1-12345678-vmss000001', 'aks-pool1-12345678-vmss000002'];
const vm = (index: number) => `aks-pool1-12345678-vmss_${index}`;

function preempt(index: number, id = `EV-${index}`): ScheduledEvent {
  return { id, type: 'Preempt', rawType: 'Preempt', status: 'Scheduled', notBefore: new Date(T0 + 30_000).toISOString(), source: 'Platform', resources: [vm(index)], durationSeconds: -1 };
}

function agentStatus(index: number, events: ScheduledEvent[]): NodeMetadataStatus {
  return {
    provider: 'azure',
    observedTime: new Date(T0).toISOString(),
    instance: { name: vm(index), region: 'westeurope', zone: 'westeurope-1', faultDomain: '0', updateDomain: '0', instanceType: 'Standard_D4s_v5', priority: 'regular' },
    events,
  };
}

describe('the fast path: taint and cordon', () => {
  let cluster: FakeCluster;
  let reconciler: NodeReconciler;
  let clock: FakeClock;
  const node = NODES[0]!;

  beforeEach(() => {
    cluster = new FakeCluster();
    clock = new FakeClock(T0);
    reconciler = new NodeReconciler({ cache: cluster, writer: cluster, events: new RecordingEvents(), config: () => config(), clock, logger: silentLogger() });
    cluster.addNode(node, { taints: [{ key: 'example.com/dedicated', value: 'batch', effect: 'NoSchedule' }] });
  });

  it('writes the NoSchedule taint and the cordon in one request, and nothing else', async () => {
    cluster.setNodeMetadata(node, agentStatus(0, [preempt(0)]));
    expect(reconciler.needsProtection(node)).toBe(true);
    await reconciler.protect(node);
    expect(cluster.writes.map((write) => write.kind)).toEqual(['protect']);
    expect(cluster.cordonOf(node)).toEqual({ unschedulable: true, cordonedFor: 'EV-0' });
    expect(cluster.taints(node)).toEqual([
      { key: 'example.com/dedicated', value: 'batch', effect: 'NoSchedule' },
      { key: 'nodemeta.io/scheduled-event', value: 'Preempt', effect: 'NoSchedule' },
    ]);
    // Done: neither the check nor a second run asks for anything more.
    expect(reconciler.needsProtection(node)).toBe(false);
    await reconciler.protect(node);
    expect(cluster.writes).toHaveLength(1);
    // The full reconcile that follows finds the node protected: no taint or cordon write of its own.
    await reconciler.reconcile(node);
    expect(cluster.writes.filter((write) => ['taints', 'cordon', 'protect'].includes(write.kind))).toHaveLength(1);
  });

  it("taints a node someone else cordoned without adding nodemeta's cordon annotation", async () => {
    cluster.setUnschedulable(node, true);
    cluster.setNodeMetadata(node, agentStatus(0, [preempt(0)]));
    await reconciler.protect(node);
    expect(cluster.cordonOf(node)).toEqual({ unschedulable: true, cordonedFor: undefined });
    expect(cluster.taints(node)?.map((taint) => taint.key)).toContain('nodemeta.io/scheduled-event');
  });

  it('does nothing for an event that is not due, not a drain, drained by policy off, or already completed', async () => {
    const cases: { status: NodeMetadataStatus; spec?: { drain: 'Disabled' } }[] = [
      // Alibaba's planned maintenance 48 h ahead: the lead time has not come.
      { status: { ...agentStatus(0, [{ ...preempt(0), type: 'Reboot', rawType: 'SystemMaintenance.Reboot', notBefore: new Date(T0 + 48 * 3_600_000).toISOString() }]), provider: 'alibaba' } },
      // Freeze's action is a notice taint only.
      { status: agentStatus(0, [{ ...preempt(0), type: 'Freeze', rawType: 'Freeze' }]) },
      { status: agentStatus(0, [preempt(0)]), spec: { drain: 'Disabled' } },
      { status: { ...agentStatus(0, [preempt(0)]), maintenance: { phase: 'Completed', eventId: 'EV-0', eventType: 'Preempt' } } },
    ];
    for (const { status, spec } of cases) {
      cluster.setNodeMetadata(node, status, spec);
      expect(reconciler.needsProtection(node)).toBe(false);
      await reconciler.protect(node);
    }
    expect(cluster.writes).toEqual([]);
  });

  it('re-reads and re-plans when the node changed since the cache saw it', async () => {
    cluster.setNodeMetadata(node, agentStatus(0, [preempt(0)]));
    // Someone adds a taint just before our write: the guarded patch fails once, the fresh read wins.
    cluster.onNextWrite('protect', () => cluster.setTaints(node, [{ key: 'example.com/new', effect: 'NoSchedule' }]));
    await reconciler.protect(node);
    expect(cluster.writes.map((write) => write.kind)).toEqual(['protect', 'protect']);
    expect(cluster.taints(node)?.map((taint) => taint.key)).toEqual(['example.com/new', 'nodemeta.io/scheduled-event']);
  });
});

describe('a wave: evictions wait until every node of it is protected', () => {
  let cluster: FakeCluster;
  let clock: FakeClock;
  let gate: WaveGate;
  let reconciler: NodeReconciler;
  const evictionsOn = (index: number) => cluster.writes.filter((write) => write.kind === 'eviction' && write.name.startsWith(`default/pod-${index}-`));

  /** Reconciles until the step asks for no immediate look, as the work queue would. */
  async function settle(name: string): Promise<number | undefined> {
    for (let i = 0; i < 20; i++) {
      const result = await reconciler.reconcile(name);
      if (result.requeueAfter !== 1) return result.requeueAfter;
    }
    throw new Error(`${name} did not settle`);
  }

  beforeEach(() => {
    cluster = new FakeCluster();
    clock = new FakeClock(T0);
    gate = new WaveGate({ clock, settleMs: () => 2_000 });
    reconciler = new NodeReconciler({ cache: cluster, writer: cluster, events: new RecordingEvents(), config: () => config(), clock, logger: silentLogger(), waveGate: gate });
    NODES.forEach((name, index) => {
      cluster.addNode(name);
      cluster.addPods(name, [`pod-${index}-a`, `pod-${index}-b`]);
    });
  });

  it('holds the first node’s evictions while another node waits for its cordon, then lets them go once the wave settled', async () => {
    for (const index of [0, 1]) {
      cluster.setNodeMetadata(NODES[index]!, agentStatus(index, [preempt(index)]));
      gate.protecting(NODES[index]!);
    }
    await reconciler.protect(NODES[0]!);
    // Node 0 is protected and its drain starts (status Draining), but node 1 is not cordoned yet.
    const wait = await settle(NODES[0]!);
    expect(cluster.status(NODES[0]!)?.maintenance?.phase).toBe('Draining');
    expect(evictionsOn(0)).toEqual([]);
    expect(wait).toBeGreaterThan(0);

    await reconciler.protect(NODES[1]!);
    expect(cluster.cordonOf(NODES[1]!).unschedulable).toBe(true);
    // Protected now, but the wave may still grow: the settle time must pass first.
    await settle(NODES[0]!);
    expect(evictionsOn(0)).toEqual([]);
    clock.advance(2_000);
    await settle(NODES[0]!);
    expect(evictionsOn(0).map((write) => write.name)).toEqual(['default/pod-0-a', 'default/pod-0-b']);
  });

  it('holds a node at most the bound, even if another node never gets its cordon', async () => {
    cluster.setNodeMetadata(NODES[0]!, agentStatus(0, [preempt(0)]));
    gate.protecting(NODES[2]!);
    await settle(NODES[0]!);
    expect(evictionsOn(0)).toEqual([]);
    clock.advance(19_900);
    await settle(NODES[0]!);
    expect(evictionsOn(0)).toEqual([]);
    clock.advance(100);
    await settle(NODES[0]!);
    expect(evictionsOn(0)).toHaveLength(2);
  });
});

describe("a drain reads its node's pods, and only while it drains", () => {
  let cluster: FakeCluster;
  let reconciler: NodeReconciler;
  const node = NODES[0]!;

  beforeEach(() => {
    cluster = new FakeCluster();
    reconciler = new NodeReconciler({ cache: cluster, writer: cluster, events: new RecordingEvents(), config: () => config(), clock: new FakeClock(T0), logger: silentLogger() });
    cluster.addNode(node);
    cluster.addPods(node, ['web-a', 'web-b']);
  });

  it('never asks for the pods of a node without maintenance', async () => {
    cluster.setNodeMetadata(node, agentStatus(0, []));
    await reconciler.reconcile(node);
    expect(cluster.podWatches.size).toBe(0);
  });

  it('decides nothing while the pods are unknown, then drains once they are listed, and releases them when drained', async () => {
    cluster.setNodeMetadata(node, agentStatus(0, [preempt(0)]));
    cluster.podsUnknown.add(node);
    for (let i = 0; i < 3; i++) await reconciler.reconcile(node);
    // Scheduled is written (no pods needed for that), but no drain starts on an unknown pod list.
    expect(cluster.status(node)?.maintenance?.phase).toBe('Scheduled');
    expect(cluster.writes.filter((write) => write.kind === 'eviction')).toEqual([]);
    expect(cluster.podWatches.has(node)).toBe(true);

    cluster.podsUnknown.delete(node);
    await reconciler.reconcile(node);
    expect(cluster.status(node)?.maintenance?.phase).toBe('Draining');
    expect(cluster.evicted).toEqual(['default/web-a', 'default/web-b']);
    cluster.finishTerminating(node);
    await reconciler.reconcile(node);
    expect(cluster.status(node)?.maintenance?.phase).toBe('Drained');
    expect(cluster.podWatches.has(node)).toBe(false);
  });
});
