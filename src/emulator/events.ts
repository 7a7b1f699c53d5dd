// Maintenance events shared by the fleet: Azure scheduled events (served to every VM of the
// placement group) and Alibaba system events (served to the VMs they name). The lifecycle follows
// Azure's: Scheduled → Started (at NotBefore, or early when a VM approves) → gone once finished;
// there is no Completed state (IMDS.md, "Scheduled events").

import {
  expectKeys,
  expectObject,
  InputError,
  join,
  optionalInteger,
  optionalString,
  optionalStringList,
  requiredString,
} from './validation.js';
import { parseTime } from './durations.js';

export type EventLifecycle = 'auto' | 'manual';
export type EventPhase = 'Scheduled' | 'Started';

export interface Approval {
  /** The VM that approved (POST StartRequests). */
  vm: string;
  time: string;
}

export interface FleetEvent {
  id: string;
  type: string;
  /** As given: fleet VM names or provider-native names (Azure compute.name). */
  resources: string[];
  status: EventPhase;
  /** Epoch ms; undefined once started. */
  notBefore: number | undefined;
  durationSeconds: number;
  description: string;
  source: string;
  lifecycle: EventLifecycle;
  startedAt?: number;
  approvals: Approval[];
}

/** What differs between the providers' events. */
export interface EventRules {
  /** The accepted types, or undefined for "anything" (Alibaba event codes). */
  types: readonly string[] | undefined;
  /** Status words accepted on input, mapped to the lifecycle phase. */
  statuses: Readonly<Record<string, EventPhase>>;
  minNoticeMs(type: string): number;
  defaultDurationSeconds(type: string): number;
  defaultDescription(type: string): string;
  newId(): string;
}

const FIELDS = ['id', 'type', 'resources', 'notBefore', 'status', 'durationSeconds', 'description', 'source', 'lifecycle'];

/** Validates an event body (control API or scenario) and builds the event; throws InputError. */
export function parseEvent(value: unknown, field: string, rules: EventRules, now: number, allVms: string[]): FleetEvent {
  const body = expectObject(value, field);
  expectKeys(body, FIELDS, field);
  const type = requiredString(body, 'type', field);
  if (rules.types && !rules.types.includes(type)) {
    throw new InputError(join(field, 'type'), `must be one of ${rules.types.join(', ')}`);
  }
  const statusText = optionalString(body, 'status', field) ?? 'Scheduled';
  const status = rules.statuses[statusText];
  if (!status) throw new InputError(join(field, 'status'), `must be one of ${Object.keys(rules.statuses).join(', ')}`);
  const notBeforeText = body.notBefore;
  let notBefore: number | undefined = now + rules.minNoticeMs(type);
  if (notBeforeText !== undefined) {
    if (typeof notBeforeText !== 'string') throw new InputError(join(field, 'notBefore'), 'must be an ISO 8601 time or +<duration>');
    notBefore = parseTime(notBeforeText, now);
    if (notBefore === undefined) throw new InputError(join(field, 'notBefore'), `"${notBeforeText}" is neither an ISO 8601 time nor +<duration> (e.g. +15m)`);
  }
  const lifecycle = optionalString(body, 'lifecycle', field) ?? 'auto';
  if (lifecycle !== 'auto' && lifecycle !== 'manual') throw new InputError(join(field, 'lifecycle'), 'must be "auto" or "manual"');
  const source = optionalString(body, 'source', field) ?? 'Platform';
  if (source !== 'Platform' && source !== 'User') throw new InputError(join(field, 'source'), 'must be "Platform" or "User"');
  const id = optionalString(body, 'id', field) ?? rules.newId();
  if (id === '' || /[\s/]/.test(id)) throw new InputError(join(field, 'id'), 'must be non-empty, without spaces or "/"');
  const event: FleetEvent = {
    id,
    type,
    resources: optionalStringList(body, 'resources', field) ?? [...allVms],
    status,
    notBefore: status === 'Started' ? undefined : notBefore,
    durationSeconds: optionalInteger(body, 'durationSeconds', field, -1) ?? rules.defaultDurationSeconds(type),
    description: optionalString(body, 'description', field) ?? rules.defaultDescription(type),
    source,
    lifecycle,
    approvals: [],
  };
  if (status === 'Started') event.startedAt = now;
  return event;
}

/** Moves an `auto` event along its lifecycle; says what happened (both can happen in one step). */
export function advanceEvent(event: FleetEvent, now: number): { started: boolean; ended: boolean } {
  const result = { started: false, ended: false };
  if (event.lifecycle !== 'auto') return result;
  if (event.status === 'Scheduled' && event.notBefore !== undefined && now >= event.notBefore) {
    startEvent(event, event.notBefore);
    result.started = true;
  }
  if (event.status === 'Started' && event.startedAt !== undefined) {
    // Gone once the maintenance is over: DurationInSeconds after it started, at least a second
    // (-1 "unknown" and 0 "no interruption" included).
    if (now >= event.startedAt + Math.max(1, event.durationSeconds) * 1000) result.ended = true;
  }
  return result;
}

export function startEvent(event: FleetEvent, at: number): void {
  event.status = 'Started';
  event.notBefore = undefined;
  event.startedAt = at;
}
