// The bodies a sink sends, one per format (docs/notifications.md). Pure: a notification in, JSON out.
// - generic: nodemeta's own versioned body (apiVersion nodemeta.io/notification/v1), for any receiver.
// - slack:   a Slack incoming-webhook message: `text` (the notification's fallback and preview) and
//            Block Kit `blocks` (header, fields, context), within Slack's documented limits.
// - teams:   a Microsoft Teams Workflows message ("When a Teams webhook request is received"): a
//            `message` whose one attachment is an Adaptive Card (1.4, which Teams renders everywhere).

import { NotificationTransition, type PendingNotification } from '../../api/nodemetadata.js';
import type { NotificationFormat } from '../config/config.js';

export const GENERIC_API_VERSION = 'nodemeta.io/notification/v1';
export const GENERIC_KIND = 'MaintenanceNotification';

/** What a sink is asked to send: a recorded transition, the node it is about, the cluster's name. */
export interface Notification {
  /** Stable across senders (a repeat after a leader change has the same id): node/event/transition/time. */
  id: string;
  /** notifications.clusterName; '' when not configured. */
  cluster: string;
  node: NodeFacts;
  entry: PendingNotification;
}

/** The node's facts the agent reported (NodeMetadata status), as far as known. */
export interface NodeFacts {
  name: string;
  provider?: string;
  region?: string;
  zone?: string;
}

export function notificationId(node: string, entry: Pick<PendingNotification, 'eventId' | 'transition' | 'time'>): string {
  return `${node}/${entry.eventId}/${entry.transition}/${entry.time}`;
}

/** The body for `format`, as the JSON text to send. */
export function renderNotification(format: NotificationFormat, notification: Notification): string {
  switch (format) {
    case 'slack':
      return JSON.stringify(slackBody(notification));
    case 'teams':
      return JSON.stringify(teamsBody(notification));
    default:
      return JSON.stringify(genericBody(notification));
  }
}

// ---- generic ----

export interface GenericBody {
  apiVersion: typeof GENERIC_API_VERSION;
  kind: typeof GENERIC_KIND;
  id: string;
  time: string;
  cluster: string;
  transition: PendingNotification['transition'];
  phase: PendingNotification['phase'];
  summary: string;
  node: NodeFacts;
  event: { id: string; type?: string; notBefore?: string };
  pods: { total?: number; evicted?: number; pending?: number; blocked?: number };
  detail?: string;
  /** Present (true) when the controller runs in dry run: what a real run would have done; nothing was. */
  dryRun?: true;
}

export function genericBody(notification: Notification): GenericBody {
  const { entry } = notification;
  const event: GenericBody['event'] = { id: entry.eventId };
  if (entry.eventType !== undefined) event.type = entry.eventType;
  if (entry.notBefore !== undefined) event.notBefore = entry.notBefore;
  const body: GenericBody = {
    apiVersion: GENERIC_API_VERSION,
    kind: GENERIC_KIND,
    id: notification.id,
    time: entry.time,
    cluster: notification.cluster,
    transition: entry.transition,
    phase: entry.phase,
    summary: `${entry.dryRun === true ? DRY_RUN_PREFIX : ''}${summaryOf(notification)}`,
    node: { ...notification.node },
    event,
    pods: podCounts(entry),
  };
  if (entry.detail !== undefined) body.detail = entry.detail;
  if (entry.dryRun === true) body.dryRun = true;
  return body;
}

function podCounts(entry: PendingNotification): GenericBody['pods'] {
  const pods: GenericBody['pods'] = {};
  if (entry.totalPods !== undefined) pods.total = entry.totalPods;
  if (entry.evictedPods !== undefined) pods.evicted = entry.evictedPods;
  if (entry.pendingPods !== undefined) pods.pending = entry.pendingPods;
  if (entry.blockedPods !== undefined) pods.blocked = entry.blockedPods;
  return pods;
}

// ---- words ----

const TITLES: Record<PendingNotification['transition'], string> = {
  Scheduled: 'Maintenance scheduled',
  SpotReclaim: 'Spot VM reclaimed',
  Cordoned: 'Node cordoned',
  DrainStarted: 'Drain started',
  Drained: 'Node drained',
  DrainFailed: 'Drain failed',
  Approved: 'Maintenance approved',
  Completed: 'Maintenance completed',
  Cancelled: 'Maintenance cancelled',
  DrainAtRisk: 'Drain at risk',
  PodDeletedAtDeadline: 'Pod deleted at the deadline',
};

/** Before the title (Slack, Teams) and the generic summary of a dry run's notification. */
export const DRY_RUN_PREFIX = '[dry run] ';

/** A title: `[cluster] Drain started: node`, `[dry run] [cluster] Drain started: node` in dry run. */
export function titleOf(notification: Notification): string {
  const dryRun = notification.entry.dryRun === true ? DRY_RUN_PREFIX : '';
  const cluster = notification.cluster === '' ? '' : `[${notification.cluster}] `;
  return `${dryRun}${cluster}${TITLES[notification.entry.transition]}: ${notification.node.name}`;
}

/** One sentence a person reads in a chat preview or a log. */
export function summaryOf(notification: Notification): string {
  const { entry, node } = notification;
  const event = `${entry.eventType ?? 'event'} ${entry.eventId}`;
  const notBefore = entry.notBefore === undefined ? '' : `, not before ${entry.notBefore}`;
  switch (entry.transition) {
    case NotificationTransition.Scheduled:
      return `${event} scheduled for node ${node.name}${notBefore}`;
    case NotificationTransition.SpotReclaim:
      return `spot VM of node ${node.name} is reclaimed (${event})${notBefore}`;
    case NotificationTransition.Cordoned:
      return `node ${node.name} cordoned for ${event}; its pods stay for now`;
    case NotificationTransition.DrainStarted:
      return `node ${node.name} cordoned and draining for ${event}: ${entry.totalPods ?? 0} pods to evict`;
    case NotificationTransition.Drained:
      return `node ${node.name} drained for ${event}: ${entry.evictedPods ?? 0} pods evicted`;
    case NotificationTransition.DrainFailed:
      return `drain of node ${node.name} failed for ${event}; the node stays cordoned${entry.detail === undefined ? '' : `: ${entry.detail}`}`;
    case NotificationTransition.Approved:
      return `${event} approved on node ${node.name}: the platform may start it now`;
    case NotificationTransition.Completed:
      return `${event} is over on node ${node.name}; the node is back in service`;
    case NotificationTransition.Cancelled:
      return `${event} for node ${node.name} was cancelled; the node is back in service`;
    case NotificationTransition.DrainAtRisk:
      return `${event} scheduled for node ${node.name}, which cannot be drained now${entry.detail === undefined ? '' : `: ${entry.detail}`}`;
    case NotificationTransition.PodDeletedAtDeadline:
      return `${event}: a pod still on node ${node.name} was deleted before the deadline, overriding its PodDisruptionBudget${entry.detail === undefined ? '' : `: ${entry.detail}`}`;
  }
}

/** Name/value pairs shown by Slack (fields) and Teams (a FactSet). */
function facts(notification: Notification): [string, string][] {
  const { entry, node } = notification;
  const rows: [string, string][] = [];
  if (notification.cluster !== '') rows.push(['Cluster', notification.cluster]);
  rows.push(['Node', node.name]);
  const where = [node.provider, node.zone ?? node.region].filter((part) => part !== undefined && part !== '').join(', ');
  if (where !== '') rows.push(['Provider, zone', where]);
  rows.push(['Event', `${entry.eventType ?? 'event'} ${entry.eventId}`]);
  if (entry.notBefore !== undefined) rows.push(['Not before', entry.notBefore]);
  rows.push(['Phase', entry.phase]);
  const pods = podCounts(entry);
  if (pods.total !== undefined) rows.push(['Pods', `${pods.evicted ?? 0} evicted, ${pods.pending ?? 0} pending, ${pods.blocked ?? 0} blocked (of ${pods.total})`]);
  return rows;
}

// ---- slack ----

/** Slack's limits: header text 150 characters, a field 2,000, a section 3,000, 10 fields a section. */
const SLACK_HEADER_MAX = 150;
const SLACK_FIELD_MAX = 2000;
const SLACK_TEXT_MAX = 3000;

export function slackBody(notification: Notification): { text: string; blocks: unknown[] } {
  const summary = summaryOf(notification);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(titleOf(notification), SLACK_HEADER_MAX), emoji: false } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(slackEscape(summary), SLACK_TEXT_MAX) } },
    { type: 'section', fields: facts(notification).slice(0, 10).map(([name, value]) => ({ type: 'mrkdwn', text: cut(`*${name}*\n${slackEscape(value)}`, SLACK_FIELD_MAX) })) },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `nodemeta · ${notification.entry.transition} · ${notification.entry.time}` }] },
  ];
  // `text` is what notifications and screen readers show; blocks are the message itself.
  return { text: cut(slackEscape(`${titleOf(notification)}: ${summary}`), SLACK_TEXT_MAX), blocks };
}

/** Slack reads &, < and > as control characters in text; escape them (Slack's "Escaping text"). */
function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

// ---- teams ----

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

export function teamsBody(notification: Notification): { type: 'message'; attachments: unknown[] } {
  const warning = notification.entry.transition === NotificationTransition.DrainFailed;
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: titleOf(notification), weight: 'Bolder', size: 'Medium', wrap: true, ...(warning ? { color: 'Attention' } : {}) },
      { type: 'TextBlock', text: summaryOf(notification), wrap: true },
      { type: 'FactSet', facts: facts(notification).map(([title, value]) => ({ title, value })) },
    ],
    msteams: { width: 'Full' },
  };
  return { type: 'message', attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, contentUrl: null, content: card }] };
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
