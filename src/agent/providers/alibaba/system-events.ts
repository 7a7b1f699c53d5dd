import { createHash } from 'node:crypto';
import type { EventStatus, EventType, ScheduledEvent } from '../../../api/observation.js';
import { description, rawTypeString } from '../event-fields.js';
import { parseTimestamp } from '../timestamps.js';
import { isPlainObject, LIMITS, PayloadError, Warnings } from '../validation.js';

/**
 * `/latest/maintenance/active-system-events`: Alibaba does not document the format, so parsing is
 * defensive. JSON is read when the answer is JSON (a list of events, an object holding such a list,
 * or one event); otherwise one event per line. Field names are matched case-insensitively against
 * the names Alibaba's own APIs use (DescribeInstanceHistoryEvents: EventId, EventType.Name,
 * EventCycleStatus.Name, NotBefore, Reason). Text that starts like JSON but does not parse is a
 * PayloadError (a truncated answer), not a list of lines.
 *
 * Event code → normalised type, by the action after the first dot (case-insensitive):
 *
 * | code (examples)                                                        | type      |
 * |------------------------------------------------------------------------|-----------|
 * | SystemMaintenance.Reboot, SystemFailure.Reboot, InstanceFailure.Reboot, |           |
 * | SystemMaintenance.RebootAndIsolateErrorDisk / RebootAndReInitErrorDisk  | Reboot    |
 * | SystemMaintenance.Redeploy, SystemFailure.Redeploy*, SystemUpgrade.Migrate | Redeploy |
 * | *.Stop, *.Delete, *.Release (SystemFailure.Stop, InstanceExpiration.Stop, AccountUnbalanced.Delete) | Terminate |
 * | *.Preempt, *.Reclaim, Spot*.*                                           | Preempt   |
 * | *.Freeze                                                                | Freeze    |
 * | anything else (e.g. SystemMaintenance.IsolateErrorDisk)                 | Unknown   |
 *
 * The original code is always kept in `rawType`. Statuses: Scheduled / Inquiring → Scheduled,
 * Executing → Started, absent → Scheduled (the list holds active events only); Executed, Canceled,
 * Failed and Avoided events are over and are left out; anything else → Unknown.
 */
export interface SystemEventsResult {
  events: ScheduledEvent[];
  /** The answer as received, bounded, for people (absent when empty). */
  raw: string | undefined;
}

const CODE = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$/;
const EVENT_ID = /^e-[A-Za-z0-9]+$/;
const FINISHED = new Set(['executed', 'canceled', 'cancelled', 'failed', 'avoided']);

export function parseAlibabaSystemEvents(text: string, warnings: Warnings): SystemEventsResult {
  const trimmed = text.trim();
  if (trimmed === '') return { events: [], raw: undefined };
  const raw = trimmed.length > LIMITS.maxRawTextLength ? `${trimmed.slice(0, LIMITS.maxRawTextLength - 1)}…` : trimmed;

  const warningsBefore = warnings.list.length;
  let items: unknown[];
  if (/^[[{"]/.test(trimmed)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new PayloadError(`active-system-events starts like JSON but is not valid JSON (${trimmed.length} characters; truncated?)`);
    }
    items = jsonItems(parsed, warnings);
  } else {
    items = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '');
  }

  // "[]" or "{}": nothing worth keeping; an unreadable answer keeps its raw text for people.
  if (items.length === 0) return { events: [], raw: warnings.list.length > warningsBefore ? raw : undefined };
  const events: ScheduledEvent[] = [];
  const seen = new Set<string>();
  let overflow = 0;
  items.forEach((item, index) => {
    const event = typeof item === 'string' ? fromLine(item, index, warnings) : isPlainObject(item) ? fromObject(item, index, warnings) : undefined;
    if (event === undefined) {
      if (typeof item !== 'string' && !isPlainObject(item)) warnings.add(`system event ${index}: neither an object nor a line of text; dropped`);
      return;
    }
    if (event === 'finished' || seen.has(event.id)) return;
    if (events.length >= LIMITS.maxEvents) {
      overflow += 1;
      return;
    }
    seen.add(event.id);
    events.push(event);
  });
  if (overflow > 0) warnings.add(`${overflow} system events beyond the first ${LIMITS.maxEvents} dropped`);
  return { events, raw };
}

/** Maps an Alibaba system-event code to a normalised type (table above). */
export function alibabaEventType(code: string): EventType {
  const [category = '', ...rest] = code.trim().toLowerCase().split('.');
  // A bare word ("Reboot") is taken as the action itself.
  const action = rest.length > 0 ? rest.join('.') : category;
  if (action.startsWith('reboot')) return 'Reboot';
  if (action.startsWith('redeploy') || action.startsWith('migrate')) return 'Redeploy';
  if (action === 'stop' || action === 'delete' || action === 'release') return 'Terminate';
  if (action === 'preempt' || action === 'reclaim' || category.startsWith('spot')) return 'Preempt';
  if (action === 'freeze') return 'Freeze';
  return 'Unknown';
}

/** `'finished'` for an event that is over; undefined when the status says nothing usable. */
function alibabaStatus(raw: string | undefined): EventStatus | 'finished' {
  if (raw === undefined || raw.trim() === '') return 'Scheduled';
  const s = raw.trim().toLowerCase();
  if (s === 'scheduled' || s === 'inquiring') return 'Scheduled';
  if (s === 'executing' || s === 'started') return 'Started';
  if (FINISHED.has(s)) return 'finished';
  return 'Unknown';
}

function jsonItems(parsed: unknown, warnings: Warnings): unknown[] {
  if (Array.isArray(parsed)) return parsed;
  if (typeof parsed === 'string') return parsed.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (!isPlainObject(parsed)) {
    warnings.add('active-system-events: JSON that is neither a list nor an object; no events read');
    return [];
  }
  if (pick(parsed, CODE_KEYS) !== undefined) return [parsed]; // one event on its own
  // An object wrapping the list: prefer a key that says "event", else the first list found.
  const lists = Object.entries(parsed).filter(([, v]) => Array.isArray(v));
  const preferred = lists.find(([k]) => /event/i.test(k)) ?? lists[0];
  if (preferred) return preferred[1] as unknown[];
  // Or nested one level deeper, e.g. {"SystemEvents": {"SystemEvent": [...]}}.
  for (const value of Object.values(parsed)) {
    if (isPlainObject(value)) {
      const inner = Object.values(value).find(Array.isArray);
      if (inner) return inner as unknown[];
    }
  }
  warnings.add('active-system-events: JSON object without a list of events; no events read');
  return [];
}

const CODE_KEYS = ['code', 'eventcode', 'eventtype', 'type', 'event', 'name'];
const ID_KEYS = ['eventid', 'id'];
const TIME_KEYS = ['notbefore', 'notbeforetime', 'plannedtime', 'scheduledtime', 'executetime', 'time'];
const STATUS_KEYS = ['eventstatus', 'eventcyclestatus', 'status', 'state'];
const TEXT_KEYS = ['description', 'reason', 'message'];

/** A field by case-insensitive name; `{Name: ...}` objects (Alibaba's API style) are unwrapped. */
function pick(obj: Record<string, unknown>, keys: string[]): string | undefined {
  const lower = new Map(Object.entries(obj).map(([k, v]) => [k.toLowerCase(), v]));
  for (const key of keys) {
    let value = lower.get(key);
    if (isPlainObject(value)) value = value.Name ?? value.name;
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

function fromObject(obj: Record<string, unknown>, index: number, warnings: Warnings): ScheduledEvent | 'finished' | undefined {
  const code = pick(obj, CODE_KEYS);
  if (code === undefined) {
    warnings.add(`system event ${index}: no event code; dropped (kept in the raw text)`);
    return undefined;
  }
  const status = alibabaStatus(pick(obj, STATUS_KEYS));
  if (status === 'finished') return 'finished';
  const notBeforeText = pick(obj, TIME_KEYS);
  const notBefore = notBeforeText === undefined ? undefined : parseTimestamp(notBeforeText);
  if (notBeforeText !== undefined && notBefore === undefined) warnings.add(`system event ${index} (${rawTypeString(code).slice(0, 60)}): time not ISO 8601 or RFC 1123; treated as unknown`);
  const id = validId(pick(obj, ID_KEYS)) ?? syntheticId(code, notBefore ?? notBeforeText);
  return buildEvent(id, code, status, notBefore, description(pick(obj, TEXT_KEYS)));
}

/** A line such as `SystemMaintenance.Reboot 2026-11-23T02:00:00Z e-bp1abc Scheduled`, in any order. */
function fromLine(line: string, index: number, warnings: Warnings): ScheduledEvent | 'finished' | undefined {
  const tokens = line.split(/[\s,;|\t]+/).filter(Boolean);
  const code = tokens.find((t) => CODE.test(t) && !EVENT_ID.test(t));
  if (code === undefined) {
    warnings.add(`system event line ${index + 1}: no event code (Category.Action); dropped (kept in the raw text)`);
    return undefined;
  }
  let notBefore: string | undefined;
  for (const t of tokens) {
    notBefore = parseTimestamp(t);
    if (notBefore !== undefined) break;
  }
  const statusToken = tokens.find((t) => /^(scheduled|inquiring|executing|started|executed|canceled|cancelled|failed|avoided)$/i.test(t));
  const status = alibabaStatus(statusToken);
  if (status === 'finished') return 'finished';
  const id = validId(tokens.find((t) => EVENT_ID.test(t))) ?? syntheticId(code, notBefore);
  return buildEvent(id, code, status, notBefore, undefined);
}

function buildEvent(id: string, code: string, status: EventStatus, notBefore: string | undefined, text: string | undefined): ScheduledEvent {
  const event: ScheduledEvent = {
    id,
    type: alibabaEventType(code),
    rawType: rawTypeString(code),
    status,
    source: 'Platform',
    resources: [],
  };
  if (notBefore !== undefined) event.notBefore = notBefore;
  if (text !== undefined) event.description = text;
  return event;
}

function validId(id: string | undefined): string | undefined {
  return id !== undefined && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id) ? id : undefined;
}

/** Stable across polls for the same event, so the controller follows one event, not a new one each second. */
function syntheticId(code: string, notBefore: string | undefined): string {
  return `alibaba-${createHash('sha256').update(`${code}|${notBefore ?? ''}`).digest('hex').slice(0, 16)}`;
}
