// Issue 10, notifications end to end: the controller process sends webhook notifications of a
// node's maintenance to a real HTTP receiver on loopback while the real control plane, kwok, the
// agents and the emulator play a Reboot. Each scenario has its own nodes, controller(s) and receiver
// (maintenance-harness.ts), and waits for conditions, never for a fixed time.
// - A Reboot under a PodDisruptionBudget: each sink gets exactly the transitions it asked for, in
//   order, in its format; a receiver that answers 500 first gets each one all the same; the URL (its
//   token) appears in no log line, Event, status or metric.
// - A receiver that never answers holds up neither the cordon and the drain nor the other sinks.
// - The leader killed while its receiver hangs: the new leader sends every recorded transition,
//   in order, once.
// - The receiver took a notification (2xx) and the leader died before confirming it: the new leader
//   sends that one again, once (the one repeat docs/notifications.md allows), and every other once.
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { FAST_LEASE, installCrd, readNode } from './controller-harness.js';
import { kubeConfig, waitFor } from './lib/cluster.js';
import type { WebhookReceiver } from './lib/webhook-receiver.js';
import { controllerConfig, maintenanceOf, phaseOf, withScenario, type Scenario } from './maintenance-harness.js';
import { metric, pendingOf, REBOOT, settledIn, sink, transitionsOf, withReceiver } from './notifications-harness.js';

const SCENARIO_TIMEOUT = 240_000;

beforeAll(async () => {
  await installCrd();
});

describe('notifications end to end', () => {
  test.concurrent(
    '1. a Reboot under a PDB: each sink gets exactly its transitions, in order, in its format; 500 then 200 still delivers each; the URL shows nowhere',
    () =>
      withScenario('notify', (s) =>
        withReceiver(async (receiver) => {
          const token = `tok-${s.short}-s3cr3t`;
          const node = s.azureNode(0);
          const nmd = await s.managedVms('azure', [node]);
          await s.deployment('web', { replicas: 3, nodes: [node] });
          await s.runningPods('web', 3, [node]);
          await s.pdb('web', { maxUnavailable: 1 });
          await s.spareNode();
          receiver.answer('flaky', 'fail-first');
          const config = controllerConfig({
            notifications: {
              clusterName: `e2e-${s.short}`,
              sinks: [
                sink(receiver, token, 'generic', 'generic'),
                sink(receiver, token, 'slack', 'slack', { transitions: ['Scheduled', 'Completed'] }),
                sink(receiver, token, 'teams', 'teams', { transitions: ['DrainStarted', 'Drained', 'Approved'] }),
                sink(receiver, token, 'flaky', 'generic'),
              ],
            },
          });
          expect(config).not.toContain(token);
          const controller = await s.startController(config);
          await s.ready(nmd, [node]);

          const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved', 120_000);
          await s.control('DELETE', `/events/${eventId}`);
          await settledIn(nmd, node, 'Completed');

          // Exactly the transitions each sink asked for, in the order they happened.
          expect(transitionsOf(receiver.accepted('generic'))).toEqual(REBOOT);
          expect(receiver.accepted('slack')).toHaveLength(2);
          expect(receiver.accepted('teams')).toHaveLength(3);
          expect(transitionsOf(receiver.accepted('flaky'))).toEqual(REBOOT);
          // Nothing else arrived (a notification refused once is the flaky sink's, asked again).
          expect(receiver.requests.filter((r) => r.sink !== 'flaky')).toHaveLength(REBOOT.length + 2 + 3);

          // generic: nodemeta.io/notification/v1, the node, the event, the pods, the cluster.
          const generic = receiver.accepted('generic').map((r) => r.body);
          for (const body of generic) {
            expect(body).toMatchObject({ apiVersion: 'nodemeta.io/notification/v1', kind: 'MaintenanceNotification', cluster: `e2e-${s.short}`, node: { name: node, provider: 'azure' }, event: { id: eventId, type: 'Reboot' } });
            expect(typeof (body.node as { zone?: unknown }).zone).toBe('string');
            expect(body.id).toBe(`${node}/${eventId}/${body.transition as string}/${body.time as string}`);
          }
          expect(generic.map((body) => body.phase)).toEqual(['Scheduled', 'Draining', 'Drained', 'Approved', 'Completed']);
          expect(generic[0]!.event).toHaveProperty('notBefore');
          expect(generic[1]!.pods).toMatchObject({ total: 3 });
          expect(generic[2]!.pods).toMatchObject({ total: 3, evicted: 3, pending: 0 });
          expect(new Set(generic.map((body) => body.id)).size).toBe(REBOOT.length);

          // 500 then 200: each notification asked twice, accepted the second time, in order.
          const flaky = receiver.requests.filter((r) => r.sink === 'flaky');
          expect(flaky.map((r) => r.status)).toEqual(REBOOT.flatMap(() => [500, 200]));
          expect(receiver.accepted('flaky').map((r) => r.body.id)).toEqual(generic.map((body) => body.id));

          // slack: an incoming-webhook message; teams: a Workflows message carrying an Adaptive Card.
          for (const request of receiver.accepted('slack')) {
            expect(typeof request.body.text).toBe('string');
            expect((request.body.blocks as { type: string }[]).map((block) => block.type)).toEqual(['header', 'section', 'section', 'context']);
          }
          expect(receiver.accepted('slack').map((r) => r.body.text)).toEqual([expect.stringContaining('Maintenance scheduled'), expect.stringContaining('Maintenance completed')]);
          for (const request of receiver.accepted('teams')) {
            expect(request.body).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard' } }] });
          }
          expect(receiver.requests.every((r) => r.userAgent === `nodemeta-controller/${controller.identity}`)).toBe(true);

          // Per-sink metrics.
          expect(await metric(s, 0, 'nodemeta_controller_notifications_sent_total{sink="generic"}')).toBe(5);
          expect(await metric(s, 0, 'nodemeta_controller_notifications_sent_total{sink="teams"}')).toBe(3);
          expect(await metric(s, 0, 'nodemeta_controller_notifications_retries_total{sink="flaky"}')).toBe(5);
          expect(await metric(s, 0, 'nodemeta_controller_notifications_latency_seconds_count{sink="flaky"}')).toBe(5);

          // The URL's token: in no log line, Event, NodeMetadata or metric.
          const metrics = await controller.metrics();
          expect(metrics).not.toContain(token);
          for (const name of ['generic', 'slack', 'teams', 'flaky']) {
            expect(metrics).toContain(`nodemeta_controller_notifications_dropped_total{sink="${name}"} 0`);
            expect(metrics).toContain(`nodemeta_controller_notifications_failed_total{sink="${name}"} 0`);
          }
          expect(controller.logs.join('\n')).not.toContain(token);
          const events = await kubeConfig().makeApiClient(CoreV1Api).listEventForAllNamespaces();
          expect(JSON.stringify(events.items)).not.toContain(token);
          expect(JSON.stringify(nmd.history)).not.toContain(token);
        }),
      ),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '2. a receiver that never answers holds up neither the cordon and the drain nor the other sinks',
    () =>
      withScenario('notifyhang', (s) =>
        withReceiver(async (receiver) => {
          const token = `tok-${s.short}-s3cr3t`;
          const node = s.azureNode(0);
          const nmd = await s.managedVms('azure', [node]);
          await s.deployment('web', { replicas: 2, nodes: [node] });
          await s.runningPods('web', 2, [node]);
          await s.spareNode();
          receiver.answer('stuck', 'hang');
          // The stuck sink waits 5 minutes for its first answer: far longer than this test.
          const config = controllerConfig({ notifications: { sinks: [sink(receiver, token, 'stuck', 'generic', { timeout: '5m' }), sink(receiver, token, 'ok', 'generic')] } });
          await s.startController(config);
          await s.ready(nmd, [node]);

          await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          await nmd.until('phase Drained', (state) => ['Drained', 'Approved'].includes(phaseOf(state.get(node))), 120_000);
          const cordoned = await readNode(node);
          expect(cordoned.spec?.unschedulable).toBe(true);
          await s.runningPods('web', 2, [s.spare]);
          await waitFor('the other sink to get the drain', () => transitionsOf(receiver.accepted('ok')).slice(0, 3).join() === 'Scheduled,DrainStarted,Drained');

          // All of that happened while the stuck sink's first request (Scheduled) was still open.
          expect(receiver.accepted('stuck')).toEqual([]);
          expect(transitionsOf(receiver.hanging('stuck'))).toEqual(['Scheduled']);
          expect(await metric(s, 0, 'nodemeta_controller_notifications_queue_depth{sink="stuck"}')).toBeGreaterThanOrEqual(3);
          expect(await metric(s, 0, 'nodemeta_controller_notifications_dropped_total{sink="stuck"}')).toBe(0);
          // And their notifications wait in the outbox, unconfirmed, for the stuck sink.
          expect(pendingOf(nmd.state.get(node)).slice(0, 3)).toEqual(['Scheduled', 'DrainStarted', 'Drained']);
        }),
      ),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '3. the leader killed while its receiver hangs: the new leader sends every recorded transition, in order, once',
    () =>
      withScenario('notifyfail', (s) =>
        withReceiver(async (receiver) => {
          // The receiver never answers the first leader; it answers anyone else.
          const { node, nmd, first, second } = await twoControllersOneSink(s, receiver, 'hang');

          const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          // Every transition up to the approval recorded, none confirmed: a's only request hangs.
          await nmd.until('Approved, with its notifications recorded and unconfirmed', (state) => phaseOf(state.get(node)) === 'Approved' && pendingOf(state.get(node)).join() === 'Scheduled,DrainStarted,Drained,Approved', 120_000);
          expect(transitionsOf(receiver.hanging('all'))).toEqual(['Scheduled']);
          expect(receiver.accepted('all')).toEqual([]);

          await first.stop('SIGKILL');
          const killedAt = Date.now();
          await waitFor('controller b to lead', () => second.isLeader(), { timeoutMs: 60_000 });
          await waitFor('the new leader to send what was recorded', () => receiver.accepted('all').length >= 4, { timeoutMs: 60_000 });
          await s.control('DELETE', `/events/${eventId}`);
          await settledIn(nmd, node, 'Completed');

          const accepted = receiver.accepted('all');
          expect(transitionsOf(accepted)).toEqual(REBOOT);
          expect(new Set(accepted.map((r) => r.body.id)).size).toBe(REBOOT.length);
          expect(accepted.every((r) => r.userAgent === `nodemeta-controller/${second.identity}` && r.at > killedAt)).toBe(true);
          // Only the leader sends: b sent nothing while it followed.
          expect(receiver.requests.filter((r) => r.userAgent === `nodemeta-controller/${second.identity}` && r.at <= killedAt)).toEqual([]);
          expect(maintenanceOf(nmd.state.get(node))?.eventId).toBe(eventId);
        }),
      ),
    SCENARIO_TIMEOUT,
  );

  test.concurrent(
    '4. the receiver answered 2xx and the leader died before confirming: the new leader sends that notification again, once',
    () =>
      withScenario('notifyrepeat', (s) =>
        withReceiver(async (receiver) => {
          // The receiver takes the first leader's requests and holds its 2xx until the test has killed it.
          const { node, nmd, first, second } = await twoControllersOneSink(s, receiver, 'hold');
          const fromA = `nodemeta-controller/${first.identity}`;
          const fromB = `nodemeta-controller/${second.identity}`;

          const eventId = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
          await waitFor("the receiver to hold a's first notification", () => receiver.hanging('all').length === 1);
          expect(transitionsOf(receiver.hanging('all'))).toEqual(['Scheduled']);
          // Recorded with the transition, before it was sent, and not confirmed: a waits for the answer.
          await nmd.until('Scheduled pending in the status', (state) => pendingOf(state.get(node)).includes('Scheduled'), 30_000);

          await first.stop('SIGKILL');
          const killedAt = Date.now();
          // The receiver took it (2xx), after its sender was gone: nobody confirms it.
          expect(transitionsOf(receiver.release('all', 200))).toEqual(['Scheduled']);
          await waitFor('controller b to lead', () => second.isLeader(), { timeoutMs: 60_000 });
          await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved', 120_000);
          await s.control('DELETE', `/events/${eventId}`);
          await settledIn(nmd, node, 'Completed');

          const accepted = receiver.accepted('all');
          const byA = accepted.filter((r) => r.userAgent === fromA);
          const byB = accepted.filter((r) => r.userAgent === fromB);
          expect(transitionsOf(byA)).toEqual(['Scheduled']);
          // b sends what a recorded and did not confirm, Scheduled included (the repeat), then the rest, each once.
          expect(transitionsOf(byB)).toEqual(REBOOT);
          expect(byB.every((r) => r.at > killedAt)).toBe(true);
          // The repeat is the same notification (a receiver deduplicates on its id), and the only one.
          expect(byB[0]!.body).toEqual(byA[0]!.body);
          expect(receiver.requests).toHaveLength(REBOOT.length + 1);
          expect(new Set(accepted.map((r) => r.body.id)).size).toBe(REBOOT.length);
        }),
      ),
    SCENARIO_TIMEOUT,
  );
});

/**
 * Scenarios 3 and 4: one node with one replica of `web` and a spare node, one generic sink `all`,
 * controller a leading and b following (fast lease). The receiver gives a's requests `forLeader`
 * (hang: never answered; hold: answered when the test releases them) and answers anyone else 200.
 */
async function twoControllersOneSink(s: Scenario, receiver: WebhookReceiver, forLeader: 'hang' | 'hold') {
  const node = s.azureNode(0);
  const nmd = await s.managedVms('azure', [node]);
  await s.deployment('web', { replicas: 1, nodes: [node] });
  await s.runningPods('web', 1, [node]);
  await s.spareNode();
  const config = controllerConfig({ notifications: { sinks: [sink(receiver, `tok-${s.short}-s3cr3t`, 'all', 'generic', { timeout: '5m' })] } });
  const first = await s.startController(config, 'a', FAST_LEASE);
  receiver.answer('all', (request) => (request.userAgent === `nodemeta-controller/${first.identity}` ? forLeader : 200));
  await waitFor('controller a to lead', () => first.isLeader());
  const second = await s.startController(config, 'b', FAST_LEASE);
  await s.ready(nmd, [node]);
  return { node, nmd, first, second };
}
