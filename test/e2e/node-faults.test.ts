// Issue 11, faults end to end on the real control plane: what a user sees of nodemeta when a part of
// the world fails. Every scenario has agents (real processes, one per node, each against its
// emulated VM), two controller replicas electing a leader, a Deployment under a PodDisruptionBudget
// and watches recording every change from the start (maintenance-harness.ts). Each asserts what a
// user cares about, over the whole watch history: no nodemeta label removed or changed, no pod
// evicted twice, never fewer pods available than the budget allows, no node left cordoned, every
// process still running (nothing restarted by hand), and prints how long recovery took.
// 1. The metadata service of every VM down for 60 s, the agents' pace scaled to it (see OUTAGE_MS; 5 minutes
//    with NODEMETA_E2E_IMDS_OUTAGE_MS=300000) (a connection reset, a 503, no answer):
//    labels kept, MetadataAvailable=False with the reason everywhere, then True again.
// 2. The leader SIGKILLed while three nodes drain: the other replica finishes, nothing evicted
//    twice, the PDB held, approvals once, every node uncordoned.
// 3. A person deletes a NodeMetadata while its node drains: the agent recreates it, the controller
//    picks the drain up again (the Node's cordon annotation, the event), keeps the labels and the
//    taint meanwhile, evicts nothing twice, and gives the node back when the event ends.
//    And when the event ends while the NodeMetadata is away (5.), the node is given back all the same.
// 4. A Node deleted while its agent runs: its NodeMetadata goes with it, the agent neither crashes
//    nor floods its log, the controller does not loop on errors, and the agent publishes again
//    once the Node is created again.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { LABEL_PREFIX, TAG_LABEL_PREFIX, Taints } from '../../src/api/names.js';
import { createNode, deleteNode, FAST_LEASE, installCrd } from './controller-harness.js';
import { auditLog, describeAudit } from './lib/audit.js';
import { kubeConfig, waitFor } from './lib/cluster.js';
import {
  CORDONED_ANNOTATION,
  MANAGED_LABEL,
  Recorder,
  controllerConfig,
  isReady,
  isTerminating,
  maintenanceOf,
  phaseOf,
  withScenario,
  type EmulatorEvent,
  type RawNode,
  type RawNodeMetadata,
  type RawPod,
  type Scenario,
} from './maintenance-harness.js';

// How long every metadata service stays down in scenario 1, and the agent's pace in it, scaled down
// together. What the agent does in an outage is paced by its reads, not by the outage's length: a
// read of a silent service gives up after 6 attempts of one request timeout each (10 s in
// production, about 62 s a read), a refused or failing one after its backoff (under 8 s), and the
// instance facts are read every --instance-interval. Here the request timeout is 3 s (a silent
// read gives up after 18 to 26 s) and the instance interval 10 s: 60 s of outage keeps every
// condition False past two failed reads of every VM and several instance reads, which is what the
// checks need (no flapping, one log line per reason, labels untouched), in the same proportions as
// 150 s with the production timeout. NODEMETA_E2E_IMDS_OUTAGE_MS=300000 runs 5 minutes.
const OUTAGE_MS = Number(process.env.NODEMETA_E2E_IMDS_OUTAGE_MS ?? 60_000);
/** The agents' pace in scenario 1 (see OUTAGE_MS). */
const OUTAGE_AGENT_ARGS = ['--request-timeout', '3s', '--instance-interval', '10s'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

beforeAll(async () => {
  await installCrd();
});

// ---- helpers over a Scenario (the harness is shared: these stay here) ----

/** Records every change of the scenario's managed Nodes (by their label), stopped by `body`'s end. */
async function withManagedNodes<T>(s: Scenario, body: (nodes: Recorder<RawNode>) => Promise<T>): Promise<T> {
  const nodes = await Recorder.start<RawNode>('/api/v1/nodes', { labelSelector: `${MANAGED_LABEL}=${s.id}` });
  try {
    return await body(nodes);
  } finally {
    nodes.stop();
  }
}

/** nodemeta's labels on a Node (nodemeta.io/* and tag.nodemeta.io/*). */
function nodemetaLabels(node: RawNode | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(node?.metadata.labels ?? {}).filter(([key]) => key.startsWith(LABEL_PREFIX) || key.startsWith(TAG_LABEL_PREFIX)));
}

/** Waits until the controller has labelled every node (zone and fault domain at least); returns the labels per node. */
async function labelled(nodes: Recorder<RawNode>, names: string[]): Promise<Map<string, Record<string, string>>> {
  return nodes.until(
    'every node labelled by the controller',
    (state) => {
      const labels = new Map(names.map((name) => [name, nodemetaLabels(state.get(name))]));
      return [...labels.values()].every((l) => l[`${LABEL_PREFIX}zone`] !== undefined && l[`${LABEL_PREFIX}fault-domain`] !== undefined && l[`${LABEL_PREFIX}provider`] === 'azure') ? labels : undefined;
    },
    90_000,
  );
}

/** Two controller replicas with a fast Lease, ready; the nodes' labels as first published, and where the Node history stands then. */
async function replicasReady(s: Scenario, nodes: Recorder<RawNode>, nmd: Recorder<RawNodeMetadata>, names: string[]): Promise<{ before: Map<string, Record<string, string>>; fromNode: number }> {
  await s.startController(controllerConfig(), 'a', FAST_LEASE);
  await s.startController(controllerConfig(), 'b', FAST_LEASE);
  await s.ready(nmd, names);
  return { before: await labelled(nodes, names), fromNode: nodes.history.length };
}

/**
 * From history entry `from` on, every change of these Nodes kept exactly `expected` nodemeta labels:
 * none removed, none changed, none flapped (a deleted Node has no labels to compare).
 */
function expectLabelsKept(nodes: Recorder<RawNode>, expected: Map<string, Record<string, string>>, from: number): void {
  nodes.expectComplete();
  const changes: string[] = [];
  for (const entry of nodes.history.slice(from)) {
    const name = entry.object.metadata.name;
    const want = expected.get(name);
    if (want === undefined || entry.type === 'DELETED') continue;
    const got = nodemetaLabels(entry.object);
    if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(want).sort())) changes.push(`${new Date(entry.at).toISOString()} ${name}: ${JSON.stringify(got)}`);
  }
  expect(changes).toEqual([]);
}

/**
 * The fewest Ready pods not on their way out over the whole pod history, counted once all `initial`
 * were there; fails when the watch never saw them all (there would be nothing to compare).
 */
function minimumAvailable(pods: Recorder<RawPod>, initial: number): number {
  pods.expectComplete();
  let armed = false;
  let minimum = Infinity;
  pods.replay((state) => {
    const available = [...state.values()].filter((pod) => isReady(pod) && !isTerminating(pod)).length;
    if (available >= initial) armed = true;
    if (armed) minimum = Math.min(minimum, available);
  });
  expect(armed ? 'armed' : `the pod watch never saw ${initial} pods Ready`).toBe('armed');
  return minimum;
}

/** The pods the watch saw go Terminating (an accepted eviction, or a deletion), by "ns/name". */
function podsThatWentTerminating(pods: Recorder<RawPod>): string[] {
  const names = new Set<string>();
  for (const entry of pods.history) if (isTerminating(entry.object)) names.add(`${entry.object.metadata.namespace}/${entry.object.metadata.name}`);
  return [...names].sort();
}

/**
 * Per the API server's audit log: each of `pods` evicted exactly once (one accepted eviction, 201)
 * by the scenario's controllers, whichever replica, and the watch saw exactly those go.
 */
function expectEachEvictedOnce(s: Scenario, pods: Recorder<RawPod>, expected?: string[]): void {
  const evictions = auditLog().evictionsByPod(0, { user: s.controllers.map((c) => c.user), namespace: s.namespace });
  expect([...evictions].filter(([, accepted]) => accepted.length !== 1).map(([pod, accepted]) => ({ pod, accepted: describeAudit(accepted) }))).toEqual([]);
  expect([...evictions.keys()].sort()).toEqual(podsThatWentTerminating(pods));
  if (expected !== undefined) expect([...evictions.keys()].sort()).toEqual([...expected].sort());
}

/** Every process of the scenario still runs, except those the test killed. */
async function expectAllRunning(s: Scenario, killed: readonly string[] = []): Promise<void> {
  for (const c of s.controllers) {
    if (killed.includes(c.identity)) continue;
    expect({ controller: c.identity, exitCode: c.child.exitCode, signal: c.child.signalCode }).toEqual({ controller: c.identity, exitCode: null, signal: null });
  }
  for (const a of s.agents) {
    // A crashed agent would not answer; the log says whether it started more than once.
    await expect(a.metrics()).resolves.toContain('nodemeta_agent');
    expect(a.logs.filter((line) => line.includes('"agent started"'))).toHaveLength(1);
  }
}

/** No node cordoned, tainted or annotated by nodemeta any more. */
function givenBack(state: ReadonlyMap<string, RawNode>, names: string[]): boolean {
  return names.every((name) => {
    const node = state.get(name);
    return node !== undefined && node.spec?.unschedulable !== true && node.metadata.annotations?.[CORDONED_ANNOTATION] === undefined && !(node.spec?.taints ?? []).some((t) => t.key.startsWith(LABEL_PREFIX));
  });
}

async function leaderOf(s: Scenario, timeoutMs = 60_000) {
  return waitFor(
    'a leader',
    async () => {
      for (const c of s.controllers) if (c.child.exitCode === null && c.child.signalCode === null && (await c.isLeader().catch(() => false))) return c;
      return undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

const metadataAvailable = (object: RawNodeMetadata | undefined) => object?.status?.conditions?.find((c) => c.type === 'MetadataAvailable');

/** Lines of a JSON log at warn or error level. */
const complaints = (logs: readonly string[]) => logs.filter((line) => /"level":"(warn|error)"/.test(line));
const errorsTotal = async (s: Scenario, i: number) => {
  const text = await s.controllers[i]!.metrics();
  return [...text.matchAll(/^nodemeta_controller_reconcile_errors_total(?:\{[^}]*\})? (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
};

describe('node faults end to end', () => {
  test.concurrent(
    '1. every VM\'s metadata service down for minutes: labels kept, MetadataAvailable=False with its reason, then True again by itself',
    () =>
      withScenario('imdsdown', (s) =>
        withManagedNodes(s, async (nodes) => {
          const names = [0, 1, 2].map((i) => s.azureNode(i));
          const nmd = await s.managedVms('azure', names, OUTAGE_AGENT_ARGS);
          await s.deployment('web', { replicas: 3, nodes: names });
          await s.runningPods('web', 3, names);
          await s.pdb('web', { maxUnavailable: 1 });
          const pods = await s.watchPods();
          const { before, fromNode } = await replicasReady(s, nodes, nmd, names);
          const fromNmd = nmd.history.length;
          const instances = new Map(names.map((name) => [name, JSON.stringify(nmd.state.get(name)!.status!.instance)]));

          // Three ways a metadata service is down: the connection dropped (as a refused one is for
          // a client), a 503 from a failing service, no answer at all (past the agent's 3 s timeout).
          const faults = [
            { vm: names[0], kind: 'reset', reason: 'MetadataServiceUnreachable' },
            { vm: names[1], kind: 'status', status: 503, reason: 'MetadataServiceError' },
            { vm: names[2], kind: 'delay', delayMs: 10_000, reason: 'MetadataServiceTimeout' },
          ];
          const ids: string[] = [];
          for (const { reason: _reason, ...fault } of faults) ids.push((await s.control<{ id: string }>('POST', '/faults', fault)).id);
          const downAt = Date.now();
          const down = await nmd.until(
            'MetadataAvailable=False on every NodeMetadata',
            (state) => {
              const conditions = names.map((name) => metadataAvailable(state.get(name)));
              return conditions.every((c) => c?.status === 'False') ? conditions : undefined;
            },
            120_000,
          );
          expect(down.map((c) => c!.reason)).toEqual(faults.map((f) => f.reason));
          // Every agent gave up a read while the outage lasted (the silent one within its 3 s
          // request timeout's six attempts): else the rest would not be about an outage.
          expect({ falseWithinTheOutage: Date.now() - downAt < OUTAGE_MS }).toEqual({ falseWithinTheOutage: true });
          for (const c of down) expect(c!.message).not.toBe('');
          console.log(`[fault] imdsdown: MetadataAvailable=False on all 3 NodeMetadata ${seconds(Date.now() - downAt)} s after the outage began (${down.map((c) => c!.reason).join(', ')})`);

          // The outage lasts OUTAGE_MS (from its start), then the faults are cleared.
          await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
          const stillDown = names.map((name) => metadataAvailable(nmd.state.get(name)));
          expect(stillDown.map((c) => `${c?.status} ${c?.reason}`)).toEqual(faults.map((f) => `False ${f.reason}`));
          for (const id of ids) await s.control('DELETE', `/faults/${id}`);
          const endedAt = Date.now();
          await nmd.until('MetadataAvailable=True on every NodeMetadata', (state) => names.every((name) => metadataAvailable(state.get(name))?.status === 'True'), 180_000);
          const recovered = Date.now() - endedAt;
          console.log(`[fault] imdsdown: recovered ${seconds(recovered)} s after the fault ended (MetadataAvailable=True on all 3)`);

          // Over the whole outage: the labels never moved, the instance never left the status, and
          // each condition went False once and True once (no flapping).
          await sleep(3_000);
          expectLabelsKept(nodes, before, fromNode);
          expect(names.map((name) => nodemetaLabels(nodes.state.get(name)))).toEqual(names.map((name) => before.get(name)));
          nmd.expectComplete();
          for (const name of names) {
            const entries = nmd.history.slice(fromNmd).filter((e) => e.object.metadata.name === name);
            expect(entries.filter((e) => JSON.stringify(e.object.status?.instance) !== instances.get(name) || e.type !== 'MODIFIED')).toEqual([]);
            const flips = ['True'];
            for (const e of entries) {
              const status = metadataAvailable(e.object)?.status ?? 'absent';
              if (flips[flips.length - 1] !== status) flips.push(status);
            }
            expect({ name, flips }).toEqual({ name, flips: ['True', 'False', 'True'] });
          }
          // No maintenance, no cordon, no eviction, nothing restarted; each agent said it once per reason.
          expect(auditLog().evictionsByPod(0, { namespace: s.namespace }).size).toBe(0);
          expect(podsThatWentTerminating(pods)).toEqual([]);
          expect(minimumAvailable(pods, 3)).toBe(3);
          expect(givenBack(nodes.state, names)).toBe(true);
          await expectAllRunning(s);
          for (const agent of s.agents) {
            const failed = agent.logs.filter((line) => line.includes('metadata service poll failed'));
            expect({ node: agent.node, lines: failed.length }).toEqual({ node: agent.node, lines: 1 });
          }
        }),
      ),
    OUTAGE_MS + 5 * 60_000,
  );

  test.concurrent(
    '2. the leader SIGKILLed while three nodes drain: the other replica finishes, no pod evicted twice, the PDB held, approvals once, every node uncordoned',
    () =>
      withScenario('killdrain', (s) =>
        withManagedNodes(s, async (nodes) => {
          const startedAt = Date.now();
          const names = [0, 1, 2].map((i) => s.azureNode(i));
          const nmd = await s.managedVms('azure', names);
          // A finalizer keeps an evicted pod Terminating (a slow kubelet): the drains take a while,
          // and the new leader finds the old one's evictions still under way.
          await s.deployment('web', { replicas: 6, nodes: names, finalizers: ['e2e.nodemeta.io/hold'] });
          const original = await s.runningPods('web', 6, names);
          // The room the replacements need, closed until the leader is killed.
          await s.spareNode({ closed: true });
          await s.pdb('web', { maxUnavailable: 1 });
          const pods = await s.watchPods();
          const { before, fromNode } = await replicasReady(s, nodes, nmd, names);
          const first = await leaderOf(s);

          const events = await Promise.all(names.map((node) => s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' })));
          // Every node cordoned, at least one Draining with an eviction accepted and the rest refused
          // by the budget (no room for a replacement yet): the drains are under way and held.
          await nmd.until(
            'the drains under way and held by the PDB',
            (state) => names.every((n) => ['Cordoned', 'Draining'].includes(phaseOf(state.get(n)))) && names.some((n) => (maintenanceOf(state.get(n))?.blockedPods ?? []).length > 0),
            120_000,
          );
          await waitFor('an eviction in the leader\'s log', () => first.logs.some((line) => line.includes('"pod evicted"')), { timeoutMs: 30_000 });
          const draining = names.filter((n) => phaseOf(nmd.state.get(n)) === 'Draining');
          expect(draining.length).toBeGreaterThan(0);

          await first.stop('SIGKILL');
          const killedAt = Date.now();
          await s.openSpareNode();
          const second = await leaderOf(s);
          const takeover = Date.now() - killedAt;
          expect(second).not.toBe(first);
          // The kubelet lets the evicted pods go, as they come.
          const releasing = setInterval(() => void s.releaseTerminatingPods().catch(() => undefined), 500);
          let firstEvictionAfter: number | undefined;
          try {
            await waitFor('the new leader to evict', () => second.logs.some((line) => line.includes('"pod evicted"')), { timeoutMs: 90_000 });
            firstEvictionAfter = Math.min(...second.logs.filter((l) => l.includes('"pod evicted"')).map((l) => Date.parse((JSON.parse(l) as { timestamp: string }).timestamp))) - killedAt;
            await nmd.until('every node drained and approved', (state) => names.every((n) => phaseOf(state.get(n)) === 'Approved'), 180_000);
          } finally {
            clearInterval(releasing);
          }
          console.log(`[fault] killdrain: takeover ${seconds(takeover)} s after the SIGKILL (${draining.length} node(s) Draining at the kill); the new leader's first eviction ${seconds(firstEvictionAfter)} s after it`);

          // Each event approved once, by its own VM, and recorded once.
          for (const [i, id] of events.entries()) {
            const emulated = await s.control<EmulatorEvent>('GET', `/events/${id}`);
            expect(emulated.approvals).toHaveLength(1);
            expect(maintenanceOf(nmd.state.get(names[i]!))?.eventId).toBe(id);
            expect((nmd.state.get(names[i]!)?.status?.approvals ?? []).filter((a) => a.eventId === id)).toHaveLength(1);
          }
          for (const agent of s.agents) expect(agent.logs.filter((line) => line.includes('approved scheduled event'))).toHaveLength(1);

          // The platform is done: the nodes come back into service.
          const endedAt = Date.now();
          for (const id of events) await s.control('DELETE', `/events/${id}`);
          await nmd.until('every node Completed', (state) => names.every((n) => phaseOf(state.get(n)) === 'Completed'), 90_000);
          await nodes.until('every node uncordoned and untainted', (state) => givenBack(state, names), 60_000);
          console.log(`[fault] killdrain: recovered ${seconds(Date.now() - endedAt)} s after the events ended (every node uncordoned)`);

          // Over the whole history: every original pod evicted exactly once across both processes,
          // never fewer than 5 of 6 available, the labels never moved, nothing else died.
          expectEachEvictedOnce(s, pods, original.map((p) => `${s.namespace}/${p.name}`));
          for (const line of second.logs.filter((l) => l.includes('"pod evicted"'))) expect(Date.parse((JSON.parse(line) as { timestamp: string }).timestamp)).toBeGreaterThan(killedAt);
          s.expectNodeWritesBounded(names, startedAt);
          expect(minimumAvailable(pods, 6)).toBeGreaterThanOrEqual(5);
          expectLabelsKept(nodes, before, fromNode);
          await expectAllRunning(s, [first.identity]);
          expect(first.child.signalCode).toBe('SIGKILL');
        }),
      ),
    420_000,
  );

  test.concurrent(
    '3. a NodeMetadata deleted by a person while its node drains: recreated by the agent, the drain picked up again, nothing evicted twice, the node given back when the event ends',
    () =>
      withScenario('nmddel', (s) =>
        withManagedNodes(s, async (nodes) => {
          const names = [0, 1].map((i) => s.azureNode(i));
          const [node, other] = names as [string, string];
          const nmd = await s.managedVms('azure', names);
          await s.deployment('web', { replicas: 4, nodes: [node], finalizers: ['e2e.nodemeta.io/hold'] });
          const original = await s.runningPods('web', 4, [node]);
          await s.spareNode({ closed: true });
          await s.pdb('web', { maxUnavailable: 1 });
          const pods = await s.watchPods();
          const { before, fromNode } = await replicasReady(s, nodes, nmd, names);

          const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          // One pod evicted (held Terminating), the rest refused: the drain is under way.
          await nmd.until('the drain under way and blocked', (state) => {
            const m = maintenanceOf(state.get(node));
            return m?.phase === 'Draining' && (m.blockedPods ?? []).length === 3;
          });
          await waitFor('the eviction in a log', () => s.evictionsLogged().size === 1, { timeoutMs: 10_000 });
          const cordonedAt = nodes.history.length;
          const oldUid = nmd.state.get(node)!.metadata.uid;

          // `kubectl delete nmd <node>`, as a person would.
          await kubeConfig().makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ group: 'nodemeta.io', version: 'v1alpha1', plural: 'nodemetadatas', name: node });
          const deletedAt = Date.now();
          await nmd.until('the NodeMetadata gone', (state) => state.get(node)?.metadata.uid !== oldUid, 30_000);
          // The agent recreates it and publishes its observation; the controller finds the drain again.
          await nmd.until('the NodeMetadata recreated with the agent\'s status', (state) => {
            const again = state.get(node);
            return again !== undefined && again.metadata.uid !== oldUid && again.status?.instance !== undefined;
          }, 150_000);
          const recreated = Date.now() - deletedAt;
          const resumed = await nmd.until('the drain picked up again', (state) => {
            const m = maintenanceOf(state.get(node));
            return state.get(node)?.metadata.uid !== oldUid && m?.phase === 'Draining' && m.eventId === eventId ? m : undefined;
          }, 60_000);
          console.log(`[fault] nmddel: NodeMetadata recreated ${seconds(recreated)} s after its deletion, the drain picked up again ${seconds(Date.now() - deletedAt)} s after it`);
          expect(resumed.totalPods).toBe(4);
          // Owned by the Node, as the agent creates it.
          expect(nmd.state.get(node)!.metadata.ownerReferences?.map((o) => o.kind)).toEqual(['Node']);

          // Room for the pods; the kubelet lets the evicted ones go: drained, approved once, then the event ends.
          await s.openSpareNode();
          const releasing = setInterval(() => void s.releaseTerminatingPods().catch(() => undefined), 500);
          try {
            await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved' && state.get(node)?.metadata.uid !== oldUid, 150_000);
          } finally {
            clearInterval(releasing);
          }
          const emulated = await s.control<EmulatorEvent>('GET', `/events/${eventId}`);
          expect(emulated.approvals).toHaveLength(1);
          const endedAt = Date.now();
          await s.control('DELETE', `/events/${eventId}`);
          await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed', 90_000);
          await nodes.until('the node uncordoned and untainted', (state) => givenBack(state, names), 60_000);
          console.log(`[fault] nmddel: recovered ${seconds(Date.now() - endedAt)} s after the event ended (the node uncordoned)`);

          // From the cordon to the end of the event the node stayed cordoned for it, with its NoSchedule
          // taint: the missing NodeMetadata gave nobody a chance to schedule pods onto it.
          nodes.expectComplete();
          const whileDraining = nodes.history.slice(cordonedAt).filter((e) => e.object.metadata.name === node && e.at < endedAt);
          for (const e of whileDraining) {
            expect({ at: e.at, unschedulable: e.object.spec?.unschedulable, cordonedFor: e.object.metadata.annotations?.[CORDONED_ANNOTATION] }).toEqual({ at: e.at, unschedulable: true, cordonedFor: eventId });
            expect((e.object.spec?.taints ?? []).filter((t) => t.key === Taints.scheduledEvent)).toEqual([{ key: Taints.scheduledEvent, value: 'Reboot', effect: 'NoSchedule' }]);
          }
          expectEachEvictedOnce(s, pods, original.map((p) => `${s.namespace}/${p.name}`));
          expect(minimumAvailable(pods, 4)).toBeGreaterThanOrEqual(3);
          expectLabelsKept(nodes, before, fromNode);
          expect(phaseOf(nmd.state.get(other))).toBe('None');
          await expectAllRunning(s);
        }),
      ),
    420_000,
  );

  test.concurrent(
    '5. (3 continued) the event ends while a deleted NodeMetadata is away: once the agent has created it again, the node is given back, not left cordoned',
    () =>
      withScenario('nmdgone', (s) =>
        withManagedNodes(s, async (nodes) => {
          const names = [0, 1].map((i) => s.azureNode(i));
          const [node, other] = names as [string, string];
          const nmd = await s.managedVms('azure', names);
          await s.deployment('web', { replicas: 2, nodes: [node] });
          const original = await s.runningPods('web', 2, [node]);
          await s.pdb('web', { maxUnavailable: 1 });
          await s.spareNode();
          const pods = await s.watchPods();
          const { before, fromNode } = await replicasReady(s, nodes, nmd, names);

          const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved', 120_000);
          const oldUid = nmd.state.get(node)!.metadata.uid;
          // A person deletes the NodeMetadata, and the platform ends the event before the agent has
          // created it again: no maintenance on record says why the node is cordoned.
          await kubeConfig().makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ group: 'nodemeta.io', version: 'v1alpha1', plural: 'nodemetadatas', name: node });
          await s.control('DELETE', `/events/${eventId}`);
          const endedAt = Date.now();
          await nmd.until('the NodeMetadata recreated with the agent\'s status', (state) => {
            const again = state.get(node);
            return again !== undefined && again.metadata.uid !== oldUid && again.status?.instance !== undefined;
          }, 150_000);
          const recreated = Date.now() - endedAt;
          await nodes.until('the node uncordoned and untainted', (state) => givenBack(state, names), 60_000);
          console.log(`[fault] nmdgone: NodeMetadata recreated ${seconds(recreated)} s after its deletion; recovered ${seconds(Date.now() - endedAt)} s after the event ended (the node uncordoned)`);
          const events = await s.expectEvents(node, ['MaintenanceCompleted']);
          expect(events.find((e) => e.reason === 'MaintenanceCompleted' && e.message.includes('no maintenance on record'))).toBeDefined();

          expectEachEvictedOnce(s, pods, original.map((p) => `${s.namespace}/${p.name}`));
          expect(minimumAvailable(pods, 2)).toBeGreaterThanOrEqual(1);
          expectLabelsKept(nodes, before, fromNode);
          expect(phaseOf(nmd.state.get(other))).toBe('None');
          await expectAllRunning(s);
        }),
      ),
    420_000,
  );

  test.concurrent(
    '4. a Node deleted while its agent runs: its NodeMetadata goes, the agent neither crashes nor floods its log, the controller does not loop, and the agent publishes again when the Node is back',
    () =>
      withScenario('nodedel', (s) =>
        withManagedNodes(s, async (nodes) => {
          const names = [0, 1].map((i) => s.azureNode(i));
          const [node, other] = names as [string, string];
          const nmd = await s.managedVms('azure', names);
          await s.spareNode();
          await s.deployment('web', { replicas: 2, nodes: [other] });
          await s.runningPods('web', 2, [other, s.spare]);
          await s.pdb('web', { maxUnavailable: 1 });
          const pods = await s.watchPods();
          const { before, fromNode } = await replicasReady(s, nodes, nmd, names);
          const leader = await leaderOf(s);
          const oldUid = nodes.state.get(node)!.metadata.uid;
          const agent = s.agents.find((a) => a.node === node)!;

          await deleteNode(node);
          const deletedAt = Date.now();
          await nmd.until('its NodeMetadata garbage-collected with it', (state) => !state.has(node), 90_000);
          console.log(`[fault] nodedel: NodeMetadata gone ${seconds(Date.now() - deletedAt)} s after its Node`);
          // A while without the Node: the agent lives on, quietly; the controller does not retry in a loop.
          const agentLinesAt = agent.logs.length;
          const controllerLinesAt = s.controllers.map((c) => c.logs.length);
          const errorsAt = await Promise.all(s.controllers.map((_, i) => errorsTotal(s, i)));
          await sleep(60_000);
          expect(nmd.state.has(node)).toBe(false);
          const agentComplaints = complaints(agent.logs.slice(agentLinesAt));
          expect(agentComplaints.length).toBeLessThanOrEqual(2);
          expect(agent.logs.length - agentLinesAt).toBeLessThanOrEqual(10);
          for (const [i, c] of s.controllers.entries()) {
            expect({ controller: c.identity, complaints: complaints(c.logs.slice(controllerLinesAt[i])) }).toEqual({ controller: c.identity, complaints: [] });
            expect(await errorsTotal(s, i)).toBe(errorsAt[i]);
          }
          await expectAllRunning(s);

          // The Node is back (a new object, a new uid): the agent publishes again, owned by the new Node.
          await createNode(node, { [MANAGED_LABEL]: s.id });
          const backAt = Date.now();
          const newUid = nodes.state.get(node)?.metadata.uid ?? (await nodes.until('the new Node', (state) => state.get(node)?.metadata.uid))!;
          expect(newUid).not.toBe(oldUid);
          const republished = await nmd.until('the agent to publish again', (state) => {
            const again = state.get(node);
            return again?.status?.instance !== undefined && metadataAvailable(again)?.status === 'True' ? again : undefined;
          }, 120_000);
          const published = Date.now() - backAt;
          expect(republished.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Node', name: node, uid: newUid })]);
          await labelled(nodes, names);
          console.log(`[fault] nodedel: recovered ${seconds(published)} s after the Node came back (NodeMetadata published, owned by the new Node), labelled ${seconds(Date.now() - backAt)} s after`);
          // It stays: not collected as a dependent of the old Node.
          await sleep(20_000);
          expect(nmd.state.get(node)?.metadata.uid).toBe(republished.metadata.uid);
          expect(nodemetaLabels(nodes.state.get(node))).toEqual(before.get(node));

          // The other node never noticed; nothing evicted; nobody restarted.
          expectLabelsKept(nodes, new Map([[other, before.get(other)!]]), fromNode);
          expect(auditLog().evictionsByPod(0, { namespace: s.namespace }).size).toBe(0);
          expect(podsThatWentTerminating(pods)).toEqual([]);
          expect(await leader.isLeader()).toBe(true);
          await expectAllRunning(s);
        }),
      ),
    420_000,
  );
});
