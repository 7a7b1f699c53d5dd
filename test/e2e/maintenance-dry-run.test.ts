// Issue 10, dry run, end to end on the real control plane: a Reboot handled by a controller in dry
// run (config `dryRun: true`) with agents in dry run (`--dry-run`). The controller reads and decides
// everything and writes nothing to the Node (the Node's whole watch history shows no field of
// nodemeta's and no change by field manager nodemeta-controller), evicts no pod (the pods' watch
// shows none deleted or terminating), and never asks for approval; what a real run would have done
// is in the DryRun Events and in the status, marked `dryRun` (the printer column shows it); the agent
// logs the approval it would have made and the platform's event is never approved. Then dry run is
// turned off by a configuration reload, and the controller cordons the node for real.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { Annotations, EXCLUDE_FROM_LOAD_BALANCERS_LABEL, FIELD_MANAGER_CONTROLLER } from '../../src/api/names.js';
import { installCrd } from './controller-harness.js';
import { kubectlOk, waitFor } from './lib/cluster.js';
import { CORDONED_ANNOTATION, controllerConfig, isTerminating, maintenanceOf, withScenario, type EmulatorEvent, type RawNode } from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 240_000;

beforeAll(async () => {
  await installCrd();
});

/** Anything nodemeta writes on a Node (docs/architecture.md, "Public contract"). */
function nodemetaFieldsOf(node: RawNode & { metadata: { managedFields?: { manager?: string }[] } }): string[] {
  const found: string[] = [];
  if (node.spec?.unschedulable === true) found.push('spec.unschedulable');
  for (const taint of node.spec?.taints ?? []) if (taint.key.startsWith('nodemeta.io/') || taint.key === 'node.kubernetes.io/out-of-service') found.push(`taint ${taint.key}`);
  for (const key of Object.keys(node.metadata.labels ?? {})) if (key.includes('nodemeta.io/') || key === EXCLUDE_FROM_LOAD_BALANCERS_LABEL) found.push(`label ${key}`);
  for (const key of Object.keys(node.metadata.annotations ?? {})) if (key.startsWith('nodemeta.io/')) found.push(`annotation ${key}`);
  for (const entry of node.metadata.managedFields ?? []) if (entry.manager === FIELD_MANAGER_CONTROLLER) found.push(`managedFields ${entry.manager}`);
  return found;
}

const metricValue = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('dry run end to end', () => {
  test.concurrent(
    'a Reboot in dry run: nothing written to the Node, no pod evicted, never approved, the story told in DryRun Events and the marked status; turned off, the controller acts',
    () =>
      withScenario('dryrun', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node], ['--dry-run']);
        await s.deployment('web', { replicas: 2, nodes: [node] });
        const original = await s.runningPods('web', 2, [node]);
        const pods = await s.watchPods();
        const nodeWatch = await s.watchNode(node);
        await s.startController(controllerConfig({ dryRun: true }));
        await s.ready(nmd, [node]);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        // The phases go as a real run's would: the drain ends Drained, and the approval a real run would
        // ask for now is kept apart from `approve`, which the agents act on.
        const drained = await nmd.until('phase Drained in dry run, with the approval it would ask for', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.phase === 'Drained' && m.wouldApprove === eventId ? m : undefined;
        });
        expect(drained).toMatchObject({ eventId, eventType: 'Reboot', dryRun: true, totalPods: 2, evictedPods: 2, pendingPods: 0 });
        expect(drained.approve).toBeUndefined();

        // What a real run would have done, one DryRun Event per decision, next to the marked transitions.
        const events = await s.expectEvents(node, ['DryRun', 'MaintenanceScheduled', 'DrainStarted', 'Drained', 'ApprovalRequested']);
        const dryRun = events.filter((e) => e.reason === 'DryRun').map((e) => e.message);
        const expected = [
          /^would set labels nodemeta\.io\/provider=azure, /,
          /add taint nodemeta\.io\/scheduled-event=Reboot:NoSchedule/,
          new RegExp(`cordon \\(spec\\.unschedulable, nodemeta\\.io/cordoned=${eventId}\\)`),
          new RegExp(`^would evict 2 pods: ${s.namespace}/web-`),
          new RegExp(`^would ask the agent to approve ${eventId} `),
        ];
        for (const pattern of expected) expect(dryRun.some((message) => pattern.test(message))).toBe(true);
        for (const event of events.filter((e) => ['MaintenanceScheduled', 'DrainStarted', 'Drained', 'ApprovalRequested'].includes(e.reason))) expect(event.message).toMatch(/^\[dry run\] /);
        expect(events.map((e) => e.reason)).not.toEqual(expect.arrayContaining(['LabelsApplied']));
        expect(events.map((e) => e.reason)).not.toContain('Cordoned');

        // `kubectl get nmd` shows it.
        const table = await kubectlOk(['get', 'nmd', node]);
        expect(table.split('\n')[0]).toMatch(/PHASE\s+DRAIN-READY\s+DRYRUN/);
        expect(table.split('\n')[1]).toMatch(/Drained\s+(?:True\s+|False\s+)?true/);

        // The agent in dry run saw the request and did not act on it: the platform's event is not approved.
        await waitFor('the agent to log the approval it would have made', () => s.agents[0]!.logs.some((line) => line.includes('dry run: would approve') && line.includes(eventId)), { timeoutMs: 30_000 });
        const emulated = await s.control<EmulatorEvent>('GET', `/events/${eventId}`);
        expect(emulated.approved).not.toBe(true);
        expect(emulated.approvals ?? []).toEqual([]);
        expect(nmd.state.get(node)?.status?.approvals ?? []).toEqual([]);

        // Nothing of nodemeta's ever reached the Node, in any version the API server stored.
        nodeWatch.expectComplete();
        expect(nodeWatch.history.length).toBeGreaterThan(0);
        for (const entry of nodeWatch.history) expect(nodemetaFieldsOf(entry.object)).toEqual([]);
        // No pod was evicted: the originals never went, never began to terminate.
        pods.expectComplete();
        const uids = new Set(original.map((pod) => pod.uid));
        for (const entry of pods.history.filter((e) => uids.has(e.object.metadata.uid ?? ''))) {
          expect(entry.type).not.toBe('DELETED');
          expect(isTerminating(entry.object)).toBe(false);
        }
        expect(s.evictionsLogged().size).toBe(0);
        const metrics = await s.controllers[0]!.metrics();
        expect(metricValue(metrics, 'nodemeta_controller_dry_run')).toBe(1);
        expect(await s.controllers[0]!.apiWrites(['nodes', 'pods/eviction'])).toBe(0);

        // Dry run off (a configuration reload): the simulated Drained counts for nothing, the controller
        // cordons for real, for the same event, and the status is a real run's again.
        s.reconfigure(controllerConfig());
        const cordoned = await nodeWatch.until('the real cordon', (state) => {
          const n = state.get(node);
          return n?.spec?.unschedulable === true && n.metadata.annotations?.[CORDONED_ANNOTATION] === eventId ? n : undefined;
        });
        expect(cordoned.spec?.taints).toContainEqual({ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' });
        expect(cordoned.metadata.annotations?.[Annotations.cordoned]).toBe(eventId);
        const real = await nmd.until('a real run\'s status', (state) => {
          const m = maintenanceOf(state.get(node));
          return m !== undefined && m.dryRun === undefined && m.eventId === eventId && m.phase !== 'Scheduled' ? m : undefined;
        });
        expect(real.wouldApprove).toBeUndefined();
        expect(metricValue(await s.controllers[0]!.metrics(), 'nodemeta_controller_dry_run')).toBe(0);
      }),
    SCENARIO_TIMEOUT,
  );
});
