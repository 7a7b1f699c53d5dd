// The end of a blocked drain and the eviction order, end to end (docs/maintenance.md, "The end of a
// blocked drain" and "Eviction order"): the real controller against the real control plane, the
// emulator's events seen by real agents, and the pod watch history as the witness of what happened
// to each pod. One scenario, four nodes side by side, NotBefore a little over a minute away:
// - a Redeploy (atDeadline Wait, the default) on a node whose pod a PDB allows 0 disruptions: the
//   pod stays until the event has run;
// - a Reboot with atDeadline Delete, the same kind of pod: deleted once, with a grace period that
//   ends before NotBefore, with its Event, its metric;
// - a Freeze drained (action Drain; atDeadline Delete is refused for it), the same kind of pod: never
//   deleted;
// - a Reboot on a node with a pod of low priority, one of higher priority and a
//   system-cluster-critical one: evicted in that order, the critical one once the others are gone.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SchedulingV1Api } from '@kubernetes/client-node';
import { GRACE_MARGIN_MS } from '../../src/controller/maintenance/drain-plan.js';
import { installCrd, runId } from './controller-harness.js';
import { auditLog } from './lib/audit.js';
import { kubeConfig } from './lib/cluster.js';
import { controllerConfig, isTerminating, maintenanceOf, phaseOf, withScenario, type RawPod, type Recorder } from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 300_000;
/**
 * NotBefore this far away: the drains start at once (within seconds of the post), the Delete comes at
 * NotBefore minus the pod's 5 s grace period and the 10 s margin, 30 s after the post, and the Redeploy
 * and the Freeze run at NotBefore: the deadline comes within the test.
 */
const NOTICE = '+45s';
const HIGH_CLASS = `nodemeta-e2e-high-${runId()}`;
const scheduling = kubeConfig().makeApiClient(SchedulingV1Api);

beforeAll(async () => {
  await installCrd();
  await scheduling.createPriorityClass({ body: { metadata: { name: HIGH_CLASS }, value: 1000 } });
});

afterAll(async () => {
  await scheduling.deletePriorityClass({ name: HIGH_CLASS }).catch(() => undefined);
});

type PodEntry = { index: number; object: RawPod & { metadata: { deletionGracePeriodSeconds?: number } } };

/** The history entries of one pod (by name), with their place in the server's order. */
function historyOf(pods: Recorder<RawPod>, name: string): (PodEntry & { type: string })[] {
  return pods.history.flatMap((entry, index) => (entry.object.metadata.name === name ? [{ index, type: entry.type, object: entry.object as PodEntry['object'] }] : []));
}

/** Where the pod first shows a deletionTimestamp in the history, or undefined if it never does. */
const firstDeletion = (pods: Recorder<RawPod>, name: string) => historyOf(pods, name).find((entry) => isTerminating(entry.object));

describe('the end of a blocked drain, and the eviction order', () => {
  test(
    'Wait keeps the blocked pod until the event runs; Delete deletes it once before NotBefore; Freeze never; critical pods go last',
    () =>
      withScenario('deadline', async (s) => {
        const [waitNode, deleteNode, freezeNode, orderNode] = [0, 1, 2, 3].map((i) => s.azureNode(i)) as [string, string, string, string];
        const nmd = await s.managedVms('azure', [waitNode, deleteNode, freezeNode, orderNode]);
        const pods = await s.watchPods();
        // One pod each, held by a PDB that allows no disruption.
        const blocked: Record<string, { name: string }> = {};
        for (const [app, node] of [['wait', waitNode], ['delete', deleteNode], ['freeze', freezeNode]] as const) {
          await s.deployment(app, { replicas: 1, nodes: [node] });
          blocked[app] = (await s.runningPods(app, 1, [node]))[0]!;
          await s.pdb(app, { maxUnavailable: 0 });
        }
        // A finalizer keeps the evicted low and high pods Terminating (a slow kubelet) until the test
        // lets them go: the critical pod must wait for that.
        for (const [app, priorityClassName] of [['low', undefined], ['high', HIGH_CLASS], ['dns', 'system-cluster-critical']] as const) {
          await s.deployment(app, { replicas: 1, nodes: [orderNode], ...(priorityClassName === undefined ? { finalizers: ['e2e.nodemeta.io/hold'] } : { priorityClassName, ...(app === 'high' ? { finalizers: ['e2e.nodemeta.io/hold'] } : {}) }) });
        }
        const [low] = await s.runningPods('low', 1, [orderNode]);
        const [high] = await s.runningPods('high', 1, [orderNode]);
        const [dns] = await s.runningPods('dns', 1, [orderNode]);
        await s.spareNode();
        const audit = auditLog();
        const startedAt = Date.now();
        const controller = await s.startController(controllerConfig({ approve: 'Never', policy: { Reboot: { atDeadline: 'Delete' }, Freeze: { action: 'Drain' } } }));
        await s.ready(nmd, [waitNode, deleteNode, freezeNode, orderNode]);

        // It runs 5 s (the emulator's Redeploy runs 30 s by default): what matters is that it ran.
        await s.postEvent({ type: 'Redeploy', resources: [waitNode], notBefore: NOTICE, durationSeconds: 5 });
        await s.postEvent({ type: 'Reboot', resources: [deleteNode], notBefore: NOTICE, lifecycle: 'manual' });
        await s.postEvent({ type: 'Freeze', resources: [freezeNode], notBefore: NOTICE });
        await s.postEvent({ type: 'Reboot', resources: [orderNode], notBefore: '+15m', lifecycle: 'manual' });

        // Eviction order: once low and high are Terminating they are let go; the drain of the order node
        // ends, and the history says in which order.
        await pods.until('low and high Terminating', (state) => [low!, high!].every((p) => state.get(p.name) !== undefined && isTerminating(state.get(p.name)!)), 120_000);
        const releasing = setInterval(() => void s.releaseTerminatingPods().catch(() => undefined), 500);
        try {
          await nmd.until('the order node Drained', (state) => phaseOf(state.get(orderNode)) === 'Drained', 120_000);
        } finally {
          clearInterval(releasing);
        }
        const [lowGoes, highGoes, dnsGoes] = [low!, high!, dns!].map((p) => firstDeletion(pods, p.name)?.index ?? -1) as [number, number, number];
        expect([lowGoes, highGoes, dnsGoes].every((index) => index >= 0)).toBe(true);
        expect(lowGoes).toBeLessThan(highGoes);
        expect(highGoes).toBeLessThan(dnsGoes);
        // The critical pod only once the others were gone from the API.
        const gone = [low!, high!].map((p) => historyOf(pods, p.name).find((entry) => entry.type === 'DELETED')?.index ?? Infinity);
        expect(Math.max(...gone)).toBeLessThan(dnsGoes);

        // Delete: the blocked pod is deleted once its grace period plus the margin is left before NotBefore.
        const events = await s.expectEvents(deleteNode, ['PodDeletedAtDeadline'], 120_000);
        const notBefore = Date.parse(maintenanceOf(nmd.state.get(deleteNode))!.notBefore!);
        const deletion = firstDeletion(pods, blocked.delete!.name)!.object.metadata;
        expect(deletion.deletionGracePeriodSeconds).toBeGreaterThanOrEqual(1);
        expect(deletion.deletionGracePeriodSeconds).toBeLessThanOrEqual(5);
        // Its SIGTERM ends before NotBefore, by the margin (a second for the server's own clock
        // reading and the timestamp's whole seconds).
        expect(Date.parse(deletion.deletionTimestamp!)).toBeLessThanOrEqual(notBefore - GRACE_MARGIN_MS + 1_000);
        const deadlineEvents = events.filter((e) => e.reason === 'PodDeletedAtDeadline');
        expect(deadlineEvents).toEqual([expect.objectContaining({ type: 'Warning', count: 1, message: expect.stringContaining(`pod ${s.namespace}/${blocked.delete!.name} deleted with a`) })]);
        expect(deadlineEvents[0]!.message).toContain(`overrides PodDisruptionBudget ${s.namespace}/delete`);
        // Once: the API server received one DELETE of a pod from the controller, of that pod (the
        // audit log; kwok's own final delete, grace 0, is not the controller's), and the log and the
        // metric say one.
        await nmd.until('the delete node drained (its pod gone)', (state) => (['Drained', 'Failed'].includes(phaseOf(state.get(deleteNode))) && maintenanceOf(state.get(deleteNode))?.pendingPods === 0) || undefined, 60_000);
        const podDeletes = () => audit.events({ user: controller.user, verb: 'delete', resource: 'pods', subresource: null, namespace: s.namespace, since: startedAt });
        expect(podDeletes().map((entry) => [entry.objectRef?.name, entry.responseStatus?.code])).toEqual([[blocked.delete!.name, 200]]);
        expect(controller.logs.filter((line) => line.includes('"pod deleted at the deadline')).length).toBe(1);
        expect(await controller.metrics()).toMatch(/^nodemeta_controller_pods_deleted_at_deadline_total\{event_type="Reboot"\} 1$/m);

        // Wait and Freeze: the events run (started at NotBefore, then gone) and the blocked pods were never deleted.
        await nmd.until('the Redeploy and the Freeze over', (state) => phaseOf(state.get(waitNode)) === 'Completed' && phaseOf(state.get(freezeNode)) === 'Completed', 180_000);
        for (const app of ['wait', 'freeze']) {
          expect([app, firstDeletion(pods, blocked[app]!.name)]).toEqual([app, undefined]);
          expect([app, pods.state.has(blocked[app]!.name)]).toEqual([app, true]);
        }
        for (const node of [waitNode, freezeNode]) expect((await s.nodeEvents(node)).map((e) => e.reason)).not.toContain('PodDeletedAtDeadline');
        // Nor did the controller delete or evict them (the audit log): still one delete, of the Reboot's pod.
        expect(podDeletes()).toHaveLength(1);
        expect([...audit.evictionsByPod(startedAt, { user: controller.user }).keys()].filter((pod) => [blocked.wait!.name, blocked.freeze!.name].some((name) => pod.endsWith(`/${name}`)))).toEqual([]);
        pods.expectComplete();
      }),
    SCENARIO_TIMEOUT,
  );
});
