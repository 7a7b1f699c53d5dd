// The three bodies: nodemeta's generic v1, Slack's incoming-webhook message, Teams' Workflows message.
import { describe, expect, test } from '@jest/globals';
import type { PendingNotification } from '../../../src/api/nodemetadata.js';
import {
  ADAPTIVE_CARD_CONTENT_TYPE,
  GENERIC_API_VERSION,
  genericBody,
  notificationId,
  renderNotification,
  slackBody,
  summaryOf,
  teamsBody,
  type Notification,
} from '../../../src/controller/notifications/formats.js';

const NODE = 'aks-pool1-12345678-vmss000000';

function notification(entry: Partial<PendingNotification> = {}, cluster = 'prod-westeurope'): Notification {
  const full: PendingNotification = {
    transition: 'DrainStarted',
    time: '2026-11-22T04:00:01.250Z',
    eventId: 'df21a730-0000-4000-8000-000000000001',
    eventType: 'Reboot',
    notBefore: '2026-11-22T04:15:00Z',
    phase: 'Draining',
    totalPods: 4,
    evictedPods: 1,
    pendingPods: 3,
    blockedPods: 1,
    ...entry,
  };
  return { id: notificationId(NODE, full), cluster, node: { name: NODE, provider: 'azure', region: 'westeurope', zone: 'westeurope-1' }, entry: full };
}

describe('generic (nodemeta.io/notification/v1)', () => {
  test('the documented body', () => {
    expect(genericBody(notification())).toEqual({
      apiVersion: GENERIC_API_VERSION,
      kind: 'MaintenanceNotification',
      id: `${NODE}/df21a730-0000-4000-8000-000000000001/DrainStarted/2026-11-22T04:00:01.250Z`,
      time: '2026-11-22T04:00:01.250Z',
      cluster: 'prod-westeurope',
      transition: 'DrainStarted',
      phase: 'Draining',
      summary: `node ${NODE} cordoned and draining for Reboot df21a730-0000-4000-8000-000000000001: 4 pods to evict`,
      node: { name: NODE, provider: 'azure', region: 'westeurope', zone: 'westeurope-1' },
      event: { id: 'df21a730-0000-4000-8000-000000000001', type: 'Reboot', notBefore: '2026-11-22T04:15:00Z' },
      pods: { total: 4, evicted: 1, pending: 3, blocked: 1 },
    });
    expect(JSON.parse(renderNotification('generic', notification()))).toEqual(genericBody(notification()));
  });

  test('what is not known is left out: no pod counts before a drain, no NotBefore once started; a failed drain says why', () => {
    const scheduled = genericBody(notification({ transition: 'Scheduled', phase: 'Scheduled', totalPods: undefined, evictedPods: undefined, pendingPods: undefined, blockedPods: undefined, notBefore: undefined }));
    expect(scheduled.pods).toEqual({});
    expect(scheduled.event).toEqual({ id: 'df21a730-0000-4000-8000-000000000001', type: 'Reboot' });
    expect(genericBody(notification({ transition: 'DrainFailed', phase: 'Failed', detail: 'drain timed out after 1800s with 1 pods left' })).detail).toBe('drain timed out after 1800s with 1 pods left');
  });

  test('every transition has a summary naming the node and the event', () => {
    for (const transition of ['Scheduled', 'SpotReclaim', 'Cordoned', 'DrainStarted', 'Drained', 'DrainFailed', 'Approved', 'Completed', 'Cancelled'] as const) {
      const text = summaryOf(notification({ transition }));
      expect(text).toContain(NODE);
      expect(text).toContain('df21a730-0000-4000-8000-000000000001');
    }
  });
});

describe('slack (incoming webhook)', () => {
  test('text for notifications and previews, and Block Kit blocks: header, summary, fields, context', () => {
    const body = slackBody(notification());
    expect(body.text).toBe(`[prod-westeurope] Drain started: ${NODE}: ${summaryOf(notification())}`);
    const [header, summary, fields, context] = body.blocks as { type: string; text?: { type: string; text: string }; fields?: { type: string; text: string }[]; elements?: unknown[] }[];
    expect(header).toEqual({ type: 'header', text: { type: 'plain_text', text: `[prod-westeurope] Drain started: ${NODE}`, emoji: false } });
    expect(summary).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
    expect(fields!.type).toBe('section');
    expect(fields!.fields!.map((field) => field.text.split('\n')[0])).toEqual(['*Cluster*', '*Node*', '*Provider, zone*', '*Event*', '*Not before*', '*Phase*', '*Pods*']);
    expect(fields!.fields!.find((field) => field.text.startsWith('*Pods*'))!.text).toBe('*Pods*\n1 evicted, 3 pending, 1 blocked (of 4)');
    expect(context).toMatchObject({ type: 'context' });
  });

  test("within Slack's limits, with &, < and > escaped", () => {
    const body = slackBody(notification({ transition: 'DrainFailed', phase: 'Failed', detail: `<script>&${'x'.repeat(5000)}` }, 'c'.repeat(200)));
    const [header, summary, fields] = body.blocks as { text?: { text: string }; fields?: { text: string }[] }[];
    expect(header!.text!.text.length).toBeLessThanOrEqual(150);
    expect(summary!.text!.text.length).toBeLessThanOrEqual(3000);
    expect(summary!.text!.text).toContain('&lt;script&gt;&amp;');
    expect(body.text.length).toBeLessThanOrEqual(3000);
    expect(fields!.fields!.length).toBeLessThanOrEqual(10);
    for (const field of fields!.fields!) expect(field.text.length).toBeLessThanOrEqual(2000);
  });
});

describe('teams (Workflows: a message with an Adaptive Card)', () => {
  test("the shape Teams' webhook trigger takes", () => {
    const body = teamsBody(notification());
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    const attachment = body.attachments[0] as { contentType: string; contentUrl: null; content: { type: string; version: string; $schema: string; body: { type: string; text?: string; facts?: { title: string; value: string }[] }[] } };
    expect(attachment.contentType).toBe(ADAPTIVE_CARD_CONTENT_TYPE);
    expect(attachment.contentUrl).toBeNull();
    expect(attachment.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json' });
    expect(attachment.content.body.map((element) => element.type)).toEqual(['TextBlock', 'TextBlock', 'FactSet']);
    expect(attachment.content.body[0]!.text).toBe(`[prod-westeurope] Drain started: ${NODE}`);
    expect(attachment.content.body[2]!.facts).toContainEqual({ title: 'Node', value: NODE });
    expect(JSON.parse(renderNotification('teams', notification()))).toEqual(body);
  });

  test('a failed drain stands out; no cluster name, no cluster fact', () => {
    const body = teamsBody(notification({ transition: 'DrainFailed', phase: 'Failed' }, ''));
    const card = (body.attachments[0] as { content: { body: { color?: string; text?: string; facts?: { title: string }[] }[] } }).content;
    expect(card.body[0]).toMatchObject({ color: 'Attention', text: `Drain failed: ${NODE}` });
    expect(card.body[2]!.facts!.map((fact) => fact.title)).not.toContain('Cluster');
  });
});
