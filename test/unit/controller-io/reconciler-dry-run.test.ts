// Dry run over the in-memory cluster: the reconciler with dry-run.ts's cache and writer laid over the
// FakeCluster. Nothing reaches a Node and no pod is evicted, every decision is one DryRun Event, the
// status tells what a real run would reach (marked, no `approve`), the phases progress as they would,
// and turning dry run off acts for real from the real nodes.
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { MaintenanceStatus, NodeMetadataStatus } from '../../../src/api/nodemetadata.js';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import type { ControllerConfig } from '../../../src/controller/config/config.js';
import { WriteConflictError } from '../../../src/controller/cache/cluster-state.js';
import { DryRunNodes } from '../../../src/controller/dry-run/dry-run.js';
import { WaveGate } from '../../../src/controller/maintenance/wave-gate.js';
import type { NotificationOutbox } from '../../../src/controller/notifications/notifier.js';
import { NodeReconciler } from '../../../src/controller/reconcile/reconciler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { FakeCluster, RecordingEvents } from './fake-cluster.js';
import { configOf as config } from '../controller/config-of.js';

const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);
const NODE = 'aks-pool1-12345678-vmss000000';
const VM = 'aks-pool1-12345678-vmss_0';

function reboot(notBeforeMs = T0 + 15 * 60_000): ScheduledEvent {
  return { id: 'EV-1', type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', notBefore: new Date(notBeforeMs).toISOString(), source: 'Platform', resources: [VM], durationSeconds: -1 };
}

function agentStatus(events: ScheduledEvent[], approvals: NodeMetadataStatus['approvals'] = []): NodeMetadataStatus {
  return {
    provider: 'azure',
    observedTime: new Date(T0).toISOString(),
    instance: { name: VM, region: 'westeurope', zone: 'westeurope-1', faultDomain: '0', updateDomain: '0', instanceType: 'Standard_D4s_v5', priority: 'regular' },
    events,
    approvals,
  };
}

describe('NodeReconciler in dry run', () => {
  let cluster: FakeCluster;
  let events: RecordingEvents;
  let clock: FakeClock;
  let current: ControllerConfig;
  let dryRun: DryRunNodes;
  let reconciler: NodeReconciler;

  async function settle(): Promise<number | undefined> {
    for (let i = 0; i < 20; i++) {
      const result = await reconciler.reconcile(NODE);
      if (result.requeueAfter !== 1) return result.requeueAfter;
    }
    throw new Error('did not settle in 20 reconciles');
  }

  const maintenance = () => cluster.status(NODE)?.maintenance;
  const nodeWrites = () => cluster.writes.filter((write) => write.kind !== 'status');
  const dryRunMessages = () => events.events.filter((event) => event.reason === 'DryRun').map((event) => event.message);
  const condition = (type: string) => cluster.status(NODE)?.conditions?.find((c) => c.type === type);

  beforeEach(() => {
    cluster = new FakeCluster();
    events = new RecordingEvents();
    clock = new FakeClock(T0);
    current = config('dryRun: true\n');
    dryRun = new DryRunNodes({ cache: cluster, writer: cluster, enabled: () => current.dryRun, events, logger: silentLogger() });
    reconciler = new NodeReconciler({ cache: dryRun.cache, writer: dryRun.writer, events, config: () => current, clock, logger: silentLogger() });
    cluster.addNode(NODE);
    cluster.addPods(NODE, ['web-1', 'web-2'], { terminationGracePeriodSeconds: 30 });
    cluster.addPods(NODE, ['logs-x'], { ownerKinds: ['DaemonSet'] });
  });

  it('takes a Reboot to Drained without a node write or an eviction, one DryRun Event per decision, the status marked, no approve', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();

    // Nothing reached the Node, no pod was evicted.
    expect(nodeWrites()).toEqual([]);
    expect(cluster.evicted).toEqual([]);
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: false, cordonedFor: undefined });
    expect(cluster.taints(NODE)).toBeUndefined();
    expect(Object.keys(cluster.labels(NODE)).filter((key) => key.includes('nodemeta.io'))).toEqual([]);

    // The phase went where a real run's would: Drained, the approval it would ask for kept apart.
    expect(maintenance()).toMatchObject({ phase: 'Drained', eventId: 'EV-1', dryRun: true, wouldApprove: 'EV-1', totalPods: 2, evictedPods: 2, pendingPods: 0 });
    expect(maintenance()?.approve).toBeUndefined();

    // What a real run would have done, one Event each.
    const messages = dryRunMessages();
    expect(messages).toEqual([
      expect.stringMatching(/^would set labels nodemeta\.io\/provider=azure, .*nodemeta\.io\/zone=westeurope-1/),
      'would add taint nodemeta.io/scheduled-event=Reboot:NoSchedule',
      'would cordon (spec.unschedulable, nodemeta.io/cordoned=EV-1); set label node.kubernetes.io/exclude-from-external-load-balancers=true; set annotation nodemeta.io/excluded-from-load-balancers=true',
      'would evict 2 pods: default/web-1, default/web-2 (grace period up to 30s)',
      expect.stringMatching(/^would ask the agent to approve EV-1 /),
    ]);
    // The transitions keep their reasons, marked; no report of a write that was not made.
    const reasons = events.reasons();
    expect(reasons).toEqual(expect.arrayContaining(['MaintenanceScheduled', 'DrainStarted', 'Drained', 'ApprovalRequested']));
    expect(reasons).not.toEqual(expect.arrayContaining(['LabelsApplied']));
    expect(reasons).not.toContain('TaintsUpdated');
    expect(reasons).not.toContain('Cordoned');
    for (const event of events.events.filter((e) => e.reason !== 'DryRun')) expect(event.message).toMatch(/^\[dry run\] /);
    // Conditions do not claim what was not done.
    expect(condition('Labeled')).toMatchObject({ status: 'False', reason: 'DryRun', message: expect.stringContaining('a real run would report LabelsApplied') });
    expect(condition('Drained')).toMatchObject({ status: 'False', reason: 'DryRun' });

    // Decided once: looking again writes nothing and says nothing.
    cluster.clearWrites();
    events.events.length = 0;
    await reconciler.reconcile(NODE);
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(events.events).toEqual([]);
  });

  it('reports the load balancers\' wait (drain.loadBalancerDrainDelay) as a real run would take it: in the status, marked, and in DrainStarted; evicts only after it', async () => {
    current = config('dryRun: true\ndrain: {loadBalancerDrainDelay: 30s}\n');
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    expect(await settle()).toBe(30_000);
    const until = new Date(T0 + 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(maintenance()).toMatchObject({ phase: 'Draining', dryRun: true, excludedTime: new Date(T0).toISOString().replace(/\.\d{3}Z$/, 'Z'), loadBalancerDrainUntil: until });
    expect(condition('Drained')).toMatchObject({ status: 'False', reason: 'WaitingForLoadBalancers' });
    expect(events.events.find((event) => event.reason === 'DrainStarted')?.message).toMatch(new RegExp(`^\\[dry run\\] .*the load balancers let go of the node until ${until}`));
    expect(dryRunMessages().some((message) => message.startsWith('would evict'))).toBe(false);
    expect(nodeWrites()).toEqual([]);

    clock.advance(30_000);
    await settle();
    expect(dryRunMessages().some((message) => message.startsWith('would evict 2 pods'))).toBe(true);
    expect(maintenance()).toMatchObject({ phase: 'Drained', dryRun: true });
    expect(maintenance()?.loadBalancerDrainUntil).toBeUndefined();
    expect(cluster.evicted).toEqual([]);
  });

  it('completes as a real run would when the event goes: the simulated taint and cordon taken back, still no write', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    events.events.length = 0;
    // The platform starts the event at NotBefore (the agent in dry run never approved) and it ends.
    clock.advance(20 * 60_000);
    cluster.setNodeMetadata(NODE, agentStatus([]));
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Completed', dryRun: true });
    expect(maintenance()?.wouldApprove).toBeUndefined();
    expect(dryRunMessages()).toEqual([
      'would remove taint nodemeta.io/scheduled-event=Reboot:NoSchedule',
      expect.stringMatching(/^would uncordon \(spec\.unschedulable=false, remove nodemeta\.io\/cordoned\); remove label node\.kubernetes\.io\/exclude-from-external-load-balancers/),
      'would withdraw the request to approve EV-1',
    ]);
    expect(events.reasons()).toContain('MaintenanceCompleted');
    expect(nodeWrites()).toEqual([]);
  });

  it('looks again at once after its simulated evictions, also when a wave held them first (no pod watch will say the pods went)', async () => {
    const waveGate = new WaveGate({ clock, settleMs: () => 2_000 });
    reconciler = new NodeReconciler({ cache: dryRun.cache, writer: dryRun.writer, events, config: () => current, clock, logger: silentLogger(), waveGate });
    waveGate.protecting(NODE);
    waveGate.protectedNode(NODE);
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    const held = await settle();
    expect(maintenance()?.phase).toBe('Draining');
    expect(held).toBeGreaterThan(1);
    clock.advance(held!);
    // The held evictions go (simulated), and the step asks for another look at once: Drained.
    expect(await reconciler.reconcile(NODE)).toEqual({ requeueAfter: 1 });
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Drained', dryRun: true });
    expect(cluster.evicted).toEqual([]);
  });

  it('records the transitions for the notification sinks marked as a dry run\'s', async () => {
    const recorded: MaintenanceStatus[] = [];
    const notifications: NotificationOutbox = {
      next: (_name, _stored, step) => {
        recorded.push(step.status);
        return undefined;
      },
      track: () => undefined,
      forget: () => undefined,
    };
    reconciler = new NodeReconciler({ cache: dryRun.cache, writer: dryRun.writer, events, config: () => current, clock, logger: silentLogger(), notifications });
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    const withEvent = recorded.filter((status) => status.eventId === 'EV-1');
    expect(withEvent.length).toBeGreaterThan(0);
    for (const status of withEvent) expect(status).toMatchObject({ dryRun: true });
    expect(withEvent.some((status) => status.approve !== undefined)).toBe(false);
  });

  it('applies a simulated write to the node as it is now: one planned from an older view conflicts and is re-planned, as on the API server', async () => {
    const stale = dryRun.cache.node(NODE)!;
    await dryRun.writer.cordon(stale, 'EV-1', { excludeFromLoadBalancers: false });
    await expect(dryRun.writer.patchTaints(NODE, [{ key: 'x', effect: 'NoSchedule' }], [])).rejects.toThrow(WriteConflictError);
    await expect(dryRun.writer.cordon(stale, 'EV-2', { excludeFromLoadBalancers: false })).rejects.toThrow(WriteConflictError);
    expect(dryRun.cache.node(NODE)?.metadata.annotations).toEqual({ 'nodemeta.io/cordoned': 'EV-1' });
    expect(nodeWrites()).toEqual([]);
  });

  it('takes the fast path in dry run too: the taint and cordon decided once, not written', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    expect(reconciler.needsProtection(NODE)).toBe(true);
    await reconciler.protect(NODE);
    expect(nodeWrites()).toEqual([]);
    expect(dryRunMessages()).toEqual([expect.stringMatching(/^would cordon \(spec\.unschedulable, nodemeta\.io\/cordoned=EV-1\); add taint nodemeta\.io\/scheduled-event=Reboot:NoSchedule/)]);
    expect(events.reasons()).not.toContain('Cordoned');
    // The simulated node is protected: the fast path has nothing more to do, and neither has the full reconcile's cordon.
    expect(reconciler.needsProtection(NODE)).toBe(false);
    await settle();
    expect(dryRunMessages().filter((message) => message.startsWith('would cordon'))).toHaveLength(1);
    expect(nodeWrites()).toEqual([]);
  });

  it('follows real changes of the node: a taint someone adds shows through, the simulated ones stay', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    cluster.setTaints(NODE, [{ key: 'example.com/other', effect: 'NoSchedule' }]);
    events.events.length = 0;
    const node = dryRun.cache.node(NODE)!;
    expect(node.spec?.taints).toEqual([
      { key: 'example.com/other', effect: 'NoSchedule' },
      { key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' },
    ]);
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata.resourceVersion).toMatch(/\+dry-run$/);
    await reconciler.reconcile(NODE);
    expect(dryRunMessages()).toEqual([]);
    expect(nodeWrites()).toEqual([]);
  });

  it('never asks the agent: an approval recorded by someone else still moves the phase (the event is under way)', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    cluster.setNodeMetadata(NODE, agentStatus([reboot()], [{ eventId: 'EV-1', time: new Date(T0).toISOString() }]));
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Approved', dryRun: true });
    expect(maintenance()?.approve).toBeUndefined();
    expect(maintenance()?.wouldApprove).toBeUndefined();
  });

  it('turned off, acts for real from the real node: the simulation is dropped and the event starts over', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Drained', dryRun: true });

    current = config('');
    events.events.length = 0;
    await settle();
    // A simulated Drained counts for nothing: cordoned for real, the real pods evicted, no approval yet.
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: 'EV-1' });
    expect(cluster.taints(NODE)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
    expect(cluster.labels(NODE)).toMatchObject({ 'nodemeta.io/zone': 'westeurope-1' });
    expect(cluster.evicted).toEqual(['default/web-1', 'default/web-2']);
    expect(maintenance()).toMatchObject({ phase: 'Draining', eventId: 'EV-1' });
    expect(maintenance()?.dryRun).toBeUndefined();
    expect(maintenance()?.approve).toBeUndefined();
    expect(events.reasons()).toEqual(expect.arrayContaining(['LabelsApplied', 'TaintsUpdated', 'MaintenanceScheduled', 'DrainStarted']));
    expect(events.reasons()).not.toContain('DryRun');
    expect(dryRun.simulatedNodes()).toBe(0);

    cluster.finishTerminating(NODE);
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Drained', approve: 'EV-1' });
  });

  it('a real run\'s cordon left through a dry run in which the event ended is given back once dry run is off, quietly otherwise', async () => {
    current = config('');
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: 'EV-1' });
    current = config('dryRun: true\n');
    clock.advance(20 * 60_000);
    cluster.setNodeMetadata(NODE, agentStatus([]));
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Completed', dryRun: true });
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: 'EV-1' });

    current = config('');
    events.events.length = 0;
    await settle();
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: false, cordonedFor: undefined });
    expect(maintenance()).toMatchObject({ phase: 'Completed', eventId: 'EV-1' });
    expect(maintenance()?.dryRun).toBeUndefined();
    expect(events.reasons()).toContain('MaintenanceCompleted');

    // Settled: looking again writes nothing and says nothing.
    cluster.clearWrites();
    events.events.length = 0;
    await settle();
    expect(events.events).toEqual([]);
    expect(nodeWrites()).toEqual([]);
  });

  it('a dry run\'s completed maintenance is left quiet when dry run is turned off: no second MaintenanceCompleted', async () => {
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    clock.advance(20 * 60_000);
    cluster.setNodeMetadata(NODE, agentStatus([]));
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Completed', dryRun: true });
    current = config('');
    events.events.length = 0;
    await settle();
    expect(events.reasons().filter((reason) => reason.startsWith('Maintenance'))).toEqual([]);
    expect(maintenance()).toMatchObject({ phase: 'Completed', eventId: 'EV-1' });
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: false, cordonedFor: undefined });
  });

  it('a real run that turns to dry run leaves the node as it is and withdraws nothing from the Node, only its own approval request', async () => {
    current = config('');
    cluster.setNodeMetadata(NODE, agentStatus([reboot()]));
    await settle();
    cluster.finishTerminating(NODE);
    await settle();
    expect(maintenance()).toMatchObject({ phase: 'Drained', approve: 'EV-1' });

    current = config('dryRun: true\n');
    cluster.clearWrites();
    events.events.length = 0;
    await settle();
    expect(nodeWrites()).toEqual([]);
    expect(cluster.cordonOf(NODE)).toEqual({ unschedulable: true, cordonedFor: 'EV-1' });
    expect(maintenance()).toMatchObject({ phase: 'Drained', dryRun: true, wouldApprove: 'EV-1' });
    expect(maintenance()?.approve).toBeUndefined();
  });
});
