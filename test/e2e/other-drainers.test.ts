// Issue 19 end to end: nodemeta shares the node with other controllers (docs/maintenance.md, "Other
// controllers on the node"). A small rival controller (lib/rival-drainer.ts) plays kured, a person
// who uncordons, the cluster autoscaler, with their own marks and evictions; Karpenter-managed nodes
// follow policy.nodeGroups. Real parts as in maintenance.test.ts; each scenario on nodes of its own,
// side by side (each counts only its own controller's writes and its own namespace's pods).
import { beforeAll, describe, expect, test } from '@jest/globals';
import { CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { KARPENTER_NODEPOOL_LABEL, OtherDrainerMarks } from '../../src/api/names.js';
import { installCrd, nodemetaTaints, readNode } from './controller-harness.js';
import { auditLog } from './lib/audit.js';
import { kubeConfig, waitFor } from './lib/cluster.js';
import { RivalDrainer } from './lib/rival-drainer.js';
import { CORDONED_ANNOTATION, controllerConfig, maintenanceOf, phaseOf, withScenario, type RawNode } from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 240_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const APPROVED_OR_LATER = ['Approved', 'Completed'];

beforeAll(async () => {
  await installCrd();
});

async function labelNode(name: string, labels: Record<string, string>): Promise<void> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .patchNode({ name, body: { metadata: { labels } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

const unschedulable = (node: RawNode | undefined): boolean => node?.spec?.unschedulable === true;

describe('other controllers on the node', () => {
  test.concurrent(
    'kured cordons and drains first, nodemeta\'s Reboot follows: no eviction by nodemeta, approval once empty, the cordon stays kured\'s',
    () =>
      withScenario('kured', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        await s.deployment('web', { replicas: 2, nodes: [node] });
        await s.runningPods('web', 2, [node]);
        await s.spareNode();
        const since = Date.now();
        await s.startController(controllerConfig());
        await s.ready(nmd, [node]);

        // kured takes its lock and cordons the node, before any event.
        const kured = new RivalDrainer('kured', node);
        await kured.mark();
        await kured.cordon();
        const idle = await nmd.until('otherDrainer kured reported on the idle node', (state) => (maintenanceOf(state.get(node))?.otherDrainer === 'kured' ? maintenanceOf(state.get(node)) : undefined));
        expect(idle.phase).toBe('None');

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        const draining = await nmd.until('Draining, kured named', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.phase === 'Draining' && m.otherDrainer === 'kured' ? m : undefined;
        });
        expect(draining).toMatchObject({ eventId, pendingPods: 2 });
        // Beyond the wave gate's wait (waveSettleTime, 2 s) and a first eviction retry: time for a
        // wrong eviction by nodemeta to show (it would take kured's pods from under it).
        await sleep(6_000);
        const evictionRequests = () => auditLog().events({ user: s.controllers.map((c) => c.user), resource: 'pods', subresource: 'eviction', since });
        expect(evictionRequests()).toEqual([]);
        // kured evicts its pods itself; nodemeta counts them go and then asks for the approval.
        expect(await kured.evictPods(s.namespace)).toHaveLength(2);
        const approved = await nmd.until('phase Approved', (state) => (phaseOf(state.get(node)) === 'Approved' ? maintenanceOf(state.get(node)) : undefined), 120_000);
        expect(approved).toMatchObject({ eventId, otherDrainer: 'kured', pendingPods: 0 });
        expect(s.evictionsLogged().size).toBe(0);
        expect(evictionRequests()).toEqual([]);
        // The cordon was kured's before the event: nodemeta never marked it as its own.
        expect((await readNode(node)).metadata?.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();

        await s.control('DELETE', `/events/${eventId}`);
        await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed');
        // The cordon is kured's: nodemeta did not record it, and does not lift it.
        const after = await readNode(node);
        expect(after.spec?.unschedulable).toBe(true);
        expect(after.metadata?.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();
        const events = await s.expectEvents(node, ['OtherDrainerActing', 'MaintenanceCompleted']);
        expect(events.find((e) => e.reason === 'OtherDrainerActing')?.message).toMatch(/kured .*does not evict/);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    'someone uncordons mid-drain, and again whenever the node is cordoned: nodemeta says so once and does not cordon back',
    () =>
      withScenario('uncordon', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        await s.deployment('web', { replicas: 2, nodes: [node] });
        await s.runningPods('web', 2, [node]);
        await s.spareNode();
        // No disruption allowed yet: the drain stays under way while the rival acts.
        await s.pdb('web', { maxUnavailable: 0 });
        const watched = await s.watchNode(node);
        const since = Date.now();
        await s.startController(controllerConfig());
        await s.ready(nmd, [node]);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        await nmd.until('the drain blocked by the PDB', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.phase === 'Draining' && (m.blockedPods ?? []).length > 0;
        });
        // The rival: a tool that uncordons this node whenever it sees it cordoned anew (at most 20 times).
        const rival = new RivalDrainer('kubectl', node);
        let uncordons = 0;
        let uncordonedAt: number | undefined;
        let answered: string | undefined;
        const fighting = setInterval(() => {
          const seen = watched.state.get(node);
          if (!unschedulable(seen) || seen?.metadata.resourceVersion === answered || uncordons >= 20) return;
          answered = seen?.metadata.resourceVersion;
          uncordons += 1;
          uncordonedAt ??= Date.now();
          void rival.uncordon().catch(() => undefined);
        }, 100);
        try {
          const told = await nmd.until('uncordonedTime recorded', (state) => maintenanceOf(state.get(node))?.uncordonedTime);
          expect(told).toBeDefined();
          await s.expectEvents(node, ['UncordonedByOther']);
          // Room appears: the drain goes on to its end with the node schedulable (nodemeta's NoSchedule taint keeps pods off).
          await kubeConfig().makeApiClient(PolicyV1Api).deleteNamespacedPodDisruptionBudget({ name: 'web', namespace: s.namespace });
          await nmd.until('phase Approved', (state) => APPROVED_OR_LATER.includes(phaseOf(state.get(node))), 120_000);
          await s.control('DELETE', `/events/${eventId}`);
          await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed');
        } finally {
          clearInterval(fighting);
        }
        // nodemeta cordoned once; after the first uncordon it never cordoned again.
        watched.expectComplete();
        const cordonings = watched.history.filter((entry, i) => unschedulable(entry.object) && !unschedulable(watched.history[i - 1]?.object));
        expect(cordonings.length).toBe(1);
        expect(uncordons).toBe(1);
        const uncordonSeen = watched.history.findIndex((entry) => entry.at > uncordonedAt! && !unschedulable(entry.object));
        expect(watched.history.slice(uncordonSeen).filter((entry) => unschedulable(entry.object))).toEqual([]);
        // One UncordonedByOther Event, and the controller's Node writes stay within one drain's.
        const events = await s.nodeEvents(node);
        expect(events.filter((e) => e.reason === 'UncordonedByOther').map((e) => e.count)).toEqual([1]);
        s.expectNodeWritesBounded([node], since);
        const after = await readNode(node);
        expect(after.metadata?.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    'the cluster autoscaler deletes the node: nodemeta gives it up (no cordon, eviction or approval) and its deletion leaves nothing behind',
    () =>
      withScenario('autoscaler', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        await s.deployment('web', { replicas: 2, nodes: [node] });
        await s.runningPods('web', 2, [node]);
        await s.spareNode();
        const watched = await s.watchNode(node);
        await s.startController(controllerConfig());
        await s.ready(nmd, [node]);

        const autoscaler = new RivalDrainer('cluster-autoscaler', node);
        await autoscaler.mark();
        const eventId = await s.postEvent({ type: 'Redeploy', resources: [node], lifecycle: 'manual' });
        const given = await nmd.until('the event scheduled, the autoscaler named', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.eventId === eventId && m.otherDrainer === 'cluster-autoscaler' ? m : undefined;
        });
        expect(given.phase).toBe('Scheduled');
        const events = await s.expectEvents(node, ['MaintenanceScheduled', 'OtherDrainerActing']);
        expect(events.find((e) => e.reason === 'OtherDrainerActing')?.message).toMatch(/gives the node up/);
        // nodemeta's notice taint is there (it still labels and reports); the node is not cordoned.
        await waitFor('the scheduled-event taint', async () => nodemetaTaints(await readNode(node)).some((t) => t.key === 'nodemeta.io/scheduled-event'));

        // The autoscaler drains and deletes the node; its VM and agent go with it.
        expect(await autoscaler.evictPods(s.namespace)).toHaveLength(2);
        await waitFor('the autoscaler\'s pods gone', async () => (await autoscaler.podsOn(s.namespace)).length === 0);
        await s.agents[0]!.stop();
        await autoscaler.deleteNode();
        // The NodeMetadata goes with its Node (ownerReference): nothing of nodemeta's holds it.
        await nmd.until('the NodeMetadata deleted', (state) => !state.has(node), 90_000);

        nmd.expectComplete();
        watched.expectComplete();
        expect(nmd.history.filter((e) => e.object.status?.maintenance?.approve !== undefined || ['Cordoned', 'Draining', 'Drained', 'Approved'].includes(phaseOf(e.object)))).toEqual([]);
        expect(watched.history.filter((e) => unschedulable(e.object) || e.object.metadata.annotations?.[CORDONED_ANNOTATION] !== undefined)).toEqual([]);
        expect(s.evictionsLogged().size).toBe(0);
        // The autoscaler's taint stayed as it put it until the end.
        const last = watched.history.at(-1);
        expect(last?.type).toBe('DELETED');
        expect(last?.object.spec?.taints?.map((t) => t.key)).toContain(OtherDrainerMarks.clusterAutoscalerDeletionTaint);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    'Karpenter-managed nodes follow policy.nodeGroups: the first group that matches decides whether nodemeta drains',
    () =>
      withScenario('karpenter', async (s) => {
        const drained = s.azureNode(0);
        const left = s.azureNode(1);
        const nmd = await s.managedVms('azure', [drained, left]);
        await labelNode(drained, { [KARPENTER_NODEPOOL_LABEL]: 'batch' });
        await labelNode(left, { [KARPENTER_NODEPOOL_LABEL]: 'general' });
        await s.deployment('batch', { replicas: 1, nodes: [drained] });
        await s.deployment('general', { replicas: 1, nodes: [left], spare: false });
        const batch = await s.runningPods('batch', 1, [drained]);
        const general = await s.runningPods('general', 1, [left]);
        await s.spareNode();
        const nodeGroups = [
          { name: 'batch', nodeSelector: { matchLabels: { [KARPENTER_NODEPOOL_LABEL]: 'batch' } }, drain: 'Enabled' },
          { name: 'karpenter', nodeSelector: { matchExpressions: [{ key: KARPENTER_NODEPOOL_LABEL, operator: 'Exists' }] }, drain: 'Disabled' },
        ];
        await s.startController(controllerConfig({ policy: { nodeGroups } }));
        await s.ready(nmd, [drained, left]);

        await s.postEvent({ type: 'Reboot', resources: [drained], lifecycle: 'manual' });
        await s.postEvent({ type: 'Reboot', resources: [left], lifecycle: 'manual' });
        await nmd.until('the batch node drained', (state) => APPROVED_OR_LATER.includes(phaseOf(state.get(drained))) || phaseOf(state.get(drained)) === 'Drained', 120_000);
        // The other Karpenter node: labelled and reported, its notice taint only, never cordoned nor drained.
        const leftStatus = await nmd.until('the Karpenter node reported', (state) => (phaseOf(state.get(left)) === 'Scheduled' ? maintenanceOf(state.get(left)) : undefined));
        expect(leftStatus.eventType).toBe('Reboot');
        const leftNode = await waitFor('the notice taint on the Karpenter node', async () => {
          const n = await readNode(left);
          return nodemetaTaints(n).some((t) => t.key === 'nodemeta.io/scheduled-event') ? n : undefined;
        });
        expect(nodemetaTaints(leftNode)).toContainEqual({ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'PreferNoSchedule' });
        expect(leftNode.spec?.unschedulable).not.toBe(true);
        expect((await readNode(drained)).spec?.unschedulable).toBe(true);
        // nodemeta evicted the batch node's pod, and not the other one's.
        expect([...s.evictionsLogged().keys()]).toEqual(batch.map((p) => `${s.namespace}/${p.name}`));
        await s.runningPods('general', 1, [left]);
        expect(general).toHaveLength(1);
      }),
    SCENARIO_TIMEOUT,
  );
});
