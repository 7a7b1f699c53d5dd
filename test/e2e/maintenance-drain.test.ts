// Issue 5 end to end, the drain under pressure: the leader killed in the middle of a drain, a
// cluster-wide budget of one drain at a time, a pod whose PDB allows no disruption at all. Real
// parts as in maintenance.test.ts; the scenarios run side by side on their own nodes.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { FAST_LEASE, installCrd, nodemetaTaints, readNode } from './controller-harness.js';
import { waitFor } from './lib/cluster.js';
import { CORDONED_ANNOTATION, controllerConfig, isoIn, isTerminating, maintenanceOf, phaseOf, withScenario, type Scenario } from './maintenance-harness.js';

const SCENARIO_TIMEOUT = 240_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DRAINED_OR_LATER = ['Drained', 'Approved'];

beforeAll(async () => {
  await installCrd();
});

async function leaderOf(s: Scenario) {
  return waitFor('a leader', async () => {
    for (const c of s.controllers) if (c.child.exitCode === null && c.child.signalCode === null && (await c.isLeader().catch(() => false))) return c;
    return undefined;
  });
}

describe('maintenance drains end to end', () => {
  test.concurrent(
    '4. the leader killed mid-drain: the other replica resumes, no pod is evicted twice, the drain completes',
    () =>
      withScenario('failover', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        // A finalizer keeps an evicted pod Terminating (a slow kubelet): the new leader sees the old
        // leader's evictions still under way and must not evict those pods again.
        await s.deployment('web', { replicas: 8, nodes: [node], finalizers: ['e2e.nodemeta.io/hold'] });
        const original = await s.runningPods('web', 8, [node]);
        await s.pdb('web', { maxUnavailable: 2 });
        const pods = await s.watchPods();
        await s.startController(controllerConfig(), 'a', FAST_LEASE);
        await s.startController(controllerConfig(), 'b', FAST_LEASE);
        await s.ready(nmd, [node]);
        const first = await leaderOf(s);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        // Two pods evicted (the budget), the rest refused: the drain is under way and blocked.
        await nmd.until('the drain blocked after the first evictions', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.phase === 'Draining' && (m.blockedPods ?? []).length === 6;
        });
        const terminatingBefore = [...pods.state.values()].filter(isTerminating).map((p) => p.metadata.name);
        expect(terminatingBefore).toHaveLength(2);
        const logged = terminatingBefore.map((name) => `${s.namespace}/${name}`).sort();
        // (the log lines come over a pipe, and may trail the status the controller wrote after them)
        await waitFor('the two evictions in the leader\'s log', () => [...s.evictionsLogged().keys()].sort().join() === logged.join(), { timeoutMs: 10_000 });

        // Killed without a chance to release the Lease; room for the pods appears meanwhile.
        await first.stop('SIGKILL');
        const killedAt = Date.now();
        await s.spareNode();
        const second = await leaderOf(s);
        expect(second).not.toBe(first);
        // The new leader goes on: two more pods evicted, the held ones left alone.
        await waitFor('the new leader to evict', () => second.logs.some((line) => line.includes('"pod evicted"')), { timeoutMs: 60_000 });
        await sleep(6_000); // beyond the first eviction retry (5 s): time for a wrong second eviction
        expect([...s.evictionsLogged().values()].every((count) => count === 1)).toBe(true);

        // Now the kubelet lets the evicted pods go, as they come: the drain completes.
        const releasing = setInterval(() => void s.releaseTerminatingPods().catch(() => undefined), 500);
        try {
          const drained = await nmd.until('phase Drained', (state) => (DRAINED_OR_LATER.includes(phaseOf(state.get(node))) ? maintenanceOf(state.get(node)) : undefined), 120_000);
          expect(drained).toMatchObject({ eventId, totalPods: 8, pendingPods: 0, evictedPods: 8 });
        } finally {
          clearInterval(releasing);
        }

        // Each original pod evicted exactly once, across both processes; both did some of it.
        const evictions = s.evictionsLogged();
        expect(Object.fromEntries(evictions)).toEqual(Object.fromEntries(original.map((p) => [`${s.namespace}/${p.name}`, 1])));
        const byFirst = first.logs.filter((line) => line.includes('"pod evicted"')).length;
        const bySecond = second.logs.filter((line) => line.includes('"pod evicted"')).length;
        expect(byFirst).toBe(2);
        expect(bySecond).toBe(6);
        // The new leader's evictions all came after the kill (its log timestamps).
        for (const line of second.logs.filter((l) => l.includes('"pod evicted"'))) expect(Date.parse((JSON.parse(line) as { timestamp: string }).timestamp)).toBeGreaterThan(killedAt);
        pods.expectComplete();
        await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved', 60_000);
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '8. maxConcurrentDrains 1 with events on three nodes: never more than one node Draining at a time, unless a deadline forces it',
    () =>
      withScenario('budget', async (s) => {
        const nodes = [0, 1, 2].map((i) => s.azureNode(i));
        const urgent = s.azureNode(3);
        const all = [...nodes, urgent];
        const nmd = await s.managedVms('azure', all);
        // Two pods per node, each pair under a PDB allowing one disruption: no drain is instant.
        for (const [i, node] of nodes.entries()) {
          await s.deployment(`web${i}`, { replicas: 2, nodes: [node] });
          await s.runningPods(`web${i}`, 2, [node]);
          await s.pdb(`web${i}`, { maxUnavailable: 1 });
        }
        await s.deployment('batch', { replicas: 1, nodes: [urgent] });
        await s.runningPods('batch', 1, [urgent]);
        await s.startController(controllerConfig({ drain: { maxConcurrentDrains: 1, maxGracePeriod: '5s', evictionTimeout: '5m' } }));
        await s.ready(nmd, all);

        // NotBefore 15 min away: no deadline forces a drain beyond the budget.
        const events = await Promise.all(nodes.map((node) => s.postEvent({ type: 'Reboot', resources: [node], notBefore: '+15m', lifecycle: 'manual' })));
        // The first drain is held by its PDB (no room for its pods yet): the two others wait, cordoned.
        const waiting = await nmd.until('one node Draining, two Cordoned', (state) => {
          const phases = nodes.map((n) => phaseOf(state.get(n)));
          return [...phases].sort().join() === 'Cordoned,Cordoned,Draining' ? nodes.filter((_, i) => phases[i] === 'Cordoned') : undefined;
        });
        const held = nodes.find((n) => !waiting.includes(n))!;
        await sleep(5_000);
        for (const node of waiting) {
          expect(phaseOf(nmd.state.get(node))).toBe('Cordoned');
          const n = await readNode(node);
          expect(n.spec?.unschedulable).toBe(true);
          expect(nodemetaTaints(n)).toContainEqual({ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' });
          await s.expectEvents(node, ['DrainWaitingForBudget']);
        }

        // A Preempt 30 s ahead on a fourth node while the budget is spent: it waits too, then drains
        // anyway once only maxGracePeriod + 10 s are left before NotBefore.
        const notBefore = isoIn(30_000);
        const forcedAt = Date.parse(notBefore) - 5_000 - 10_000;
        await s.postEvent({ type: 'Preempt', resources: [urgent], notBefore, lifecycle: 'manual' });
        const urgentDrained = await nmd.until('the Preempt node drained', (state) => (DRAINED_OR_LATER.includes(phaseOf(state.get(urgent))) ? maintenanceOf(state.get(urgent)) : undefined), 60_000);
        expect(Date.parse(urgentDrained.startedTime!)).toBeGreaterThanOrEqual(Math.floor(forcedAt / 1000) * 1000);
        expect(Date.parse(urgentDrained.drainedTime!)).toBeLessThan(Date.parse(notBefore));
        const urgentEvents = await s.expectEvents(urgent, ['DrainWaitingForBudget', 'DrainStarted', 'Drained']);
        expect(urgentEvents.find((e) => e.reason === 'DrainStarted')?.message).toMatch(/deadline reached: drains beyond the budget/);
        // Meanwhile the others still wait for the held drain.
        expect(nodes.map((n) => phaseOf(nmd.state.get(n)))).toEqual(nodes.map((n) => (n === held ? 'Draining' : 'Cordoned')));

        await s.spareNode();
        await nmd.until('every node drained and approved', (state) => nodes.every((n) => phaseOf(state.get(n)) === 'Approved'), 120_000);
        for (const [i, node] of nodes.entries()) expect(maintenanceOf(nmd.state.get(node))?.eventId).toBe(events[i]);

        // Over the whole history: at most one node Draining at any moment, except the Preempt node
        // once its deadline forced it; and each drained in turn.
        nmd.expectComplete();
        let most = 0;
        const drainedInTurn: string[] = [];
        nmd.replay((state, entry) => {
          const drainingNow = all.filter((n) => phaseOf(state.get(n)) === 'Draining');
          most = Math.max(most, drainingNow.filter((n) => n !== urgent).length);
          if (drainingNow.length > 1) expect(drainingNow.includes(urgent) && entry.at >= forcedAt ? 'forced by the deadline' : `${drainingNow.join(', ')} Draining at once`).toBe('forced by the deadline');
          const name = entry.object.metadata.name;
          if (name !== urgent && phaseOf(entry.object) === 'Draining' && drainedInTurn[drainedInTurn.length - 1] !== name) drainedInTurn.push(name);
        });
        expect(most).toBe(1);
        expect([...drainedInTurn].sort()).toEqual([...nodes].sort());
      }),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '9. a pod whose PDB allows no disruption: the drain reports it blocked, keeps the node cordoned, never deletes the pod, fails after evictionTimeout',
    () =>
      withScenario('blocked', async (s) => {
        const node = s.azureNode(0);
        const nmd = await s.managedVms('azure', [node]);
        await s.deployment('db', { replicas: 1, nodes: [node] });
        const [pod] = await s.runningPods('db', 1, [node]);
        await s.pdb('db', { maxUnavailable: 0 });
        await s.spareNode();
        const pods = await s.watchPods();
        await s.startController(controllerConfig({ drain: { maxConcurrentDrains: '100%', maxGracePeriod: '5s', evictionTimeout: '20s' } }));
        await s.ready(nmd, [node]);

        const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
        const blocked = await nmd.until('the drain blocked', (state) => {
          const m = maintenanceOf(state.get(node));
          return m?.phase === 'Draining' && (m.blockedPods ?? []).length > 0 ? m : undefined;
        });
        expect(blocked.blockedPods).toEqual([{ namespace: s.namespace, name: pod!.name, reason: expect.stringMatching(/disruption budget db\b/) }]);
        const events = await s.expectEvents(node, ['DrainStarted', 'EvictionBlocked']);
        expect(events.find((e) => e.reason === 'EvictionBlocked')).toMatchObject({ type: 'Warning', message: expect.stringMatching(new RegExp(`${pod!.name}.*disruption budget db\\b`)) });

        const failed = await nmd.until('phase Failed', (state) => (phaseOf(state.get(node)) === 'Failed' ? state.get(node)!.status : undefined), 60_000);
        expect(failed.maintenance).toMatchObject({ eventId, pendingPods: 1, evictedPods: 0 });
        expect(failed.maintenance?.lastError).toMatch(/timed out.*disruption budget db\b/);
        expect(failed.conditions?.find((c) => c.type === 'Drained')).toMatchObject({ status: 'False', reason: 'DrainFailed' });
        const drainFailed = (await s.expectEvents(node, ['DrainFailed'])).find((e) => e.reason === 'DrainFailed');
        expect(drainFailed?.type).toBe('Warning');

        // It stays that way: cordoned by nodemeta, tainted, the pod in place and never asked to approve.
        await sleep(5_000);
        expect(phaseOf(nmd.state.get(node))).toBe('Failed');
        const n = await readNode(node);
        expect(n.spec?.unschedulable).toBe(true);
        expect(n.metadata?.annotations?.[CORDONED_ANNOTATION]).toBe(eventId);
        expect(nodemetaTaints(n)).toContainEqual({ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' });

        // The event goes (the platform gave up on it): the node is given back, the pod untouched.
        await s.control('DELETE', `/events/${eventId}`);
        await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed');
        await waitFor('uncordoned and untainted', async () => {
          const after = await readNode(node);
          return after.spec?.unschedulable !== true && nodemetaTaints(after).length === 0 && after.metadata?.annotations?.[CORDONED_ANNOTATION] === undefined;
        });
        pods.expectComplete();
        expect(pods.history.filter((e) => isTerminating(e.object) || e.type === 'DELETED')).toEqual([]);
        expect([...pods.state.values()].map((p) => p.metadata.uid)).toEqual([pod!.uid]);
        nmd.expectComplete();
        nmd.replay((state) => expect(maintenanceOf(state.get(node))?.approve).toBeUndefined());
        expect(s.evictionsLogged().size).toBe(0);
      }),
    SCENARIO_TIMEOUT,
  );
});
