// Notifications in dry run (docs/notifications.md, "Dry run"): a dry run's transitions are recorded
// and sent like a real run's, marked: the generic body has `dryRun: true` and its summary, Slack's and
// Teams' titles (and so Slack's text) begin with "[dry run]".
import { describe, expect, test } from '@jest/globals';
import type { MaintenanceStatus, PendingNotification } from '../../../src/api/nodemetadata.js';
import { genericBody, notificationId, slackBody, teamsBody, type Notification } from '../../../src/controller/notifications/formats.js';
import { recordedTransitions } from '../../../src/controller/notifications/transitions.js';

const NODE = 'aks-pool1-12345678-vmss000000';
const NOW = new Date(Date.UTC(2026, 10, 22, 4, 0, 1, 250));

function notification(entry: PendingNotification): Notification {
  return { id: notificationId(NODE, entry), cluster: 'prod', node: { name: NODE, provider: 'azure', zone: 'westeurope-1' }, entry };
}

describe('notifications of a dry run', () => {
  const draining: MaintenanceStatus = { phase: 'Draining', eventId: 'EV-1', eventType: 'Reboot', totalPods: 3, evictedPods: 0, pendingPods: 3 };
  const step = (status: MaintenanceStatus) => ({ status, actions: [{ kind: 'Emit', type: 'Normal', reason: 'DrainStarted', message: '[dry run] Reboot EV-1: evicting 3 pods' }] as const });

  test('are recorded marked when the status is a dry run\'s, and not otherwise', () => {
    expect(recordedTransitions(step({ ...draining, dryRun: true }), NOW)).toEqual([expect.objectContaining({ transition: 'DrainStarted', dryRun: true })]);
    expect(recordedTransitions(step(draining), NOW)[0]).not.toHaveProperty('dryRun');
  });

  test('say so in every format', () => {
    const [entry] = recordedTransitions(step({ ...draining, dryRun: true }), NOW);
    const marked = notification(entry!);
    const generic = genericBody(marked);
    expect(generic.dryRun).toBe(true);
    expect(generic.summary).toMatch(/^\[dry run\] node aks-pool1-12345678-vmss000000 cordoned and draining/);
    expect(slackBody(marked).text).toMatch(/^\[dry run\] \[prod\] Drain started: /);
    const card = (teamsBody(marked).attachments[0] as { content: { body: { text: string }[] } }).content;
    expect(card.body[0]!.text).toBe(`[dry run] [prod] Drain started: ${NODE}`);

    const real = notification(recordedTransitions(step(draining), NOW)[0]!);
    expect(genericBody(real)).not.toHaveProperty('dryRun');
    expect(slackBody(real).text).toMatch(/^\[prod\] Drain started/);
  });
});
