// Two controller processes with Lease leader election against the real API server: exactly one
// leads and writes, the other keeps warm caches and writes nothing; when the leader is killed
// (no chance to release the Lease) the other takes over after the Lease expires and carries on.
// Who wrote what is read from the API server's audit log (lib/audit.ts): each replica runs as a user
// of its own, so "writes nothing" is what the server received, not what the process says it sent.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { NodeMetadataStatus } from '../../src/api/nodemetadata.js';
import { auditLog, describeAudit } from './lib/audit.js';
import { createTestNamespace, deleteTestNamespace, kubeConfig, waitFor } from './lib/cluster.js';
import { applyAgentStatus, controllerArgs, createNode, createNodeMetadata, deleteNode, installCrd, readNode, runId, startController, type ControllerProcess } from './controller-harness.js';

const id = runId();
const NODE = `nmctl-le-${id}-0`;
const LEASE = `nodemeta-controller-${id}`;
/**
 * How long a leader whose Lease was taken may still write: FAST_LEASE's renew deadline (4 s). It
 * learns of the loss on its next renewal, one retry period (1 s) later, and must then stop every
 * worker; client-go's contract is that a leader that has not renewed within the renew deadline has
 * stopped, and the 3 s beyond the retry period cover the writes already in flight and a busy machine.
 */
const STOP_BOUND_MS = 4_000;
/** How long after the work appears (at the bound) the test keeps watching for writes of the old leader. */
const WATCH_AFTER_BOUND_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let namespace: string;
const controllers: ControllerProcess[] = [];

function status(tags: { name: string; value: string }[]): NodeMetadataStatus {
  return {
    provider: 'alibaba',
    observedTime: new Date().toISOString(),
    instance: { region: 'cn-hangzhou', zone: 'cn-hangzhou-h', instanceType: 'ecs.g7.large', priority: 'regular' },
    tags,
    events: [],
  };
}

async function leaseHolder(): Promise<string | undefined> {
  const lease = await kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace });
  return lease.spec?.holderIdentity || undefined;
}

async function start(identity: string): Promise<ControllerProcess> {
  // Short Lease timings, so that a takeover fits in a test.
  const controller = await startController(
    identity,
    controllerArgs({ defaultConfig: true, leaderElect: true, lease: { namespace, name: LEASE, fast: true }, nodeSelector: `nodemeta-e2e-controller=${id}` }),
  );
  controllers.push(controller);
  return controller;
}

beforeAll(async () => {
  await installCrd();
  namespace = await createTestNamespace('nodemeta-le');
  const node = await createNode(NODE, { 'nodemeta-e2e-controller': id });
  await createNodeMetadata(node);
  await applyAgentStatus(NODE, status([]));
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop('SIGKILL')));
  await deleteNode(NODE);
  if (namespace) await deleteTestNamespace(namespace);
});

describe('nodemeta controller (two replicas, leader election)', () => {
  it('has exactly one leader writing; the follower is ready and writes nothing; the other takes over when the leader dies', async () => {
    const startedAt = Date.now();
    const a = await start(`replica-a-${id}`);
    const b = await start(`replica-b-${id}`);

    const holder = await waitFor('a lease holder', leaseHolder);
    const leader = holder === a.identity ? a : b;
    const follower = leader === a ? b : a;
    expect([a.identity, b.identity]).toContain(holder);

    await waitFor('zone label from the leader', async () => (await readNode(NODE)).metadata?.labels?.['nodemeta.io/zone'] === 'cn-hangzhou-h');
    expect(await leader.isLeader()).toBe(true);
    expect(await follower.isLeader()).toBe(false);
    // Per the API server: the follower wrote nothing but its bid for the Lease, the leader labelled the node.
    const audit = auditLog();
    expect(describeAudit(audit.writesBy(follower.user, startedAt).filter((e) => e.objectRef?.resource !== 'leases'))).toEqual([]);
    expect(audit.writesBy(leader.user, startedAt, { resource: 'nodes', name: NODE }).length).toBeGreaterThan(0);
    // Followers are ready too (warm caches, ready to take over).
    expect((await fetch(`${follower.healthUrl}/readyz`)).status).toBe(200);

    // Kill the leader without a chance to release the Lease: the follower waits for it to expire.
    const killedAt = Date.now();
    await leader.stop('SIGKILL');
    await waitFor('the follower to take the lease', async () => (await leaseHolder()) === follower.identity, { timeoutMs: 60_000 });
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    await waitFor('the new leader to report it', () => follower.isLeader());
    // It reconciles every node on taking over, and finds nothing to do: the old leader's writes stand.
    const tookOverAt = Date.now();
    await waitFor('the new leader to reconcile the node', async () => /reconcile_duration_seconds_count\{result="success"\} [1-9]/.test(await follower.metrics()));
    expect(describeAudit([...audit.writesBy(follower.user, tookOverAt, { resource: 'nodes' }), ...audit.writesBy(follower.user, tookOverAt, { resource: 'nodemetadatas' })])).toEqual([]);

    // The new leader acts on changes.
    await applyAgentStatus(NODE, { ...status([]), instance: { region: 'cn-hangzhou', zone: 'cn-hangzhou-i', instanceType: 'ecs.g7.large', priority: 'regular' } });
    await waitFor('zone label updated by the new leader', async () => (await readNode(NODE)).metadata?.labels?.['nodemeta.io/zone'] === 'cn-hangzhou-i');
    expect(audit.writesBy(follower.user, tookOverAt, { resource: 'nodes', name: NODE }).length).toBeGreaterThan(0);
  });

  it('a gracefully stopped leader releases the Lease and exits 0', async () => {
    const current = controllers.find((c) => c.child.exitCode === null && c.child.signalCode === null);
    expect(current).toBeDefined();
    const standby = await start(`replica-c-${id}`);
    const code = await current!.stop('SIGTERM');
    expect(code).toBe(0);
    // Released: the standby takes over without waiting for the 6 s Lease to expire.
    const releasedAt = Date.now();
    await waitFor('the standby to lead', async () => (await leaseHolder()) === standby.identity, { timeoutMs: 30_000 });
    expect(Date.now() - releasedAt).toBeLessThan(5_000);
  });

  it('a leader that finds its Lease taken stops work at once and starts again in the same process, as a follower', async () => {
    const leader = controllers.find((c) => c.child.exitCode === null && c.child.signalCode === null);
    expect(leader).toBeDefined();
    await waitFor('the remaining replica to lead', () => leader!.isLeader());
    const firstUrl = leader!.healthUrl;
    const coordination = kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({ name: LEASE, namespace });
    lease.spec = { ...lease.spec, holderIdentity: 'someone-else', renewTime: new V1MicroTime(), leaseDurationSeconds: 60 };
    const takenAt = Date.now();
    await coordination.replaceNamespacedLease({ name: LEASE, namespace, body: lease });
    // Work a leader would do, once the bound has passed: the node's zone changes. Nobody leads (the
    // Lease is someone else's for 60 s), so nothing may be written: no label, no status, no Lease.
    await sleep(Math.max(0, takenAt + STOP_BOUND_MS - Date.now()));
    await applyAgentStatus(NODE, { ...status([]), instance: { region: 'cn-hangzhou', zone: 'cn-hangzhou-j', instanceType: 'ecs.g7.large', priority: 'regular' } });
    const changedAt = Date.now();
    // It notices on its next renewal (retry period 1 s), stops every worker and closes its caches,
    // then runs again with fresh ones: a new health server, ready, not leading (the Lease is held).
    await waitFor('the old leader to start again', () => leader!.logs.some((line) => line.includes('starting again in this process')), { timeoutMs: 30_000 });
    expect(leader!.logs.join('\n')).toContain('lost the lease');
    await waitFor('its new term to listen', () => leader!.healthUrl !== firstUrl, { timeoutMs: 30_000 });
    await waitFor('its new term to be ready', async () => (await fetch(`${leader!.healthUrl}/readyz`)).status === 200, { timeoutMs: 30_000 });
    expect(await leader!.isLeader()).toBe(false);
    expect(leader!.child.exitCode).toBeNull();

    await sleep(Math.max(0, changedAt + WATCH_AFTER_BOUND_MS - Date.now()));
    const audit = auditLog();
    const late = audit.writesBy(leader!.user, takenAt + STOP_BOUND_MS);
    console.log(`[leader] writes by the old leader in the ${STOP_BOUND_MS} ms after its Lease was taken: ${JSON.stringify(describeAudit(audit.writesBy(leader!.user, takenAt).filter((e) => e.receivedAt < takenAt + STOP_BOUND_MS)))}`);
    expect(describeAudit(late)).toEqual([]);
    expect((await readNode(NODE)).metadata?.labels?.['nodemeta.io/zone']).not.toBe('cn-hangzhou-j');
  });
});
