// The reconciler with drain readiness (docs/maintenance.md, "Drain readiness"): the DrainReady
// condition and status.drainReadiness in the controller's status write, no write for an unchanged
// verdict, none on a cold cache, removed when off; at a cold start one report, with the first
// verdict; DrainAtRisk once per event.
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { NodeMetadataStatus } from '../../../src/api/nodemetadata.js';
import type { ReadinessLook } from '../../../src/controller/readiness/drain-readiness.js';
import { FIRST_VERDICT_WAIT_MS } from '../../../src/controller/readiness/readiness-update.js';
import { drainVerdict, type ReadinessPod } from '../../../src/controller/readiness/verdict.js';
import { NodeReconciler, type ReadinessSource } from '../../../src/controller/reconcile/reconciler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { configOf } from '../controller/config-of.js';
import { FakeCluster, RecordingEvents } from './fake-cluster.js';

const NODE = 'aks-pool-000001';
const T0 = Date.UTC(2026, 11, 7, 20, 0, 0);
const bare = (name: string): ReadinessPod => ({ namespace: 'shop', name, ownerKinds: [], phase: 'Running', ready: true, labels: {} });
const verdict = (pods: ReadinessPod[]): ReadinessLook => ({ kind: 'verdict', verdict: drainVerdict({ pods, pdbsIn: () => [], readyReplicas: () => 99, options: { deleteEmptyDirData: false, forceUnmanagedPods: false } }) });

function agentStatus(overrides: Partial<NodeMetadataStatus> = {}): NodeMetadataStatus {
  return { provider: 'azure', observedTime: new Date(T0).toISOString(), instance: { region: 'westeurope', zone: 'westeurope-1', faultDomain: '0', updateDomain: '3', instanceType: 'Standard_D4s_v5', priority: 'regular' }, events: [], ...overrides };
}

describe('NodeReconciler with drain readiness', () => {
  let cluster: FakeCluster;
  let events: RecordingEvents;
  let clock: FakeClock;
  let reconciler: NodeReconciler;
  let look: ReadinessLook;
  const config = configOf('labels:\n  allowedTags: []\n');
  const drainReady = () => cluster.status(NODE)?.conditions?.find((c) => c.type === 'DrainReady');

  beforeEach(async () => {
    cluster = new FakeCluster();
    events = new RecordingEvents();
    clock = new FakeClock(T0);
    look = { kind: 'cold' };
    const readiness: ReadinessSource = { look: () => look, observed: () => undefined, forget: () => undefined };
    reconciler = new NodeReconciler({ cache: cluster, writer: cluster, events, config: () => config, clock, logger: silentLogger(), readiness });
    cluster.addNode(NODE, { labels: { 'kubernetes.io/hostname': NODE } });
    cluster.setNodeMetadata(NODE, agentStatus());
    await reconciler.reconcile(NODE);
    cluster.clearWrites();
  });

  it('cold: no verdict written; then the verdict, no write while it holds, a write when it changes; off removes both', async () => {
    expect(drainReady()).toBeUndefined();
    expect(cluster.status(NODE)?.drainReadiness).toBeUndefined();

    look = verdict([bare('a')]);
    await reconciler.reconcile(NODE);
    expect(drainReady()).toMatchObject({ status: 'False', reason: 'Unmanaged', message: '1 pod would block a drain: 1 without a controller' });
    expect(cluster.status(NODE)?.drainReadiness).toEqual({ blockers: [{ pod: 'shop/a', reason: 'Unmanaged', message: expect.any(String) }], blockedPods: 1, warnings: [], lastEvaluated: '2026-12-07T20:00:00Z' });
    expect(cluster.writes.map((w) => w.kind)).toEqual(['status']);

    // The same verdict ten minutes later, and a cold cache: nothing written.
    cluster.clearWrites();
    clock.advance(600_000);
    look = verdict([bare('a')]);
    await reconciler.reconcile(NODE);
    look = { kind: 'cold' };
    await reconciler.reconcile(NODE);
    expect(cluster.writes).toEqual([]);
    expect(drainReady()?.status).toBe('False');

    look = verdict([]);
    await reconciler.reconcile(NODE);
    expect(drainReady()).toMatchObject({ status: 'True', reason: 'NothingBlocks' });
    expect(cluster.status(NODE)?.drainReadiness).toMatchObject({ blockedPods: 0, lastEvaluated: '2026-12-07T20:10:00Z' });

    look = { kind: 'off' };
    await reconciler.reconcile(NODE);
    expect(drainReady()).toBeUndefined();
    expect(cluster.status(NODE)?.drainReadiness).toBeUndefined();
  });

  it('a cold start: the report waits for the first verdict and goes once with it; past the wait it goes without', async () => {
    const fresh = 'aks-pool-000002';
    cluster.addNode(fresh, { labels: { 'kubernetes.io/hostname': fresh } });
    cluster.setNodeMetadata(fresh, agentStatus());
    look = { kind: 'cold', firstListSince: T0 };
    clock.advance(30_000);
    const held = await reconciler.reconcile(fresh);
    // The labels go at once; the status report waits, and the node is looked at again when the wait ends.
    expect(cluster.writes.map((w) => w.kind)).toEqual(['labels']);
    expect(held.requeueAfter).toBe(FIRST_VERDICT_WAIT_MS - 30_000);
    look = verdict([]);
    await reconciler.reconcile(fresh);
    expect(cluster.writes.map((w) => w.kind)).toEqual(['labels', 'status']);
    expect(cluster.status(fresh)?.conditions?.map((c) => c.type)).toEqual(expect.arrayContaining(['Labeled', 'DrainReady']));

    // The list never ends: past the wait the report goes without a verdict.
    const late = 'aks-pool-000003';
    cluster.addNode(late, { labels: { 'kubernetes.io/hostname': late } });
    cluster.setNodeMetadata(late, agentStatus());
    cluster.clearWrites();
    look = { kind: 'cold', firstListSince: T0 };
    clock.advance(FIRST_VERDICT_WAIT_MS);
    await reconciler.reconcile(late);
    expect(cluster.writes.map((w) => w.kind)).toEqual(['labels', 'status']);
    expect(cluster.status(late)?.conditions?.map((c) => c.type)).not.toContain('DrainReady');
  });

  it('an event seen on a node that is not drain-ready: one DrainAtRisk Event, not again on the next steps', async () => {
    look = verdict([bare('a')]);
    const notBefore = new Date(T0 + 30 * 60_000).toISOString();
    cluster.setNodeMetadata(NODE, agentStatus({ events: [{ id: 'EV-1', type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', notBefore, source: 'Platform', resources: [NODE], durationSeconds: -1 }] }));
    await reconciler.reconcile(NODE);
    await reconciler.reconcile(NODE);
    clock.advance(60_000);
    await reconciler.reconcile(NODE);
    expect(events.reasons().filter((reason) => reason === 'DrainAtRisk')).toEqual(['DrainAtRisk']);
    expect(events.reasons().indexOf('DrainAtRisk')).toBe(events.reasons().indexOf('MaintenanceScheduled') + 1);
  });

  it('in dry run the DrainAtRisk Event is recorded too, marked', async () => {
    const dryRun = configOf('labels:\n  allowedTags: []\ndryRun: true\n');
    const readiness: ReadinessSource = { look: () => verdict([bare('a')]), observed: () => undefined, forget: () => undefined };
    const inDryRun = new NodeReconciler({ cache: cluster, writer: cluster, events, config: () => dryRun, clock, logger: silentLogger(), readiness });
    const notBefore = new Date(T0 + 30 * 60_000).toISOString();
    cluster.setNodeMetadata(NODE, agentStatus({ events: [{ id: 'EV-2', type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', notBefore, source: 'Platform', resources: [NODE], durationSeconds: -1 }] }));
    await inDryRun.reconcile(NODE);
    const atRisk = events.events.filter((event) => event.reason === 'DrainAtRisk');
    expect(atRisk.map((event) => [event.type, event.message])).toEqual([['Warning', `[dry run] 1 pod would block a drain: 1 without a controller; 30m left before NotBefore 2026-12-07T20:30:00Z`]]);
  });
});
