// Issue 9 end to end: a maintenance wave at a size that fits CI. 40 kwok nodes of the test's own, 20
// of them in the wave, two pods of one Deployment on every node under a PodDisruptionBudget, and a
// spot eviction (Preempt, NotBefore a minute ahead) announced to the 20 wave VMs at once. Every
// node's agent is played in this process through the agent's own code (played-azure-agent.ts), so
// the 20 statuses are written at one moment, concurrently, as 20 agents would when the platform
// announces the wave; the controller, the API server, the controller-manager (ReplicaSets, PDB
// status), the scheduler and kwok are the real ones.
//
// What a wave must never do (docs/scaling.md, issue 9 "Tests"), one test each:
//   1. evict before every wave node is cordoned and tainted,
//   2. evict a pod twice, or let a pod be scheduled onto a wave node,
//   3. take the Deployment below its PodDisruptionBudget,
//   4. keep a node out of service once the events are over.
// The scenario runs once (beforeAll) with watches on the Nodes, the pods, the PDB and the
// NodeMetadata from before the wave to the end; each test then checks its rule over the whole
// recorded history, so one broken rule does not hide the others.
//
// The cluster's six shared nodes take no part: the controller selects only this test's nodes and the
// pods may run only there, so the pod counts per node are exact and no other test's pods are drained.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AppsV1Api } from '@kubernetes/client-node';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Labels, Taints } from '../../src/api/names.js';
import { createNode, deleteNode, installCrd, nodemetaTaints, readNode, readNodeMetadataStatus } from './controller-harness.js';
import { clusterDir, kubeConfig } from './lib/cluster.js';
import {
  CORDONED_ANNOTATION,
  MANAGED_LABEL,
  Recorder,
  Scenario,
  isReady,
  isTerminating,
  maintenanceOf,
  phaseOf,
  type RawNode,
  type RawNodeMetadata,
  type RawObject,
  type RawPod,
  type WatchEntry,
} from './maintenance-harness.js';
import { PlayedAzureAgent, azureSpotCompute, azureVmNameOf, preemptEvent, startedEvent, type AzureScheduledEventDocument } from './played-azure-agent.js';

const WAVE_NODES = 20;
const OTHER_NODES = 20;
const PODS_PER_NODE = 2;
const REPLICAS = (WAVE_NODES + OTHER_NODES) * PODS_PER_NODE;
/** What the PDB lets go at once: a tenth of the wave's 40 pods, so that it holds the drains back. */
const DISRUPTIONS_ALLOWED = 4;
const MIN_AVAILABLE = REPLICAS - DISRUPTIONS_ALLOWED;
/** A spot eviction's notice is about 30 s; a minute leaves the loaded CI machine room to drain. */
const NOTICE_MS = 60_000;
const APP = 'web';
/** `wave` or `other`: for people reading the cluster while the test runs. */
const ROLE_LABEL = 'nodemeta-e2e-wave-role';

// Drains of the whole wave at once, so that evictions compete with the cordons; short timings.
// approve AfterDrain (the default, spelled out): the played agents approve what the controller asks
// for, so each event ends as a real one does (approved, started, gone), not as a cancellation.
const CONTROLLER_CONFIG = `
drain:
  maxConcurrentDrains: 100%
  maxGracePeriod: 5s
  evictionTimeout: 5m
  # Evictions start once the wave's cordons have been quiet this long. The 20 statuses are written
  # at once, but a loaded 2-core CI machine may spread their arrival over seconds: 5s, not the 2s default.
  waveSettleTime: 5s
  # No load balancer in these clusters: the wait before the first eviction (60 s by default) is
  # load-balancer-drain.test.ts's subject.
  loadBalancerDrainDelay: 0s
approve: AfterDrain
`;

const s = new Scenario('wave');
const waveNodes = Array.from({ length: WAVE_NODES }, (_, i) => s.azureNode(i));
const otherNodes = Array.from({ length: OTHER_NODES }, (_, i) => s.azureNode(WAVE_NODES + i));
const allNodes = [...waveNodes, ...otherNodes];
const agents = new Map<string, PlayedAzureAgent>();
const events = new Map<string, AzureScheduledEventDocument>();

interface RawPdb extends RawObject {
  status?: { currentHealthy?: number; desiredHealthy?: number; disruptionsAllowed?: number };
}

/** What beforeAll recorded; the tests read it. */
const wave = {
  nodes: undefined as Recorder<RawNode> | undefined,
  pods: undefined as Recorder<RawPod> | undefined,
  pdb: undefined as Recorder<RawPdb> | undefined,
  nodeMetadata: undefined as Recorder<RawNodeMetadata> | undefined,
  /** Pod uid → its node, for the pods there before the wave. */
  initialPods: new Map<string, { name: string; node: string }>(),
  startedAt: 0,
  /** Why the wave did not run to its end (drained, approved, events gone, nodes back), if it did not. */
  completion: undefined as unknown,
};

beforeAll(async () => {
  await installCrd();
  await s.setUp();
  await Promise.all(allNodes.map((node) => createNode(node, { [MANAGED_LABEL]: s.id, [ROLE_LABEL]: waveNodes.includes(node) ? 'wave' : 'other' })));
  // Every node's agent publishes its VM, no event yet. All 40 have NodeMetadata, as in a cluster where
  // the agent runs everywhere: the controller labels them all before the wave (so the wave does not
  // meet the cold start), and the wave is half of the nodes it manages, not all of them.
  await Promise.all(
    allNodes.map(async (node, i) => {
      const agent = await PlayedAzureAgent.start(node, azureSpotCompute(azureVmNameOf(node), i));
      agents.set(node, agent);
      await agent.publish([]);
    }),
  );

  await createSpreadDeployment();
  const initial = await s.runningPods(APP, REPLICAS, allNodes);
  const perNode = new Map(allNodes.map((node) => [node, initial.filter((pod) => pod.node === node).length]));
  if ([...perNode.values()].some((count) => count !== PODS_PER_NODE)) {
    throw new Error(`precondition: expected ${PODS_PER_NODE} pods on every node, got ${JSON.stringify(Object.fromEntries(perNode))}`);
  }
  for (const pod of initial) wave.initialPods.set(pod.uid, { name: pod.name, node: pod.node });
  await s.pdb(APP, { minAvailable: MIN_AVAILABLE });

  // The watches start before the controller: they see every change it makes.
  wave.pods = await s.watchPods();
  wave.nodes = await Recorder.start<RawNode>('/api/v1/nodes', { labelSelector: `${MANAGED_LABEL}=${s.id}` });
  wave.pdb = await Recorder.start<RawPdb>(`/apis/policy/v1/namespaces/${s.namespace}/poddisruptionbudgets`);
  const nodeMetadata = (wave.nodeMetadata = await s.watchNodeMetadata(allNodes));
  const nodes = wave.nodes;
  await s.startController(CONTROLLER_CONFIG);
  await s.ready(nodeMetadata, allNodes);
  await nodes.until('every node labelled by the controller', (state) => allNodes.every((node) => state.get(node)?.metadata.labels?.[Labels.faultDomain] !== undefined), 90_000);

  // The wave: the platform announces a spot eviction to 20 VMs, and their 20 agents write it at once.
  const notBefore = Date.now() + NOTICE_MS;
  for (const node of waveNodes) events.set(node, preemptEvent(agentOf(node).vmName, notBefore));
  wave.startedAt = Date.now();
  await Promise.all(waveNodes.map((node) => agentOf(node).publish([events.get(node)!])));
  wave.completion = await finishWave(nodeMetadata, nodes).then(
    () => undefined,
    (error: unknown) => error,
  );
  for (const recorder of [wave.nodes, wave.pods, wave.pdb, wave.nodeMetadata]) recorder.stop();
  const metrics = await s.controllers[0]!.metrics().catch((error: unknown) => String(error));
  console.log(timeline(metrics).join('\n'));
}, 420_000);

afterAll(async () => {
  wave.nodes?.stop();
  wave.pdb?.stop();
  await Promise.all([...agents.values()].map((agent) => agent.close()));
  keepWatches();
  // Controllers killed, the namespace deleted while the nodes still exist (kwok confirms the pods'
  // deletion), the logs kept; then the nodes, whose NodeMetadata the garbage collector takes along.
  await s.tearDown();
  await Promise.all(allNodes.map((node) => deleteNode(node).catch(() => undefined)));
}, 120_000);

/**
 * What follows the drains, as the agents and the platform do it: the controller asks each wave node's
 * agent to approve its event once the node is drained; the agent approves (StartRequests) and the
 * platform starts the event; then the event is over and leaves the metadata service, and the
 * controller gives the node back.
 */
async function finishWave(nodeMetadata: Recorder<RawNodeMetadata>, nodes: Recorder<RawNode>): Promise<void> {
  await nodeMetadata.until(
    'every wave node drained and its approval asked for',
    (state) => waveNodes.every((node) => maintenanceOf(state.get(node))?.approve === events.get(node)!.EventId),
    240_000,
  );
  await Promise.all(
    waveNodes.map((node) => {
      const event = events.get(node)!;
      agentOf(node).approved(event.EventId);
      return agentOf(node).publish([startedEvent(event)]);
    }),
  );
  await nodeMetadata.until('every wave node Approved', (state) => waveNodes.every((node) => phaseOf(state.get(node)) === 'Approved'));
  await Promise.all(waveNodes.map((node) => agentOf(node).publish([])));
  await nodeMetadata.until('every wave node Completed', (state) => waveNodes.every((node) => phaseOf(state.get(node)) === 'Completed'));
  await nodes.until('every node schedulable, without nodemeta taints or cordon annotation', (state) => allNodes.every((node) => inService(state.get(node))));
}

describe(`a maintenance wave: a Preempt on ${WAVE_NODES} of ${WAVE_NODES + OTHER_NODES} nodes, ${REPLICAS} pods under a PDB of minAvailable ${MIN_AVAILABLE}`, () => {
  test('1. every wave node is cordoned and tainted before the first eviction on any of them', () => {
    // Can fail: a controller that cordons and drains node by node evicts from the first nodes while
    // later ones are still schedulable; they are then listed here. nodemeta before its cordon fast
    // path (one reconcile per node did labels, taints, cordon and evictions, four workers) failed
    // this way, with 16 of the 20 nodes not yet cordoned at the first eviction.
    const { nodes, pods } = recorded();
    const first = firstEviction(pods.history);
    expect(first === undefined ? 'no eviction on a wave node was seen' : 'evicted').toBe('evicted');
    const notReady = waveNodes.filter((node) => !cordonedAndTainted(stateAsOf(nodes.history, node, revisionOf(first!))));
    expect({ firstEviction: describeEntry(first!), notCordonedAndTainted: notReady }).toEqual({ firstEviction: describeEntry(first!), notCordonedAndTainted: [] });
  });

  test('2. no pod is evicted twice: no pod created during the wave is bound to a wave node, and each pod is evicted once', () => {
    // Can fail: the replacement of a pod evicted from an early wave node may be bound by the scheduler
    // to a wave node that is not cordoned yet, and is evicted again from there (the issue measured 96
    // such re-evictions in a wave of 500); and a controller that repeats an accepted eviction, or
    // evicts beyond the wave, logs evictions this check counts.
    const { pods } = recorded();
    const bound = new Map<string, string>();
    for (const entry of pods.history) {
      const node = entry.object.spec?.nodeName ?? '';
      if (!wave.initialPods.has(entry.object.metadata.uid ?? '') && waveNodes.includes(node)) bound.set(entry.object.metadata.name, `${node} at +${entry.at - wave.startedAt} ms`);
    }
    expect(Object.fromEntries(bound)).toEqual({});

    const ours = `${s.namespace}/`;
    const evicted = Object.fromEntries([...s.evictionsLogged()].filter(([pod]) => pod.startsWith(ours)));
    const expected = Object.fromEntries([...wave.initialPods.values()].filter((pod) => waveNodes.includes(pod.node)).map((pod) => [`${ours}${pod.name}`, 1]));
    expect(evicted).toEqual(expected);
    // And the API server saw each of them go (a log line alone does not prove the eviction).
    const gone = new Set(pods.history.filter((entry) => isTerminating(entry.object) || entry.type === 'DELETED').map((entry) => entry.object.metadata.uid));
    expect([...wave.initialPods].filter(([uid, pod]) => waveNodes.includes(pod.node) && !gone.has(uid)).map(([, pod]) => pod.name)).toEqual([]);
  });

  test(`3. the PodDisruptionBudget is never below its minimum: at no moment fewer than ${MIN_AVAILABLE} pods Ready`, () => {
    // Can fail: the wave has 40 pods to evict and the budget lets 4 go at once; a controller that
    // deletes pods instead of evicting them, or retries past the Eviction API's 429, takes the
    // Deployment below its minimum. Counted from the pod watch, not the PDB's status, which the
    // controller-manager computes after the fact.
    const { pods } = recorded();
    // The watch's first changes list the pods one by one: count from the moment all were there.
    let armed = false;
    let lowest = Infinity;
    let lowestAt = '';
    pods.replay((state, entry) => {
      const available = [...state.values()].filter((pod) => pod.metadata.labels?.app === APP && isReady(pod) && !isTerminating(pod)).length;
      armed ||= available >= REPLICAS;
      if (armed && available < lowest) {
        lowest = available;
        lowestAt = describeEntry(entry);
      }
    });
    expect(armed ? 'armed' : `never ${REPLICAS} pods Ready in the watch`).toBe('armed');
    expect(lowest >= MIN_AVAILABLE ? 'never below the minimum' : `${lowest} Ready after ${lowestAt}`).toBe('never below the minimum');
  });

  test('4. once the events are over, every node is back in service: uncordoned, no nodemeta taint or annotation, phase Completed', async () => {
    // Can fail: a controller that loses track of its cordon, leaves its taint, or never notices that
    // the events are gone leaves nodes out of service; finishWave then timed out naming what it
    // waited for, and the nodes are read again here.
    expect(wave.completion === undefined ? 'the wave ran to its end' : String(wave.completion)).toBe('the wave ran to its end');
    const outOfService: Record<string, string> = {};
    for (const name of allNodes) {
      const node = await readNode(name);
      const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
      const phase = (await readNodeMetadataStatus(name))?.maintenance?.phase ?? 'None';
      const wantedPhase = waveNodes.includes(name) ? 'Completed' : 'None';
      const problems = [
        ready ? '' : 'not Ready',
        node.spec?.unschedulable === true ? 'cordoned' : '',
        nodemetaTaints(node).length > 0 ? `taints ${JSON.stringify(nodemetaTaints(node))}` : '',
        node.metadata?.annotations?.[CORDONED_ANNOTATION] === undefined ? '' : 'cordon annotation',
        phase === wantedPhase ? '' : `phase ${phase}`,
      ].filter((problem) => problem !== '');
      if (problems.length > 0) outOfService[name] = problems.join(', ');
    }
    expect(outOfService).toEqual({});
  });
});

async function createSpreadDeployment(): Promise<void> {
  await kubeConfig()
    .makeApiClient(AppsV1Api)
    .createNamespacedDeployment({
      namespace: s.namespace,
      body: {
        metadata: { name: APP },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: APP } },
          template: {
            metadata: { labels: { app: APP } },
            spec: {
              affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: MANAGED_LABEL, operator: 'In', values: [s.id] }] }] } } },
              // maxSkew 1, DoNotSchedule: exactly two pods on each of the 40 nodes. nodeTaintsPolicy
              // Honor leaves nodes the pod cannot go to (the wave, once tainted) out of the skew, so
              // that replacements spread over the other nodes instead of waiting for drained ones; an
              // untainted wave node stays a place the scheduler may choose, which test 2 catches.
              topologySpreadConstraints: [
                { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: APP } }, nodeTaintsPolicy: 'Honor' },
              ],
              terminationGracePeriodSeconds: 5,
              containers: [{ name: 'app', image: 'registry.example/app:1' }],
            },
          },
        },
      },
    });
}

function agentOf(node: string): PlayedAzureAgent {
  const agent = agents.get(node);
  if (agent === undefined) throw new Error(`no agent for ${node}`);
  return agent;
}

function recorded(): { nodes: Recorder<RawNode>; pods: Recorder<RawPod> } {
  const { nodes, pods } = wave;
  if (nodes === undefined || pods === undefined) throw new Error('the wave did not run (see beforeAll)');
  nodes.expectComplete();
  pods.expectComplete();
  return { nodes, pods };
}

/**
 * The order in which the API server made two changes, of any resources: a resourceVersion is the
 * etcd revision of the write, and this cluster keeps Nodes and Pods in one etcd. The times the test
 * received them would not do: the two watches are separate streams and either may lag.
 */
function revisionOf(entry: WatchEntry<RawObject>): bigint {
  const version = entry.object.metadata.resourceVersion ?? '';
  if (!/^\d+$/.test(version)) throw new Error(`resourceVersion "${version}" of ${entry.object.metadata.name} is not an etcd revision`);
  return BigInt(version);
}

/** The first change that shows a pod on a wave node evicted (terminating, or gone at once). */
function firstEviction(history: readonly WatchEntry<RawPod>[]): WatchEntry<RawPod> | undefined {
  return history.find((entry) => waveNodes.includes(entry.object.spec?.nodeName ?? '') && (isTerminating(entry.object) || entry.type === 'DELETED'));
}

/** The node as it was just before the change at `revision`. */
function stateAsOf(history: readonly WatchEntry<RawNode>[], name: string, revision: bigint): RawNode | undefined {
  let state: RawNode | undefined;
  for (const entry of history) {
    if (entry.object.metadata.name !== name) continue;
    if (revisionOf(entry) >= revision) break;
    state = entry.type === 'DELETED' ? undefined : entry.object;
  }
  return state;
}

function cordonedAndTainted(node: RawNode | undefined): boolean {
  return node?.spec?.unschedulable === true && (node.spec.taints ?? []).some((taint) => taint.key === Taints.scheduledEvent && taint.effect === 'NoSchedule');
}

function inService(node: RawNode | undefined): boolean {
  return (
    node !== undefined &&
    node.spec?.unschedulable !== true &&
    !(node.spec?.taints ?? []).some((taint) => taint.key.startsWith('nodemeta.io/')) &&
    node.metadata.annotations?.[CORDONED_ANNOTATION] === undefined
  );
}

function describeEntry(entry: WatchEntry<RawPod>): string {
  const pod = entry.object;
  return `${entry.type} pod ${pod.metadata.name} on ${pod.spec?.nodeName ?? '(unbound)'}${isTerminating(pod) ? ' terminating' : ''} (revision ${pod.metadata.resourceVersion}, +${entry.at - wave.startedAt} ms)`;
}

/** What happened when, for people (printed; never asserted: the machine's speed varies). */
function timeline(metrics: string): string[] {
  const { nodes, pods, pdb, nodeMetadata } = wave;
  const since = (at: number | undefined) => (at === undefined ? 'never' : `+${at - wave.startedAt} ms`);
  const firstAt = <T extends RawObject>(history: readonly WatchEntry<T>[] | undefined, name: string, test: (object: T) => boolean) =>
    history?.find((entry) => entry.object.metadata.name === name && entry.at >= wave.startedAt && test(entry.object))?.at;
  const cordons = waveNodes.map((node) => firstAt(nodes?.history, node, (object) => cordonedAndTainted(object)));
  const lastCordon = cordons.includes(undefined) ? undefined : Math.max(...(cordons as number[]));
  const eviction = pods === undefined ? undefined : firstEviction(pods.history);
  const evictions = [...s.evictionsLogged().values()].reduce((sum, count) => sum + count, 0);
  const completed = waveNodes.map((node) => firstAt(nodeMetadata?.history, node, (object) => phaseOf(object) === 'Completed'));
  const lowestAllowed = Math.min(...(pdb?.history.map((entry) => entry.object.status?.disruptionsAllowed ?? Infinity) ?? []));
  return [
    `[wave] ${WAVE_NODES} Preempt statuses written at once, the wave started at ${new Date(wave.startedAt).toISOString()}`,
    `[wave] wave nodes cordoned and tainted: first ${since(Math.min(...cordons.filter((at) => at !== undefined)))}, last ${since(lastCordon)} (${cordons.filter((at) => at !== undefined).length}/${WAVE_NODES})`,
    `[wave] first eviction: ${eviction === undefined ? 'none' : describeEntry(eviction)}`,
    `[wave] evictions logged: ${evictions}; refused by the PDB: ${/^nodemeta_controller_evictions_total\{result="blocked"\} (\S+)$/m.exec(metrics)?.[1] ?? 0}; PDB disruptionsAllowed at its lowest: ${lowestAllowed}`,
    `[wave] every wave node Completed: ${since(completed.includes(undefined) ? undefined : Math.max(...(completed as number[])))}`,
    `[wave] ${wave.completion === undefined ? 'ran to its end' : `did not run to its end: ${String(wave.completion)}`}`,
  ];
}

/** The Node and PDB watches next to the scenario's own logs (kept with the cluster's logs, for people). */
function keepWatches(): void {
  try {
    const dir = path.join(clusterDir(), 'logs', 'maintenance', s.short);
    mkdirSync(dir, { recursive: true });
    const entries = [...(wave.nodes?.history ?? []), ...(wave.pdb?.history ?? [])].map((e) => JSON.stringify({ at: new Date(e.at).toISOString(), type: e.type, object: e.object }));
    writeFileSync(path.join(dir, 'wave-watches.jsonl'), `${entries.join('\n')}\n`);
  } catch {
    // best effort: logs are for people
  }
}
