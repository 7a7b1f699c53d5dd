// drain.loadBalancerDrainDelay end to end (issue 19, "Load balancers first"; docs/maintenance.md):
// after the node is labelled node.kubernetes.io/exclude-from-external-load-balancers, its first
// eviction waits the delay, and a short notice is not delayed past the moment the drain must start.
// The witnesses are the test's own watches of the Node, the pods and the NodeMetadata (when the label
// appeared, when the first pod began to leave), never the controller's logs. Real parts: the API
// server, kwok, the agents against their emulated VMs, the controller process.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../src/api/names.js';
import { installCrd } from './controller-harness.js';
import { controllerConfig, isoIn, isTerminating, maintenanceOf, phaseOf, withScenario, type RawNode, type RawPod, type Recorder, type Scenario } from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 240_000;
/** Small, so the test is quick; long enough to stand out from a reconcile's latency. */
const DELAY_MS = 15_000;
/** The drain's deadline rule (state-machine.ts drainForcedAt): maxGracePeriod 5s + GRACE_MARGIN_MS 10s before NotBefore. */
const MAX_GRACE_MS = 5_000;
const GRACE_MARGIN_MS = 10_000;

beforeAll(async () => {
  await installCrd();
});

/** When the test's watch first saw the node carry the exclusion label (epoch ms), from its history. */
function labelSeenAt(node: Recorder<RawNode>): number | undefined {
  return node.history.find((entry) => entry.type !== 'DELETED' && entry.object.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] !== undefined)?.at;
}

/** When the test's watch first saw one of `uids` leave (deletionTimestamp set, or deleted), from its history. */
function firstLeaveSeenAt(pods: Recorder<RawPod>, uids: ReadonlySet<string>): number | undefined {
  return pods.history.find((entry) => uids.has(entry.object.metadata.uid ?? '') && (isTerminating(entry.object) || entry.type === 'DELETED'))?.at;
}

async function drainScenario(s: Scenario, replicas: number) {
  const node = s.azureNode(0);
  const nmd = await s.managedVms('azure', [node]);
  await s.deployment('web', { replicas, nodes: [node] });
  const running = await s.runningPods('web', replicas, [node]);
  await s.spareNode();
  const pods = await s.watchPods();
  const nodeWatch = await s.watchNode(node);
  return { node, nmd, pods, nodeWatch, uids: new Set(running.map((pod) => pod.uid)) };
}

describe('load balancers first: drain.loadBalancerDrainDelay', () => {
  test.concurrent(
    'Reboot: the first eviction comes no sooner than the delay after the exclusion label appeared; the status says it waits',
    () =>
      withScenario('lbwait', async (s) => {
        const { node, nmd, pods, nodeWatch, uids } = await drainScenario(s, 2);
        await s.startController(controllerConfig({ drain: { maxConcurrentDrains: '100%', maxGracePeriod: '5s', evictionTimeout: '5m', loadBalancerDrainDelay: `${DELAY_MS / 1000}s` } }));
        await s.ready(nmd, [node]);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        // While it waits: phase Draining, the wait's end in status, Drained=False WaitingForLoadBalancers.
        const waiting = await nmd.until('Draining, waiting for the load balancers', (state) => {
          const object = state.get(node);
          return maintenanceOf(object)?.phase === 'Draining' && maintenanceOf(object)?.loadBalancerDrainUntil !== undefined ? object!.status : undefined;
        });
        expect(waiting.maintenance).toMatchObject({ eventId, excludedTime: expect.any(String), pendingPods: 2 });
        expect(Date.parse(waiting.maintenance!.loadBalancerDrainUntil!) - Date.parse(waiting.maintenance!.excludedTime!)).toBe(DELAY_MS);
        expect(waiting.conditions?.find((c) => c.type === 'Drained')).toMatchObject({ status: 'False', reason: 'WaitingForLoadBalancers' });

        await nmd.until('phase Drained', (state) => ['Drained', 'Approved'].includes(phaseOf(state.get(node))), 120_000);
        pods.expectComplete();
        nodeWatch.expectComplete();
        const labelled = labelSeenAt(nodeWatch);
        const firstLeave = firstLeaveSeenAt(pods, uids);
        expect(labelled).toBeDefined();
        expect(firstLeave).toBeDefined();
        console.log(`[lbwait] exclusion label seen, first pod leaving seen ${((firstLeave! - labelled!) / 1000).toFixed(1)} s later (drain.loadBalancerDrainDelay ${DELAY_MS / 1000} s)`);
        expect(firstLeave! - labelled!).toBeGreaterThanOrEqual(DELAY_MS);
        // The node still carries the label (nodemeta gives it back when the maintenance is over).
        expect(nodeWatch.state.get(node)?.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBe('true');
        const events = await s.expectEvents(node, ['DrainStarted', 'Drained']);
        expect(events.find((e) => e.reason === 'DrainStarted')?.message).toContain('the load balancers let go of the node until');
        expect(events.some((e) => e.reason === 'LoadBalancerDrainCut')).toBe(false);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    'Preempt with 30 s notice: the wait ends where the drain must start (NotBefore - maxGracePeriod - 10 s), with one LoadBalancerDrainCut Event',
    () =>
      withScenario('lbcut', async (s) => {
        const { node, nmd, pods, nodeWatch, uids } = await drainScenario(s, 2);
        // A delay far longer than the notice: uncut, the first eviction would come after NotBefore.
        const delayMs = 120_000;
        await s.startController(controllerConfig({ drain: { maxConcurrentDrains: '100%', maxGracePeriod: `${MAX_GRACE_MS / 1000}s`, evictionTimeout: '5m', loadBalancerDrainDelay: `${delayMs / 1000}s` } }));
        await s.ready(nmd, [node]);

        const notBefore = isoIn(30_000);
        const mustStartBy = Date.parse(notBefore) - MAX_GRACE_MS - GRACE_MARGIN_MS;
        await s.postEvent({ type: 'Preempt', resources: [node], notBefore, lifecycle: 'manual' });
        // The drain starts at once (a Preempt is acted on when seen); whatever wait the status shows
        // ends no later than the drain's deadline, not 2 min after the label.
        const started = await nmd.until('phase Draining', (state) => (['Draining', 'Drained', 'Approved'].includes(phaseOf(state.get(node))) ? maintenanceOf(state.get(node)) : undefined));
        if (started.loadBalancerDrainUntil !== undefined) expect(Date.parse(started.loadBalancerDrainUntil)).toBeLessThanOrEqual(mustStartBy);
        await nmd.until('phase Drained', (state) => ['Drained', 'Approved'].includes(phaseOf(state.get(node))), 120_000);
        nmd.expectComplete();
        pods.expectComplete();
        nodeWatch.expectComplete();
        const untils = new Set(nmd.history.map((entry) => maintenanceOf(entry.object)?.loadBalancerDrainUntil).filter((until) => until !== undefined));
        for (const until of untils) expect(Date.parse(until)).toBeLessThanOrEqual(mustStartBy);
        const labelled = labelSeenAt(nodeWatch);
        const firstLeave = firstLeaveSeenAt(pods, uids);
        expect(labelled).toBeDefined();
        expect(firstLeave).toBeDefined();
        console.log(`[lbcut] first pod leaving seen ${((firstLeave! - labelled!) / 1000).toFixed(1)} s after the label, ${((Date.parse(notBefore) - firstLeave!) / 1000).toFixed(1)} s before NotBefore; waits shown: ${[...untils].join(', ') || 'none'}`);
        // Not delayed by the full wait (it would have ended 2 min after the label).
        expect(firstLeave! - labelled!).toBeLessThan(delayMs);
        const events = await s.expectEvents(node, ['DrainStarted', 'LoadBalancerDrainCut', 'Drained']);
        const cut = events.filter((e) => e.reason === 'LoadBalancerDrainCut');
        expect(cut).toHaveLength(1);
        expect(cut[0]).toMatchObject({ type: 'Warning', count: 1 });
        expect(cut[0]!.message).toContain(`to end before NotBefore ${notBefore}`);
      }),
    SCENARIO_TIMEOUT,
  );
});
