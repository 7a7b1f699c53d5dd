// Issue 22, notifications through the egress proxy a cluster requires: the real controller process,
// with HTTPS_PROXY and HTTP_PROXY in its environment, sends a node's Reboot notifications (played by
// the real control plane, kwok, the agent and the emulator) to two real receivers on loopback, one
// only reachable through a real forward proxy (lib/forward-proxy.ts: CONNECT tunnels, a log of every
// request), the other named in NO_PROXY. Then the proxy refuses with 407, as one that wants
// credentials does: the proxied sink says so (log line, metric reason), the other still gets its
// notifications, and no log line holds a webhook URL or its token. Conditions, never fixed times.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { installCrd } from './controller-harness.js';
import { waitFor } from './lib/cluster.js';
import { ForwardProxy } from './lib/forward-proxy.js';
import { controllerConfig, phaseOf, withScenario } from './maintenance-harness.js';
import { metric, REBOOT, settledIn, sink, transitionsOf, withReceiver } from './notifications-harness.js';

const SCENARIO_TIMEOUT = 240_000;

beforeAll(async () => {
  await installCrd();
});

/** The controller's JSON log lines. */
const parsed = (logs: string[]) => logs.flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : []));

describe('notifications through a forward proxy', () => {
  test(
    'HTTPS_PROXY/HTTP_PROXY: through the proxy; NO_PROXY: around it; a proxy refusing with 407 is named as such, never the URL',
    () =>
      withScenario('proxy', (s) =>
        withReceiver((proxied) =>
          withReceiver(async (bypassed) => {
            const proxy = await ForwardProxy.start();
            try {
              const token = `tok-${s.short}-s3cr3t`;
              const node = s.azureNode(0);
              const nmd = await s.managedVms('azure', [node]);
              const config = controllerConfig({ notifications: { sinks: [sink(proxied, token, 'proxied', 'generic'), sink(bypassed, token, 'bypassed', 'generic')] } });
              const bypassedHost = new URL(bypassed.base).host;
              const controller = await s.startController(config, 'a', [], { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: `localhost,${bypassedHost}` });
              await s.ready(nmd, [node]);

              // 1. A Reboot: each sink gets every transition; the proxied one's through the proxy.
              const first = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
              await nmd.until('phase Approved', (state) => phaseOf(state.get(node)) === 'Approved', 120_000);
              await s.control('DELETE', `/events/${first}`);
              await settledIn(nmd, node, 'Completed');
              expect(transitionsOf(proxied.accepted('proxied'))).toEqual(REBOOT);
              expect(transitionsOf(bypassed.accepted('bypassed'))).toEqual(REBOOT);
              // The proxy's log: tunnels to the proxied receiver only (one connection, reused, or a
              // few when the receiver closed an idle one); nothing for the receiver in NO_PROXY.
              expect(proxy.log.length).toBeGreaterThanOrEqual(1);
              expect(proxy.log.every((entry) => entry.method === 'CONNECT' && entry.target === new URL(proxied.base).host && entry.status === 200)).toBe(true);
              expect(proxy.log.some((entry) => entry.target === bypassedHost)).toBe(false);
              expect(parsed(controller.logs)).toContainEqual(expect.objectContaining({ message: 'notification sink sends through a proxy', sink: 'proxied', proxy: proxy.url }));

              // 2. The proxy refuses with 407: the proxied sink gives up at once, saying why; the
              //    bypassed one still gets the next Reboot's notifications.
              // The tunnel the sink keeps open would carry on: the refusal shows on a new connection.
              proxy.refuse(407);
              proxy.dropConnections();
              const second = await s.postEvent({ type: 'Reboot', resources: [node], lifecycle: 'manual' });
              const failure = await waitFor('the proxied sink to give up on the proxy', () =>
                parsed(controller.logs).find((line) => line.message === 'notification failed, giving up' && line.sink === 'proxied' && line.eventId === second),
              );
              expect(failure).toMatchObject({ reason: 'proxy refused: 407 Proxy Authentication Required', attempts: 1, node });
              await waitFor('the bypassed sink to get the second Reboot', () => bypassed.accepted('bypassed').some((r) => (r.body.event as { id: string }).id === second));
              expect(proxy.log.filter((entry) => entry.status === 407).length).toBeGreaterThanOrEqual(1);
              expect(proxied.requests.filter((r) => (r.body.event as { id: string }).id === second)).toEqual([]);
              expect(await metric(s, 0, 'nodemeta_controller_notifications_failed_requests_total{sink="proxied",reason="ProxyRefused"}')).toBeGreaterThanOrEqual(1);
              expect(await metric(s, 0, 'nodemeta_controller_notifications_failed_requests_total{sink="bypassed",reason="ProxyRefused"}')).toBe(0);

              // No webhook URL, nor its token, in any log line or metric.
              const logs = controller.logs.join('\n');
              for (const secret of [token, `${proxied.base}/`, `${bypassed.base}/`]) expect(logs).not.toContain(secret);
              expect(await controller.metrics()).not.toContain(token);
            } finally {
              await proxy.close();
            }
          }),
        ),
      ),
    SCENARIO_TIMEOUT,
  );
});
