// Issue 5 end to end, the maintenance flows: a Reboot drained under a PodDisruptionBudget and
// approved early, a 30 s Preempt, one event for two nodes, a cancelled event, an admin's cordon,
// an Alibaba spot reclaim. Every part is real: the API server, the controller-manager (PDB status,
// ReplicaSets), the scheduler, kwok, one agent process per node against its emulated VM, and the
// controller process. The scenarios run side by side, each on its own nodes with its own
// controller (maintenance-harness.ts).
import { beforeAll, describe, expect, test } from '@jest/globals';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../src/api/names.js';
import { installCrd, nodemetaTaints, readNode } from './controller-harness.js';
import { kubectlOk, waitFor } from './lib/cluster.js';
import {
  CORDONED_ANNOTATION,
  controllerConfig,
  isoIn,
  isReady,
  isTerminating,
  maintenanceOf,
  phaseOf,
  withScenario,
  type EmulatorEvent,
  type RawNodeMetadata,
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DRAINED_OR_LATER = ['Drained', 'Approved'];

describe('maintenance end to end', () => {
  test.concurrent(
    '1. Reboot: a PDB-respecting drain (never below minAvailable), approval by the agent, completion, uncordon',
    () =>
      withScenario('reboot', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
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
        // ...and out of LoadBalancer backends (drain.excludeFromLoadBalancers, on by default).
        expect(during.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBe('true');
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
        expect(after.metadata?.labels ?? {}).not.toHaveProperty([EXCLUDE_FROM_LOAD_BALANCERS_LABEL]);

        const events = await s.expectEvents(node, ['MaintenanceScheduled', 'DrainStarted', 'EvictionBlocked', 'Drained', 'ApprovalRequested', 'MaintenanceApproved', 'MaintenanceCompleted']);
        expect(events.find((e) => e.reason === 'EvictionBlocked')?.message).toMatch(/disruption budget web\b/);

        // The PDB held at every moment the watch saw, and every original pod left through eviction.
        pods.expectComplete();
        const history: { state: ReadonlyMap<string, RawPod> }[] = [];
        pods.replay((state) => history.push({ state: new Map(state) }));
        expect(minimumAvailable(history, 3)).toBeGreaterThanOrEqual(2);
        const deleted = new Set(pods.history.filter((e) => e.type === 'DELETED').map((e) => e.object.metadata.uid));
        for (const pod of original) expect(deleted).toContain(pod.uid);
        expect([...s.evictionsLogged().values()].reduce((a, b) => a + b, 0)).toBe(3);

        // And the metrics say the same.
        const metrics = await s.controllers[0]!.metrics();
        const metric = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
        expect(metric('nodemeta_controller_evictions_total{result="evicted"}')).toBe(3);
        expect(metric('nodemeta_controller_evictions_total{result="blocked"}')).toBeGreaterThanOrEqual(1);
        expect(metric('nodemeta_controller_drain_duration_seconds_count')).toBe(1);
        expect(metric('nodemeta_controller_event_to_cordon_seconds_count')).toBe(1);
        expect(metric('nodemeta_controller_maintenance_transitions_total{phase="Completed"}')).toBe(1);
        expect(metric('nodemeta_controller_nodes_by_phase{phase="Completed"}')).toBe(1);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '2. Preempt with 30 s notice: every evictable pod has left, its grace period ended, before NotBefore',
    () =>
      withScenario('preempt', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        // Pods that would like 2 minutes to stop, and a DaemonSet pod (not evicted: it would come back).
        await s.deployment('web', { replicas: 4, nodes: [node], terminationGracePeriodSeconds: 120 });
        await s.daemonSet('logs', [node]);
        const web = await s.runningPods('web', 4, [node]);
        const [daemon] = await s.runningPods('logs', 1, [node]);
        await s.spareNode();
        const pods = await s.watchPods();
        await s.startController(controllerConfig({ drain: { maxConcurrentDrains: '100%', maxGracePeriod: '5m', evictionTimeout: '5m' } }));
        await s.ready(nmd, [node]);

        const notBefore = isoIn(30_000);
        const notBeforeMs = Date.parse(notBefore);
        const eventId = await s.postEvent({ type: 'Preempt', resources: [node], notBefore, lifecycle: 'manual' });
        const drained = await nmd.until('phase Drained', (state) => (DRAINED_OR_LATER.includes(phaseOf(state.get(node))) ? maintenanceOf(state.get(node)) : undefined), 30_000);
        expect(drained).toMatchObject({ eventId, eventType: 'Preempt', notBefore, totalPods: 4, pendingPods: 0 });
        expect(Date.parse(drained.drainedTime!)).toBeLessThan(notBeforeMs);

        // Each web pod: its eviction (deletionTimestamp set) came before NotBefore, and so did the end of
        // its grace period (deletionTimestamp = eviction + grace, capped to end 10 s before NotBefore).
        pods.expectComplete();
        for (const pod of web) {
          const leaving = pods.history.find((e) => e.object.metadata.uid === pod.uid && (isTerminating(e.object) || e.type === 'DELETED'));
          expect(leaving).toBeDefined();
          expect(leaving!.at).toBeLessThan(notBeforeMs);
          const stopBy = leaving!.object.metadata.deletionTimestamp;
          expect(stopBy).toBeDefined();
          expect(Date.parse(stopBy!)).toBeLessThanOrEqual(notBeforeMs - 9_000);
        }
        expect(pods.history.some((e) => e.object.metadata.uid === daemon!.uid && (isTerminating(e.object) || e.type === 'DELETED'))).toBe(false);
        const cordoned = await readNode(node);
        expect(cordoned.spec?.unschedulable).toBe(true);
        expect(nodemetaTaints(cordoned)).toContainEqual({ key: 'nodemeta.io/scheduled-event', value: 'Preempt', effect: 'NoSchedule' });
        await s.expectEvents(node, ['DrainStarted', 'Drained']);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '3. one event naming two nodes\' VMs: approval is asked only once both are drained',
    () =>
      withScenario('pair', async (s) => {
        const [a, b] = [s.azureNode(0), s.azureNode(1)];
        const nmd = await s.managedVms('azure', [a, b]);
        // a's pods are held by their PDB until there is room elsewhere; b has nothing to evict.
        await s.deployment('web', { replicas: 2, nodes: [a] });
        await s.runningPods('web', 2, [a]);
        await s.pdb('web', { maxUnavailable: 1 });
        await s.startController(controllerConfig());
        await s.ready(nmd, [a, b]);

        // The emulator's default lifecycle is Azure's: the first approval starts the event for every VM
        // in Resources, and it disappears once it has run.
        const eventId = await s.postEvent({ type: 'Reboot', resources: [a, b] });
        await nmd.until('b Drained while a is still draining, blocked', (state) => phaseOf(state.get(b)) === 'Drained' && phaseOf(state.get(a)) === 'Draining' && (maintenanceOf(state.get(a))?.blockedPods ?? []).length > 0);
        // Time for a wrong approval to show (the agents look every 2 s): none.
        await sleep(5_000);
        expect(maintenanceOf(nmd.state.get(a))?.approve).toBeUndefined();
        expect(maintenanceOf(nmd.state.get(b))?.approve).toBeUndefined();
        expect((await s.control<EmulatorEvent>('GET', `/events/${eventId}`)).approved).toBe(false);

        await s.spareNode();
        const emulated = await waitFor(
          'the event approved and started',
          async () => {
            const event = await s.control<EmulatorEvent>('GET', `/events/${eventId}`);
            return event.approved && event.EventStatus === 'Started' ? event : undefined;
          },
          { timeoutMs: 90_000, intervalMs: 200 },
        );
        const aDrained = Date.parse(maintenanceOf(nmd.state.get(a))!.drainedTime!);
        for (const approval of emulated.approvals!) {
          expect([a, b]).toContain(approval.vm);
          expect(Date.parse(approval.time)).toBeGreaterThanOrEqual(aDrained);
        }
        const approvers = emulated.approvals!.map((x) => x.vm);

        // It runs (for both VMs: one approval started it) and is over.
        await nmd.until('both Completed', (state) => phaseOf(state.get(a)) === 'Completed' && phaseOf(state.get(b)) === 'Completed', 60_000);
        for (const n of [a, b]) {
          await waitFor(`${n} uncordoned`, async () => (await readNode(n)).spec?.unschedulable !== true);
          const events = await s.expectEvents(n, ['Drained', 'ApprovalRequested', 'MaintenanceCompleted', ...(approvers.includes(n) ? ['MaintenanceApproved'] : [])]);
          // It ran, early, for both: not a cancellation, whichever agent approved.
          expect(events.map((e) => e.reason)).not.toContain('MaintenanceCancelled');
          // Nor is the request taken back when the neighbour finishes first: the event was under way.
          expect(events.map((e) => e.reason)).not.toContain('ApprovalWithdrawn');
        }

        // Over the whole history: whenever a node asked for approval (approve set), both were drained.
        nmd.expectComplete();
        let asked = 0;
        const asking = new Set<string>();
        nmd.replay((state, entry) => {
          const name = entry.object.metadata.name;
          const approve = maintenanceOf(entry.object)?.approve;
          if (approve === undefined) asking.delete(name);
          if (approve === undefined || asking.has(name)) return;
          asking.add(name);
          asked++;
          expect(approve).toBe(eventId);
          const phases = [a, b].map((n) => phaseOf(state.get(n)));
          expect(phases.every((phase) => DRAINED_OR_LATER.includes(phase)) ? 'both drained' : `${name} asked for approval while ${phases.join(' / ')}`).toBe('both drained');
        });
        expect(asked).toBeGreaterThan(0);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '5. events cancelled before they start: taints removed, the node uncordoned, MaintenanceCancelled',
    () =>
      withScenario('cancel', async (s) => {
        // a: a Reboot whose action is Cordon (cordoned at once, pods stay); b: a Redeploy with a lead
        // time longer away than now (Scheduled, notice taint only).
        const [a, b] = [s.azureNode(0), s.azureNode(1)];
        const nmd = await s.managedVms('azure', [a, b]);
        await s.deployment('web', { replicas: 1, nodes: [a], spare: false });
        const [pod] = await s.runningPods('web', 1, [a]);
        const pods = await s.watchPods();
        // Someone keeps a out of LoadBalancer backends for reasons of their own: nodemeta's cordon
        // neither claims nor removes that label.
        await kubectlOk(['label', 'node', a, `${EXCLUDE_FROM_LOAD_BALANCERS_LABEL}=by-hand`]);
        await s.startController(controllerConfig({ policy: { Reboot: { action: 'Cordon' }, Redeploy: { action: 'Drain', leadTime: '5m' } } }));
        await s.ready(nmd, [a, b]);

        const reboot = await s.postEvent({ type: 'Reboot', resources: [a], notBefore: '+15m', lifecycle: 'manual' });
        const redeploy = await s.postEvent({ type: 'Redeploy', resources: [b], notBefore: '+15m', lifecycle: 'manual' });
        await nmd.until('a Cordoned, b Scheduled', (state) => phaseOf(state.get(a)) === 'Cordoned' && phaseOf(state.get(b)) === 'Scheduled' && maintenanceOf(state.get(b))?.eventId === redeploy);
        const { na, nb } = await waitFor('a cordoned and tainted, b tainted', async () => {
          const [na, nb] = [await readNode(a), await readNode(b)];
          return nodemetaTaints(na).length > 0 && nodemetaTaints(nb).length > 0 && na.spec?.unschedulable === true ? { na, nb } : undefined;
        });
        expect(na.metadata?.annotations?.[CORDONED_ANNOTATION]).toBe(reboot);
        expect(na.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBe('by-hand');
        expect(nb.metadata?.labels ?? {}).not.toHaveProperty([EXCLUDE_FROM_LOAD_BALANCERS_LABEL]);
        expect(nodemetaTaints(na)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
        expect(nb.spec?.unschedulable).not.toBe(true);
        expect(nodemetaTaints(nb)).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Redeploy', effect: 'PreferNoSchedule' }]);
        await s.expectEvents(a, ['MaintenanceScheduled', 'NodeCordoned']);

        await s.control('DELETE', `/events/${reboot}`);
        await s.control('DELETE', `/events/${redeploy}`);
        await nmd.until('both Completed', (state) => phaseOf(state.get(a)) === 'Completed' && phaseOf(state.get(b)) === 'Completed');
        for (const n of [a, b]) {
          const after = await waitFor(`${n} untainted and schedulable`, async () => {
            const node = await readNode(n);
            return nodemetaTaints(node).length === 0 && node.spec?.unschedulable !== true ? node : undefined;
          });
          expect(after.metadata?.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();
          expect(after.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBe(n === a ? 'by-hand' : undefined);
          const events = await s.expectEvents(n, ['MaintenanceCancelled']);
          expect(events.map((e) => e.reason)).not.toContain('MaintenanceCompleted');
          expect(events.map((e) => e.reason)).not.toContain('DrainStarted');
        }
        // Cordon means the pods stay.
        pods.expectComplete();
        expect(pods.history.some((e) => e.object.metadata.uid === pod!.uid && (isTerminating(e.object) || e.type === 'DELETED'))).toBe(false);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '6. a node an admin cordoned before the event stays cordoned after it; nodemeta never marks it as its own',
    () =>
      withScenario('admin', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        await s.deployment('web', { replicas: 1, nodes: [node] });
        await s.runningPods('web', 1, [node]);
        await s.spareNode();
        await kubectlOk(['cordon', node]);
        const nodeWatch = await s.watchNode(node);
        await s.startController(controllerConfig());
        await s.ready(nmd, [node]);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved');
        await s.runningPods('web', 1, [s.spare]);
        await s.control('DELETE', `/events/${eventId}`);
        await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed');
        await waitFor('the taint removed', async () => nodemetaTaints(await readNode(node)).length === 0);
        await s.expectEvents(node, ['DrainStarted', 'Drained', 'MaintenanceApproved', 'MaintenanceCompleted']);
        // Give a wrong uncordon time to show.
        await sleep(3_000);
        const after = await readNode(node);
        expect(after.spec?.unschedulable).toBe(true);
        nodeWatch.expectComplete();
        expect(nodeWatch.history.length).toBeGreaterThan(1);
        for (const entry of nodeWatch.history) {
          expect(entry.object.metadata.annotations?.[CORDONED_ANNOTATION]).toBeUndefined();
          expect(entry.object.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBeUndefined();
          expect(entry.object.spec?.unschedulable).toBe(true);
        }
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '7. an Alibaba spot termination time: cordon and drain at once, no approval step',
    () =>
      withScenario('spot', async (s) => {
        const node = `cn-hangzhou.${s.short}.0`;
        const nmd = await s.managedVms('alibaba', [node]);
        await s.deployment('web', { replicas: 2, nodes: [node] });
        await s.runningPods('web', 2, [node]);
        await s.spareNode();
        await s.startController(controllerConfig());
        await s.ready(nmd, [node]);

        await s.control('PATCH', `/vms/${node}`, { spot: { terminationTime: '+5m' } });
        const drained = await nmd.until('phase Drained', (state) => (phaseOf(state.get(node)) === 'Drained' ? maintenanceOf(state.get(node)) : undefined));
        expect(drained).toMatchObject({ eventId: 'spot-termination', eventType: 'SpotTermination', totalPods: 2, pendingPods: 0 });
        const during = await readNode(node);
        expect(during.spec?.unschedulable).toBe(true);
        expect(during.metadata?.annotations?.[CORDONED_ANNOTATION]).toBe('spot-termination');
        expect(nodemetaTaints(during).map((t) => `${t.key}:${t.effect}`)).toContain('nodemeta.io/spot-termination:NoSchedule');
        await s.runningPods('web', 2, [s.spare]);
        // It stays Drained: there is nothing to approve on Alibaba.
        await sleep(5_000);
        expect(phaseOf(nmd.state.get(node))).toBe('Drained');

        // The reclaim is called off: the node is given back.
        await s.control('PATCH', `/vms/${node}`, { spot: { terminationTime: null } });
        await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed');
        await waitFor('uncordoned and untainted', async () => {
          const n = await readNode(node);
          return n.spec?.unschedulable !== true && nodemetaTaints(n).length === 0;
        });
        await s.expectEvents(node, ['MaintenanceScheduled', 'DrainStarted', 'Drained']);

        // Over the whole history: straight from Scheduled into Draining, approval never asked, nothing approved.
        nmd.expectComplete();
        const phases: string[] = [];
        nmd.replay((state) => {
          const current = state.get(node) as RawNodeMetadata | undefined;
          expect(maintenanceOf(current)?.approve).toBeUndefined();
          expect(current?.status?.approvals ?? []).toEqual([]);
          const phase = phaseOf(current);
          if (phases[phases.length - 1] !== phase) phases.push(phase);
        });
        expect(phases).toEqual(['None', 'Scheduled', 'Draining', 'Drained', 'Completed']);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '8. early approval only inside an approval window: drained, waiting with the reason, approved once a window is open',
    () =>
      withScenario('window', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        await s.deployment('web', { replicas: 1, nodes: [node] });
        await s.runningPods('web', 1, [node]);
        await s.spareNode();
        // A window that is surely closed now: one minute, every day, 12 hours from now (UTC).
        const at = new Date(Date.now() + 12 * 3_600_000);
        const hhmm = (d: Date) => d.toISOString().slice(11, 16);
        const everyDay = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
        const closed = { days: everyDay, start: hhmm(at), end: hhmm(new Date(at.getTime() + 60_000)), timeZone: 'UTC' };
        await s.startController(controllerConfig({ approvalWindows: [closed] }));
        await s.ready(nmd, [node]);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], notBefore: '+15m', lifecycle: 'manual' });
        const waiting = await nmd.until('Drained, the approval waiting for the window', (state) => {
          const maintenance = maintenanceOf(state.get(node));
          return maintenance?.phase === 'Drained' && maintenance.approvalWaitsUntil !== undefined ? maintenance : undefined;
        });
        expect(waiting.approve).toBeUndefined();
        expect(Date.parse(waiting.approvalWaitsUntil!)).toBeGreaterThan(Date.now() + 11 * 3_600_000);
        const events = await s.expectEvents(node, ['Drained', 'ApprovalWaitingForWindow']);
        expect(events.find((e) => e.reason === 'ApprovalWaitingForWindow')?.message).toMatch(/early approval waits for the approval window opening at/);
        expect((await s.control<EmulatorEvent>('GET', `/events/${eventId}`)).approved).toBe(false);

        // A window open now (all day, every day): the node asks, the agent approves.
        s.reconfigure(controllerConfig({ approvalWindows: [{ days: everyDay, start: '00:00', end: '24:00', timeZone: 'UTC' }] }));
        const approved = await nmd.until('phase Approved', (state) => (phaseOf(state.get(node)) === 'Approved' ? maintenanceOf(state.get(node)) : undefined), 60_000);
        expect(approved.approvalWaitsUntil).toBeUndefined();
        expect((await s.control<EmulatorEvent>('GET', `/events/${eventId}`)).approved).toBe(true);
        await s.expectEvents(node, ['ApprovalRequested', 'MaintenanceApproved']);
        // Never asked while the window was closed.
        nmd.expectComplete();
        nmd.replay((state) => {
          const maintenance = maintenanceOf(state.get(node) as RawNodeMetadata | undefined);
          if (maintenance?.approvalWaitsUntil !== undefined) expect(maintenance.approve).toBeUndefined();
        });
      }),
    SCENARIO_TIMEOUT,
  );
});
