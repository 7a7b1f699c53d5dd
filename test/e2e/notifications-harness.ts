// Helpers of the notification e2e tests (notifications.test.ts, notifications-proxy.test.ts): sinks
// whose URL (a token in its path) is in a file, as the chart mounts a Secret key; a receiver per
// test; what the receiver and the statuses say.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebhookReceiver, type ReceivedRequest } from './lib/webhook-receiver.js';
import { phaseOf, type RawNodeMetadata, type Recorder, type Scenario } from './maintenance-harness.js';

export const REBOOT = ['Scheduled', 'DrainStarted', 'Drained', 'Approved', 'Completed'];

/**
 * A sink whose URL (with a token in its path) is in a file of its own, as the chart mounts a Secret
 * key. It subscribes to the maintenance steps (REBOOT) unless
 * `extra` says otherwise: DrainAtRisk depends on whether the drain-readiness verdict was in when
 * the event came, which these scenarios do not control (test/e2e/drain-readiness.test.ts does).
 */
export function sink(receiver: WebhookReceiver, token: string, name: string, format: string, extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodemeta-e2e-webhook-'));
  const file = path.join(dir, 'url');
  writeFileSync(file, `${receiver.base}/${name}/hooks/${token}\n`);
  return { name, format, urlFrom: { file }, transitions: REBOOT, ...extra };
}

export const transitionsOf = (requests: ReceivedRequest[]) => requests.map((r) => r.body.transition as string);
export const pendingOf = (object: RawNodeMetadata | undefined) => (object?.status?.notifications?.pending ?? []).map((entry) => entry.transition);

/** Phase `phase` reached and every notification recorded so far sent and confirmed (status.notifications gone). */
export function settledIn(nmd: Recorder<RawNodeMetadata>, node: string, phase: string, timeoutMs = 90_000) {
  return nmd.until(`phase ${phase} with every notification confirmed`, (state) => phaseOf(state.get(node)) === phase && state.get(node)?.status?.notifications === undefined, timeoutMs);
}

export async function metric(s: Scenario, controller: number, name: string): Promise<number> {
  const text = await s.controllers[controller]!.metrics();
  return Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

export async function withReceiver(body: (receiver: WebhookReceiver) => Promise<void>): Promise<void> {
  const receiver = await WebhookReceiver.start();
  try {
    await body(receiver);
  } finally {
    await receiver.close();
  }
}
