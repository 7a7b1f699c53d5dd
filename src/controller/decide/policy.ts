// Which action a maintenance event calls for, when that action starts, and which event is "the"
// one a node acts on when several are pending. Pure: plain data in, plain data out.
//
// Timing (docs/maintenance.md): Preempt, Terminate and spot termination give seconds to
// minutes of notice, so their action starts as soon as they are seen. Planned maintenance starts
// `leadTime` before NotBefore: with Azure's 10–15 min notices that moment has already passed (so
// the default drains at once), with Alibaba's 24–48 h notices the node keeps working until then.
// An action never starts later than NotBefore, and an event that has already started (Azure posts
// hardware failures as Started, with no NotBefore) is acted on at once.

import type { NodeMetadataSpec, MaintenanceEventType } from '../../api/nodemetadata.js';
import { SPOT_TERMINATION } from '../../api/nodemetadata.js';
import type { ProviderName, ScheduledEvent, SpotInfo } from '../../api/observation.js';
import { IMMEDIATE_EVENT_TYPES, VM_ENDING_EVENT_TYPES, type AtDeadline, type EventAction, type EventRules, type NodeGroup, type PolicyConfig } from '../config/config.js';
import { selects } from '../readiness/verdict.js';

/** The id the controller uses for a spot reclaim, which has no event id of its own. */
export const SPOT_TERMINATION_EVENT_ID = 'spot-termination';

/** Something that calls for maintenance: a scheduled event or a spot reclaim. */
export interface MaintenanceTrigger {
  id: string;
  type: MaintenanceEventType;
  /** ISO 8601; for a spot reclaim, the termination time. */
  notBefore?: string;
  /** The platform already started it. */
  started: boolean;
}

export interface PlannedAction {
  eventId: string;
  eventType: MaintenanceEventType;
  /** Never None: events whose action is None are not planned at all. */
  action: Exclude<EventAction, 'None'>;
  /** Epoch ms when the action starts; `now` for events acted on at once. */
  startAt: number;
  /** Epoch ms of NotBefore (or the spot termination time), when known. */
  deadline: number | undefined;
  /** The action should be under way now. */
  due: boolean;
  /**
   * What the drain does with pods still on the node when only their grace period is left before the
   * deadline (docs/maintenance.md, "The end of a blocked drain"): Delete only for a Drain of an event
   * that takes the VM down, Wait otherwise.
   */
  atDeadline: AtDeadline;
}

/**
 * The rules for one node: the general ones, with the provider's overrides on top, and Drain and
 * Cordon turned into the notice taint when the node's NodeMetadata says `spec.drain: Disabled`, or
 * the first node group (config policy.nodeGroups) its labels match says `drain: Disabled`.
 */
export function rulesFor(policy: PolicyConfig, provider: ProviderName | undefined, spec?: NodeMetadataSpec, nodeLabels?: Readonly<Record<string, string>>): EventRules {
  const overrides = provider === undefined ? {} : (policy.providers[provider] ?? {});
  const drainDisabled = spec?.drain === 'Disabled' || (nodeLabels !== undefined && nodeGroupOf(policy.nodeGroups, nodeLabels)?.drain === 'Disabled');
  const rules = Object.fromEntries(
    (Object.keys(policy.events) as MaintenanceEventType[]).map((type) => {
      const rule = { ...policy.events[type], ...overrides[type] };
      if (drainDisabled && (rule.action === 'Drain' || rule.action === 'Cordon')) rule.action = 'Taint';
      return [type, rule];
    }),
  );
  return rules as EventRules;
}

/**
 * The first of `groups` whose nodeSelector matches the node's labels (config policy.nodeGroups), or
 * undefined. A selector matches as Kubernetes matches one (readiness/verdict.ts selects).
 */
export function nodeGroupOf(groups: readonly NodeGroup[], nodeLabels: Readonly<Record<string, string>>): NodeGroup | undefined {
  return groups.find((group) => selects(group.nodeSelector, nodeLabels));
}

export function triggersFrom(events: readonly ScheduledEvent[], spot: SpotInfo | undefined): MaintenanceTrigger[] {
  const triggers: MaintenanceTrigger[] = events.map((event) => {
    const trigger: MaintenanceTrigger = { id: event.id, type: event.type, started: event.status === 'Started' };
    if (event.notBefore !== undefined) trigger.notBefore = event.notBefore;
    return trigger;
  });
  if (spot !== undefined) triggers.push({ id: SPOT_TERMINATION_EVENT_ID, type: SPOT_TERMINATION, notBefore: spot.terminationTime, started: false });
  return triggers;
}

/** The action for one trigger and when it starts; undefined when the configured action is None. */
export function planAction(trigger: MaintenanceTrigger, rules: EventRules, now: Date): PlannedAction | undefined {
  const rule = rules[trigger.type];
  if (rule.action === 'None') return undefined;
  const nowMs = now.getTime();
  const parsed = trigger.notBefore === undefined ? NaN : Date.parse(trigger.notBefore);
  const deadline = Number.isNaN(parsed) ? undefined : parsed;
  const atOnce = IMMEDIATE_EVENT_TYPES.includes(trigger.type) || trigger.started || deadline === undefined;
  const startAt = atOnce ? nowMs : Math.min(Math.max(nowMs, deadline - rule.leadTimeMs), deadline);
  const atDeadline = rule.action === 'Drain' && VM_ENDING_EVENT_TYPES.includes(trigger.type) ? rule.atDeadline : 'Wait';
  return { eventId: trigger.id, eventType: trigger.type, action: rule.action, startAt, deadline, due: startAt <= nowMs, atDeadline };
}

export function planActions(triggers: readonly MaintenanceTrigger[], rules: EventRules, now: Date): PlannedAction[] {
  return triggers.map((trigger) => planAction(trigger, rules, now)).filter((plan) => plan !== undefined);
}

const ACTION_STRENGTH: Record<PlannedAction['action'], number> = { Drain: 3, Cordon: 2, Taint: 1 };

/**
 * The event a node acts on when several are pending:
 * 1. one that is due beats one that is not (what must happen now matters most);
 * 2. then the stronger action (Drain > Cordon > Taint): a drain covers what a cordon or a taint does;
 * 3. then the earliest start, then the earliest deadline (unknown last), then the id (determinism).
 * `currentEventId` is the event the node is already handling: it stays the active one while it
 * ranks level with the best on (1) and (2), so two equal events do not make the node flip between
 * them from one reconcile to the next.
 */
export function selectActive(plans: readonly PlannedAction[], currentEventId?: string): PlannedAction | undefined {
  const ranked = [...plans].sort(compareUrgency);
  const best = ranked[0];
  if (best === undefined || currentEventId === undefined) return best;
  const current = plans.find((plan) => plan.eventId === currentEventId);
  if (current !== undefined && current.due === best.due && ACTION_STRENGTH[current.action] === ACTION_STRENGTH[best.action]) return current;
  return best;
}

function compareUrgency(a: PlannedAction, b: PlannedAction): number {
  return (
    Number(b.due) - Number(a.due) ||
    ACTION_STRENGTH[b.action] - ACTION_STRENGTH[a.action] ||
    a.startAt - b.startAt ||
    (a.deadline ?? Infinity) - (b.deadline ?? Infinity) ||
    (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
  );
}

/** When to look at the node again for a plan that is not due yet (requeueAfter), in ms. */
export function msUntilStart(plans: readonly PlannedAction[], now: Date): number | undefined {
  const waiting = plans.filter((plan) => !plan.due).map((plan) => plan.startAt - now.getTime());
  return waiting.length === 0 ? undefined : Math.max(0, Math.min(...waiting));
}
