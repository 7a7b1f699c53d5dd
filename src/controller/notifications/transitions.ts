// Which maintenance transitions a step records for the notification sinks, and the outbox that keeps
// them in NodeMetadata status until every sink that wants them has sent (or dropped) them. Pure.
//
// A transition is what the state machine announces with an Event on the Node (its Emit actions, the
// reasons docs/maintenance.md lists): each notification is one such Event, so what a receiver gets
// and what `kubectl describe node` shows agree. The step's status is the snapshot the body is built
// from: whoever sends it, now or after a leader change, sends the same thing.

import { EventReasons, type EventReason } from '../../api/event-reasons.js';
import { NotificationTransition, SPOT_TERMINATION, type MaintenanceStatus, type NotificationsStatus, type PendingNotification } from '../../api/nodemetadata.js';
import type { Action } from '../maintenance/state-machine.js';

/** The CRD bounds status.notifications.pending. */
export const MAX_PENDING_NOTIFICATIONS = 16;
/** The CRD bounds a pending notification's detail. */
export const MAX_DETAIL_LENGTH = 512;

/** Event reason (state-machine.ts) → transition. MaintenanceScheduled of a spot reclaim is SpotReclaim. */
export const TRANSITION_BY_REASON: Readonly<Partial<Record<EventReason, NotificationTransition>>> = {
  [EventReasons.MaintenanceScheduled]: NotificationTransition.Scheduled,
  [EventReasons.NodeCordoned]: NotificationTransition.Cordoned,
  [EventReasons.DrainWaitingForBudget]: NotificationTransition.Cordoned,
  [EventReasons.DrainStarted]: NotificationTransition.DrainStarted,
  [EventReasons.Drained]: NotificationTransition.Drained,
  [EventReasons.DrainFailed]: NotificationTransition.DrainFailed,
  [EventReasons.MaintenanceApproved]: NotificationTransition.Approved,
  [EventReasons.MaintenanceCompleted]: NotificationTransition.Completed,
  [EventReasons.MaintenanceCancelled]: NotificationTransition.Cancelled,
  [EventReasons.DrainAtRisk]: NotificationTransition.DrainAtRisk,
  [EventReasons.PodDeletedAtDeadline]: NotificationTransition.PodDeletedAtDeadline,
};

/** Event types that are a spot VM being reclaimed: Azure's Preempt (spot eviction) and Alibaba's spot termination. */
const SPOT_RECLAIMS: readonly string[] = ['Preempt', SPOT_TERMINATION];

/**
 * The notifications a maintenance step records: one per transition Event among its actions, as the
 * step's status (written in the same request) shows the node. `now` identifies them.
 */
export function recordedTransitions(step: { status: MaintenanceStatus; actions: readonly Action[] }, now: Date): PendingNotification[] {
  const { status } = step;
  if (status.eventId === undefined) return [];
  const recorded: PendingNotification[] = [];
  for (const action of step.actions) {
    if (action.kind !== 'Emit') continue;
    let transition = TRANSITION_BY_REASON[action.reason];
    if (transition === undefined) continue;
    if (transition === NotificationTransition.Scheduled && SPOT_RECLAIMS.includes(status.eventType ?? '')) transition = NotificationTransition.SpotReclaim;
    const entry = snapshot(transition, status, status.eventId, now);
    // The blockers and the time left, as the Event says them (readiness/drain-at-risk.ts).
    if (transition === NotificationTransition.DrainAtRisk) entry.detail = action.message.slice(0, MAX_DETAIL_LENGTH);
    // The pod, its grace period and the budget overridden, as the Event says them (maintenance/deadline-deletion.ts).
    if (transition === NotificationTransition.PodDeletedAtDeadline) entry.detail = action.message.slice(0, MAX_DETAIL_LENGTH);
    recorded.push(entry);
  }
  return recorded;
}

function snapshot(transition: NotificationTransition, status: MaintenanceStatus, eventId: string, now: Date): PendingNotification {
  const entry: PendingNotification = { transition, time: now.toISOString(), eventId, phase: status.phase };
  if (status.eventType !== undefined) entry.eventType = status.eventType;
  if (status.notBefore !== undefined) entry.notBefore = status.notBefore;
  if (status.totalPods !== undefined) entry.totalPods = status.totalPods;
  if (status.evictedPods !== undefined) entry.evictedPods = status.evictedPods;
  if (status.pendingPods !== undefined) entry.pendingPods = status.pendingPods;
  if (status.blockedPods !== undefined) entry.blockedPods = status.blockedPods.length;
  if (transition === NotificationTransition.DrainFailed && status.lastError !== undefined) entry.detail = status.lastError.slice(0, MAX_DETAIL_LENGTH);
  // A dry run's transition is sent too, marked, so a receiver sees what a real run would tell it.
  if (status.dryRun === true) entry.dryRun = true;
  return entry;
}

/** A pending notification's identity within its node: its event, transition and time. */
export function pendingKey(entry: Pick<PendingNotification, 'eventId' | 'transition' | 'time'>): string {
  return `${entry.eventId}/${entry.transition}/${entry.time}`;
}

export interface OutboxChange {
  /** status.notifications to write: undefined when nothing is pending (the field is then left out). */
  next: NotificationsStatus | undefined;
  /** Entries pushed out by the bound (oldest first): they stay only in the sinks' queues. */
  overflow: PendingNotification[];
}

/**
 * status.notifications after a step: what was stored, less what is finished (sent or dropped by every
 * sink that wants it), plus what the step recorded, bounded (the oldest go first). Recording happens
 * in the step's own status write, so a transition and its notification are stored together or not at all.
 */
export function nextOutbox(
  stored: NotificationsStatus | undefined,
  recorded: readonly PendingNotification[],
  finished: (entry: PendingNotification) => boolean,
  max = MAX_PENDING_NOTIFICATIONS,
): OutboxChange {
  const kept = (stored?.pending ?? []).filter((entry) => !finished(entry));
  const known = new Set(kept.map(pendingKey));
  const all = [...kept, ...recorded.filter((entry) => !known.has(pendingKey(entry)))];
  const overflow = all.length > max ? all.slice(0, all.length - max) : [];
  const pending = all.slice(all.length - Math.min(all.length, max));
  return { next: pending.length === 0 ? undefined : { pending }, overflow };
}
