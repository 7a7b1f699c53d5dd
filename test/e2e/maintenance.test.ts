// Issue 5 end to end, the maintenance flows: a Reboot drained under a PodDisruptionBudget and
// approved early, a 30 s Preempt, one event for two nodes, a cancelled event, an admin's cordon,
// an Alibaba spot reclaim. Every part is real: the API server, the controller-manager (PDB status,
// ReplicaSets), the scheduler, kwok, one agent process per node against its emulated VM, and the
// controller process. The scenarios run side by side, each on its own nodes with its own
// controller (maintenance-harness.ts).
import { beforeAll, describe, expect, test } from '@jest/globals';
import { installCrd, nodemetaTaints, readNode } from './controller-harness.js';
import { waitFor } from './lib/cluster.js';
import {
  CORDONED_ANNOTATION,
  controllerConfig,
  isReady,
  isTerminating,
  maintenanceOf,
  phaseOf,
  withScenario,
  type EmulatorEvent,
  type RawPod,
} from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 240_000;

beforeAll(async () => {
  await installCrd();
});

/** Ready pods that are not on their way out, after every change the watch saw (from the moment all `initial` were there). */
function minimumAvailable(history: { state: ReadonlyMap<string, RawPod> }[], initial: number): number {
  let armed = false;
  let minimum = Infinity;
  for (const { state } of history) {
    const available = [...state.values()].filter((pod) => isReady(pod) && !isTerminating(pod)).length;
    if (available >= initial) armed = true;
    if (armed) minimum = Math.min(minimum, available);
  }
  return minimum;
}

describe('maintenance end to end', () => {
  test.concurrent(
    '1. Reboot: a PDB-respecting drain (never below minAvailable), approval by the agent, completion, uncordon',
    () =>
      withScenario('reboot', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.watchNodeMetadata([node]);
        await s.startEmulator('azure', [node]);
        await s.managedNode(node);
        await s.deployment('web', { replicas: 3, nodes: [node] });
        const original = await s.runningPods('web', 3, [node]);
        await s.pdb('web', { minAvailable: 2 });
        const pods = await s.watchPods();
        await s.startController(controllerConfig());
        await s.ready(nmd, [node]);

        // No other node yet: the first evicted pod's replacement stays Pending, so the budget is spent
        // and the drain must wait (kwok makes a scheduled pod Ready at once, which would hide that).
        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        const blocked = await nmd.until('the drain blocked by the PDB', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.phase === 'Draining' && (m.blockedPods ?? []).length > 0 ? m : undefined;
        });
        expect(blocked).toMatchObject({ eventId, eventType: 'Reboot', totalPods: 3 });
        expect(blocked.blockedPods!.map((p) => p.reason).join(' ')).toMatch(/disruption budget web\b/);
        expect(blocked.approve).toBeUndefined();
        await s.expectEvents(node, ['MaintenanceScheduled', 'DrainStarted', 'EvictionBlocked']);
        // Room appears: the drain goes on, one pod at a time as the budget allows.
        await s.spareNode();

        // Drained, then approved: the controller asks, the agent POSTs StartRequests and records it.
        const approved = await nmd.until('phase Approved', (state) => (phaseOf(state.get(node)) === 'Approved' ? state.get(node)!.status : undefined), 120_000);
        expect(approved.approvals?.map((a) => a.eventId)).toContain(eventId);
        expect(approved.maintenance).toMatchObject({ eventId, totalPods: 3, pendingPods: 0, evictedPods: 3 });
        expect(approved.maintenance?.approve).toBeUndefined();
        expect(approved.conditions?.find((c) => c.type === 'Drained')).toMatchObject({ status: 'True' });
        const emulated = await s.control<EmulatorEvent>('GET', `/events/${eventId}`);
        expect(emulated.approved).toBe(true);
        expect(emulated.approvals?.map((a) => a.vm)).toEqual([node]);

        // While it runs the node is cordoned by nodemeta and tainted; every original pod has left it.
        const during = await readNode(node);
        expect(during.spec?.unschedulable).toBe(true);
        expect(during.metadata?.annotations?.[CORDONED_ANNOTATION]).toBe(eventId);
        expect(nodemetaTaints(during)).toContainEqual({ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' });
        // Their replacements run on the spare node.
        await s.runningPods('web', 3, [s.spare]);

        // The platform runs it and it is over: the event leaves the metadata service.
        await s.control('DELETE', `/events/${eventId}`);
        const completed = await nmd.until('phase Completed', (state) => (phaseOf(state.get(node)) === 'Completed' ? maintenanceOf(state.get(node)) : undefined));
        expect(completed.eventId).toBe(eventId);
        const after = await waitFor('the node uncordoned and untainted', async () => {
          const n = await readNode(node);
          return n.spec?.unschedulable !== true && nodemetaTaints(n).length === 0 ? n : undefined;
        });
        expect(after.metadata?.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();

        const events = await s.expectEvents(node, ['MaintenanceScheduled', 'DrainStarted', 'EvictionBlocked', 'NodeDrained', 'ApprovalRequested', 'MaintenanceApproved', 'MaintenanceCompleted']);
        expect(events.find((e) => e.reason === 'EvictionBlocked')?.message).toMatch(/disruption budget web\b/);

        // The PDB held at every moment the watch saw, and every original pod left through eviction.
        pods.expectComplete();
        const history: { state: ReadonlyMap<string, RawPod> }[] = [];
        pods.replay((state) => history.push({ state: new Map(state) }));
        expect(minimumAvailable(history, 3)).toBeGreaterThanOrEqual(2);
        const deleted = new Set(pods.history.filter((e) => e.type === 'DELETED').map((e) => e.object.metadata.uid));
        for (const pod of original) expect(deleted).toContain(pod.uid);
        expect([...s.evictionsLogged().values()].reduce((a, b) => a + b, 0)).toBe(3);
      }),
    SCENARIO_TIMEOUT,
  );
});
