import type { EventsSnapshot, ScheduledEvent } from '../../../api/observation.js';
import { azureEventType, description, eventSource, eventStatus, rawTypeString } from '../event-fields.js';
import { parseTimestamp } from '../timestamps.js';
import { describeType, isPlainObject, LIMITS, PayloadError, textField, Warnings } from '../validation.js';

/**
 * Azure's scheduled-events document (api-version 2020-07-01) → the events that concern this VM.
 *
 * Events of an availability set or placement group are sent to every VM in it; a VM acts only on
 * those whose `Resources` name it (its `compute.name`), compared exactly but case-insensitively.
 * A malformed event is dropped with a warning; a malformed document is a PayloadError.
 */
export function normalizeAzureScheduledEvents(doc: unknown, vmName: string): EventsSnapshot {
  if (!isPlainObject(doc)) throw new PayloadError(`scheduled-events document is ${describeType(doc)}, expected an object`);
  const list = doc.Events;
  if (!Array.isArray(list)) throw new PayloadError(`scheduled-events document: Events is ${describeType(list)}, expected a list`);
  const w = new Warnings();
  const me = vmName.trim().toLowerCase();
  const events: ScheduledEvent[] = [];
  const seen = new Set<string>();
  let overflow = 0;

  list.forEach((raw: unknown, index: number) => {
    const where = `Events[${index}]`;
    if (!isPlainObject(raw)) {
      w.add(`${where}: ${describeType(raw)}, expected an object; dropped`);
      return;
    }
    if (!Array.isArray(raw.Resources)) {
      w.add(`${where}: Resources is ${describeType(raw.Resources)}, expected a list; dropped (cannot tell whom it concerns)`);
      return;
    }
    const resources = raw.Resources.filter((r): r is string => typeof r === 'string').map((r) => r.trim());
    if (!resources.some((r) => r.toLowerCase() === me)) return; // another VM's event
    const id = textField(raw.EventId, `${where}.EventId`, w, 128);
    if (id === undefined) {
      w.add(`${where}: no usable EventId; dropped`);
      return;
    }
    if (seen.has(id)) {
      w.add(`${where}: EventId ${id} repeated; dropped`);
      return;
    }
    const rawType = textField(raw.EventType, `${where}.EventType`, w, 128);
    if (rawType === undefined) {
      w.add(`${where}: no usable EventType; dropped`);
      return;
    }
    if (events.length >= LIMITS.maxEvents) {
      overflow += 1;
      return;
    }
    seen.add(id);
    const event: ScheduledEvent = {
      id,
      type: azureEventType(rawType),
      rawType: rawTypeString(rawType),
      status: eventStatus(textField(raw.EventStatus, `${where}.EventStatus`, w)),
      source: eventSource(textField(raw.EventSource, `${where}.EventSource`, w)),
      resources: boundResources(resources, me, where, w),
    };
    const notBefore = notBeforeField(raw.NotBefore, where, w);
    if (notBefore !== undefined) event.notBefore = notBefore;
    const duration = durationField(raw.DurationInSeconds, where, w);
    if (duration !== undefined) event.durationSeconds = duration;
    const text = description(raw.Description);
    if (text !== undefined) event.description = text;
    events.push(event);
  });
  if (overflow > 0) w.add(`${overflow} events beyond the first ${LIMITS.maxEvents} dropped`);

  const snapshot: EventsSnapshot = { events, spot: undefined };
  const incarnation = incarnationField(doc.DocumentIncarnation, w);
  if (incarnation !== undefined) snapshot.incarnation = incarnation;
  const warnings = w.result();
  if (warnings) snapshot.warnings = warnings;
  return snapshot;
}

/** NotBefore: RFC 1123 ("Mon, 19 Sep 2016 18:29:47 GMT"), ISO 8601, or "" once the event started. */
function notBeforeField(value: unknown, where: string, w: Warnings): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    w.add(`${where}.NotBefore: expected a string, got ${describeType(value)}; treated as unknown`);
    return undefined;
  }
  const parsed = parseTimestamp(value);
  if (parsed === undefined && value.trim() !== '') w.add(`${where}.NotBefore: not an RFC 1123 or ISO 8601 time; treated as unknown`);
  return parsed;
}

/** DurationInSeconds: an integer, -1 for unknown; a numeric string is accepted too. */
function durationField(value: unknown, where: string, w: Warnings): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d{1,9}\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < -1) {
    w.add(`${where}.DurationInSeconds: not an integer >= -1; ignored`);
    return undefined;
  }
  return n;
}

function incarnationField(value: unknown, w: Warnings): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    w.add('DocumentIncarnation: not a non-negative integer; ignored');
    return undefined;
  }
  return n;
}

/** Bounded, keeping this VM's own entry whatever its position. */
function boundResources(resources: string[], me: string, where: string, w: Warnings): string[] {
  const kept = resources.filter((r) => r !== '' && r.length <= 256);
  if (kept.length <= LIMITS.maxResourcesPerEvent) return kept;
  w.add(`${where}: ${kept.length} Resources, only ${LIMITS.maxResourcesPerEvent} kept`);
  const own = kept.find((r) => r.toLowerCase() === me);
  const others = kept.filter((r) => r !== own).slice(0, LIMITS.maxResourcesPerEvent - 1);
  return own === undefined ? kept.slice(0, LIMITS.maxResourcesPerEvent) : [own, ...others];
}
