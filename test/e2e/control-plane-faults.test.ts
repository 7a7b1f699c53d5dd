// Issue 11: the control plane's own faults, end to end. Each scenario runs agents and two
// controller replicas on its own kwok nodes, a Deployment under a PDB, and then kills, pauses or
// restarts a component of the local control plane itself (kube-apiserver, etcd), with the same
// command line it ran with (lib/control-plane-faults.ts). What a user cares about is asserted over
// the whole watch history: no nodemeta label removed or changed, no pod evicted twice, never below
// the budget, no node left cordoned, every process still running (a controller that lost its lease
// starts again in the same process: leadership-terms.ts). How long recovery took once the fault
// ended is printed (`[fault] ...`), and the README's tests table quotes it.
//
// The scenarios run one after the other (never test.concurrent): they stop the cluster's API server.
// They run only against a cluster this jest run started (lib/control-plane-faults.ts says how to
// allow another), and whatever a scenario that failed left stopped is started again after it.
//
// The API server's audit log (lib/audit.ts) is the witness of what the controllers wrote: each
// replica runs as a user of its own, and the log holds every eviction and Node write it made.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { Labels } from '../../src/api/names.js';
import { installCrd, nodemetaTaints, readNode } from './controller-harness.js';
import { auditLog, describeAudit } from './lib/audit.js';
import { ControlPlaneFaults, apiServerReady, assertFaultsAllowed } from './lib/control-plane-faults.js';
import { waitFor } from './lib/cluster.js';
import {
  CORDONED_ANNOTATION,
  MANAGED_LABEL,
  Recorder,
  controllerConfig,
  isTerminating,
  maintenanceOf,
  phaseOf,
  withScenario,
  type RawNode,
  type RawNodeMetadata,
  type RawPod,
  type Scenario,
} from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 300_000;
const HOLD = 'e2e.nodemeta.io/hold';
const REPLICAS = 6;
/**
 * Two pods may be away at once: a drained node's pods go without waiting for their replacements.
 * kwok (the simulated kubelets) does not retry a pod's "ready" step that failed while the API server
 * or etcd was away, so a replacement created at that instant can stay Pending for good; a drain
 * that needed it would then wait on the test's kubelet, not on nodemeta.
 */
const MIN_AVAILABLE = REPLICAS - 2;
/**
 * A Preempt scheduled while the API server is away is cordoned within this long once the server is
 * ready again. Its agent retries an urgent write within 5 s windows (URGENT_MAX_API_BACKOFF_MS in
 * src/agent/node-agent.ts, docs/reliability.md), the leader then cordons in about a second (measured
 * 0.9 to 5.5 s in all); without the urgent window the agent's next retry falls anywhere in a window
 * of up to 30 s, as the Reboot's nodes show (16 to 28 s). 12 s leaves room for a busy machine and
 * still tells the two apart.
 */
const PREEMPT_CORDON_BOUND_MS = 12_000;
/** The labels a node's topology gives: they must never go or change while the control plane fails. */
const TOPOLOGY_LABELS = [Labels.provider, Labels.region, Labels.zone, Labels.faultDomain, Labels.updateDomain, Labels.instanceType, Labels.priority];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const recoveries: string[] = [];
function report(line: string): void {
  recoveries.push(line);
  console.log(`[fault] ${line}`);
}

beforeAll(async () => {
  assertFaultsAllowed();
  await installCrd();
});

/** Watches a scenario started outside its Scenario: stopped after each test. */
const watches: Recorder<RawNode>[] = [];
/** What the scenarios stop; whatever one of them left stopped (it threw) is started again after it. */
const faults = new ControlPlaneFaults();
afterEach(async () => {
  for (const watch of watches.splice(0)) watch.stop();
  const revived = await faults.reviveAll();
  if (revived.length > 0) console.log(`[fault] started again after a scenario that left them stopped: ${revived.join(', ')}`);
});

afterAll(() => {
  if (recoveries.length > 0) console.log(`[fault] summary:\n${recoveries.map((line) => `  ${line}`).join('\n')}`);
});

interface World {
  /** Epoch ms when the scenario's world began (the audit log is read from then on). */
  startedAt: number;
  nodes: string[];
  nmd: Recorder<RawNodeMetadata>;
  pods: Recorder<RawPod>;
  nodeWatch: Recorder<RawNode>;
}

/**
 * `count` managed Azure nodes with their agents, a spare node, two controller replicas (one drain
 * at a time), and a Deployment of 6 pods spread over the managed nodes under a PDB of
 * minAvailable 4. With `hold`, every pod carries a finalizer: an evicted pod stays Terminating
 * until the test lets it go, so a drain stays in its middle for as long as the test needs.
 */
async function world(s: Scenario, count: number, hold: boolean): Promise<World> {
  const startedAt = Date.now();
  const nodes = Array.from({ length: count }, (_, i) => s.azureNode(i));
  const nodeWatch = await Recorder.start<RawNode>('/api/v1/nodes', { labelSelector: `${MANAGED_LABEL}=${s.id}` });
  watches.push(nodeWatch);
  const nmd = await s.managedVms('azure', nodes);
  await s.deployment('web', { replicas: REPLICAS, nodes, ...(hold ? { finalizers: [HOLD] } : {}) });
  const placed = await s.runningPods('web', REPLICAS, nodes);
  await s.pdb('web', { minAvailable: MIN_AVAILABLE });
  // Replacements go to the spare node, created only now that every pod sits on a managed node.
  await s.spareNode();
  // The node with the most pods first: the scenarios drain it.
  const podsOf = (node: string) => placed.filter((pod) => pod.node === node).length;
  nodes.sort((a, b) => podsOf(b) - podsOf(a));
  const pods = await s.watchPods();
  const config = controllerConfig({ drain: { maxConcurrentDrains: 1, maxGracePeriod: '5s', evictionTimeout: '10m' } });
  await s.startController(config, 'a');
  await s.startController(config, 'b');
  await s.ready(nmd, nodes);
  return { startedAt, nodes, nmd, pods, nodeWatch };
}

/** The pods on `node` now. */
function podsOn(pods: Recorder<RawPod>, node: string): RawPod[] {
  return [...pods.state.values()].filter((pod) => pod.spec?.nodeName === node);
}

/** Waits until `node` is Draining with at least one of its pods evicted and held Terminating. */
async function midDrain(w: World, node: string): Promise<void> {
  await w.nmd.until(`${node} Draining`, (state) => phaseOf(state.get(node)) === 'Draining');
  await w.pods.until(`a pod of ${node} evicted and held`, () => podsOn(w.pods, node).some(isTerminating));
}

/** What must hold at the end of every scenario, over everything the watches and the audit log saw; `drained`: the nodes the scenario drained. */
async function expectUnharmed(s: Scenario, w: World, drained: readonly string[]): Promise<void> {
  for (const recorder of [w.nmd, w.pods, w.nodeWatch]) recorder.expectComplete();

  // No topology label removed or changed, at any moment, on any node (from when it was first labelled).
  const firstSeen = new Map<string, Record<string, string>>();
  w.nodeWatch.replay((state) => {
    for (const [name, node] of state) {
      const labels = node.metadata.labels ?? {};
      const topology = Object.fromEntries(TOPOLOGY_LABELS.filter((key) => labels[key] !== undefined).map((key) => [key, labels[key]!]));
      const first = firstSeen.get(name);
      if (first !== undefined) expect({ node: name, labels: topology }).toEqual({ node: name, labels: first });
      else if (topology[Labels.zone] !== undefined && topology[Labels.instanceType] !== undefined) firstSeen.set(name, topology);
    }
  });
  for (const node of w.nodes) expect(firstSeen.has(node)).toBe(true);

  // Never below the budget through nodemeta, from the moment every pod was there: pods not on
  // their way out. (Not Ready pods: after an outage the node-lifecycle controller marks every pod
  // of a node whose heartbeats it missed NotReady for a moment, which is the cluster's doing.)
  // The watch must have seen every replica first, or there is nothing to compare.
  let armed = false;
  let minimum = Infinity;
  w.pods.replay((state) => {
    const available = [...state.values()].filter((pod) => pod.metadata.labels?.app === 'web' && pod.status?.phase === 'Running' && !isTerminating(pod)).length;
    if (available >= REPLICAS) armed = true;
    if (armed) minimum = Math.min(minimum, available);
  });
  expect(armed ? 'armed' : `the pod watch never saw ${REPLICAS} pods Running`).toBe('armed');
  expect(minimum).toBeGreaterThanOrEqual(MIN_AVAILABLE);

  // No pod evicted twice, by either replica, in any term: per the API server, exactly one accepted
  // eviction (201) per pod; those are the pods the watch saw go, and they include every pod the
  // drained nodes had.
  const audit = auditLog();
  const users = s.controllers.map((c) => c.user);
  const evictions = audit.evictionsByPod(w.startedAt, { user: users, namespace: s.namespace });
  expect([...evictions].filter(([, accepted]) => accepted.length !== 1).map(([pod, accepted]) => ({ pod, accepted: describeAudit(accepted) }))).toEqual([]);
  const wentTerminating = [...new Set(w.pods.history.filter((e) => isTerminating(e.object)).map((e) => `${s.namespace}/${e.object.metadata.name}`))].sort();
  expect([...evictions.keys()].sort()).toEqual(wentTerminating);
  for (const node of drained) for (const pod of originalPodsOn(w, node)) expect({ pod, evicted: evictions.has(`${s.namespace}/${pod}`) }).toEqual({ pod, evicted: true });

  // The Node writes of a drain stay few, per the API server.
  s.expectNodeWritesBounded(drained, w.startedAt);

  // No node left cordoned or tainted by nodemeta.
  for (const node of w.nodes) {
    const after = await waitFor(`${node} uncordoned and untainted`, async () => {
      const n = await readNode(node);
      return n.spec?.unschedulable !== true && nodemetaTaints(n).length === 0 ? n : undefined;
    });
    expect(after.metadata?.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();
  }

  // Every process recovered by itself: none exited.
  for (const c of s.controllers) expect({ controller: c.identity, exitCode: c.child.exitCode, signal: c.child.signalCode }).toEqual({ controller: c.identity, exitCode: null, signal: null });
  for (const a of s.agents) expect({ agent: a.node, exitCode: a.child.exitCode, signal: a.child.signalCode }).toEqual({ agent: a.node, exitCode: null, signal: null });
}

/** Waits until every one of `nodes` carries nodemeta's cordon for `eventId`; returns when (epoch ms). */
function cordonedBy(nodes: readonly string[], eventId: string): Promise<number> {
  return waitFor(
    `${nodes.join(', ')} cordoned for ${eventId}`,
    async () => {
      for (const node of nodes) if ((await readNode(node)).metadata?.annotations?.[CORDONED_ANNOTATION] !== eventId) return undefined;
      return Date.now();
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** Lets held pods go until `node` is Drained or later; returns when. */
async function finishDrain(s: Scenario, w: World, node: string): Promise<number> {
  return waitFor(
    `${node} drained`,
    async () => {
      await s.releaseTerminatingPods();
      const phase = phaseOf(w.nmd.state.get(node));
      return phase === 'Drained' || phase === 'Approved' ? Date.now() : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

/** The event is approved, the platform runs it and ends it; the node comes back. */
async function completeEvent(s: Scenario, w: World, node: string, eventId: string): Promise<void> {
  await w.nmd.until(`${node} Approved`, (state) => phaseOf(state.get(node)) === 'Approved', 120_000);
  await s.control('DELETE', `/events/${eventId}`);
  await w.nmd.until(`${node} Completed`, (state) => phaseOf(state.get(node)) === 'Completed', 60_000);
}

/** How many times each controller started again in its own process (a lost lease). */
function restartsInProcess(s: Scenario): string {
  return s.controllers.map((c) => `${c.identity}: ${c.logs.filter((line) => line.includes('starting again in this process')).length}`).join(', ');
}

/** The first `retryInMs` each agent logged for a failed write after `since` (epoch ms). */
function firstRetries(s: Scenario, since: number): number[] {
  const firsts: number[] = [];
  for (const agent of s.agents) {
    for (const line of agent.logs) {
      if (!line.includes('will retry')) continue;
      const entry = JSON.parse(line) as { timestamp?: string; retryInMs?: number };
      const at = Date.parse(entry.timestamp ?? '');
      if (entry.retryInMs === undefined || !(at >= since)) continue;
      firsts.push(entry.retryInMs);
      break;
    }
  }
  return firsts;
}

describe('control-plane faults', () => {
  test(
    'kube-apiserver killed in the middle of a drain, started again 20 s later with the same flags',
    () =>
      withScenario('apikill', async (s) => {
        const w = await world(s, 6, true);
        // One node drains; three get a Preempt during the outage (each agent's retries are one draw of
        // jitter: three make the bound a test of the urgent window, not of luck); two get a Reboot.
        const [draining, ...rest] = w.nodes as [string, ...string[]];
        const preempted = rest.slice(0, 3);
        const others = rest.slice(3);
        const eventId = await s.postEvent({ type: 'Reboot', resources: [draining], lifecycle: 'manual' });
        await midDrain(w, draining);

        const killed = await faults.kill('kube-apiserver');
        // While it is away the platform schedules an event for the other VMs: their agents see it and
        // fail to write it, and retry (spread: each draws its own delay).
        const second = await s.postEvent({ type: 'Reboot', resources: others, lifecycle: 'manual', notBefore: '+30m' });
        // ...and a Preempt for three more: an urgent write (due within 5 min), retried within 5 s
        // windows. Due in 3 min, not the usual 30 s: the three nodes are cordoned, not drained, so
        // the budget of the one drain under way holds (three forced drains at once would not).
        const preempt = await s.postEvent({ type: 'Preempt', resources: preempted, lifecycle: 'manual', notBefore: '+3m' });
        await sleep(20_000 - (Date.now() - killed.killedAt));
        await killed.start();
        await apiServerReady();
        const back = Date.now();
        report(`kube-apiserver killed mid-drain: down ${seconds(back - killed.killedAt)} (20 s off, then its start)`);

        // The events posted during the outage reach the cluster: every other node cordoned.
        const preemptCordoned = cordonedBy(preempted, preempt);
        preemptCordoned.catch(() => undefined); // awaited below; a failure is reported there
        const cordoned = await cordonedBy(others, second);
        const preemptAfter = (await preemptCordoned) - back;
        report(`kube-apiserver killed mid-drain: the Preempt of the outage cordoned its ${preempted.length} nodes ${seconds(preemptAfter)} after the API server was ready`);
        const retries = firstRetries(s, killed.killedAt);
        report(`kube-apiserver killed mid-drain: the event of the outage cordoned its ${others.length} nodes ${seconds(cordoned - back)} after the API server was ready; agents' first retries ${retries.join(', ')} ms; controller restarts in process ${restartsInProcess(s)}`);
        // Full jitter: the agents that failed together do not retry together.
        expect(retries.length).toBeGreaterThanOrEqual(2);
        expect(new Set(retries).size).toBeGreaterThan(1);
        // The urgent write went first: its node cordoned within the urgent retry window's bound.
        expect({ preemptCordonedAfterMs: preemptAfter <= PREEMPT_CORDON_BOUND_MS ? 'within the bound' : preemptAfter }).toEqual({ preemptCordonedAfterMs: 'within the bound' });

        // The platform cancels the second event and the Preempt; the drain in progress goes on and ends.
        await s.control('DELETE', `/events/${second}`);
        await s.control('DELETE', `/events/${preempt}`);
        const drained = await finishDrain(s, w, draining);
        report(`kube-apiserver killed mid-drain: ${draining} drained ${seconds(drained - back)} after the API server was ready`);
        await completeEvent(s, w, draining, eventId);
        expect(maintenanceOf(w.nmd.state.get(draining))).toMatchObject({ eventId, evictedPods: podsOnAtStart(w, draining) });
        await expectUnharmed(s, w, [draining]);
      }),
    SCENARIO_TIMEOUT,
  );

  test(
    'kube-apiserver paused (SIGSTOP) for 20 s while an event is pending, then resumed',
    () =>
      withScenario('apipause', async (s) => {
        const w = await world(s, 3, false);
        const node = w.nodes[0]!;
        const resume = faults.pause('kube-apiserver');
        const pausedAt = Date.now();
        let eventId: string;
        try {
          eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          // Past the controllers' renew deadline (10 s) and their Lease's duration (15 s): the leader
          // stops its work, and nobody holds the Lease when the server comes back.
          await sleep(20_000);
        } finally {
          resume();
        }
        const resumedAt = Date.now();
        report(`kube-apiserver paused ${seconds(resumedAt - pausedAt)}`);
        const cordonedAt = await cordonedBy([node], eventId!);
        report(`kube-apiserver paused: ${node} cordoned ${seconds(cordonedAt - resumedAt)} after the resume; controller restarts in process ${restartsInProcess(s)}`);
        await completeEvent(s, w, node, eventId);
        await expectUnharmed(s, w, [node]);
      }),
    SCENARIO_TIMEOUT,
  );

  test(
    'etcd restarted while nothing happens, and again in the middle of a drain',
    () =>
      withScenario('etcd', async (s) => {
        const w = await world(s, 3, true);
        const node = w.nodes[0]!;

        // Idle: etcd goes and comes straight back.
        const idle = await faults.kill('etcd');
        await idle.start();
        await apiServerReady();
        const idleBack = Date.now();
        // Something still flows: a maintenance event reaches its node.
        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        await midDrain(w, node);
        report(`etcd restarted while idle: API server ready ${seconds(idleBack - idle.killedAt)} after the kill; a new event's drain started ${seconds(Date.now() - idleBack)} after that`);

        // In the middle of the drain: etcd away for 5 s.
        const during = await faults.kill('etcd');
        await sleep(5_000);
        await during.start();
        await apiServerReady();
        const back = Date.now();
        const drained = await finishDrain(s, w, node);
        report(`etcd restarted mid-drain: API server ready ${seconds(back - during.killedAt)} after the kill; ${node} drained ${seconds(drained - back)} after that; controller restarts in process ${restartsInProcess(s)}`);
        await completeEvent(s, w, node, eventId);
        expect(maintenanceOf(w.nmd.state.get(node))).toMatchObject({ eventId, evictedPods: podsOnAtStart(w, node) });
        await expectUnharmed(s, w, [node]);
      }),
    SCENARIO_TIMEOUT,
  );
});

/** The `web` pods on `node` when the pod watch started (each must be evicted once), by name. */
function originalPodsOn(w: World, node: string): string[] {
  const first = new Map<string, RawPod>();
  for (const entry of w.pods.history) if (!first.has(entry.object.metadata.name)) first.set(entry.object.metadata.name, entry.object);
  return [...first.values()].filter((pod) => pod.metadata.labels?.app === 'web' && pod.spec?.nodeName === node && !isTerminating(pod)).map((pod) => pod.metadata.name);
}

/** How many `web` pods were on `node` when the pod watch started. */
function podsOnAtStart(w: World, node: string): number {
  return originalPodsOn(w, node).length;
}
