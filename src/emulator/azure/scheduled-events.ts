// /metadata/scheduledevents (outside the seeds; IMDS.md "Scheduled events"): the document every VM
// of the placement group sees, and StartRequests, the early approval.

import { rfc1123 } from '../durations.js';
import type { FleetEvent } from '../events.js';
import type { Fleet, Vm } from '../fleet.js';
import { isPlainObject } from '../validation.js';
import { atLeast, EVENT_FIELD_SINCE } from './versions.js';

/** Event types older clients do not get (Preempt came with 2017-11-01, Terminate with 2019-01-01). */
const TYPE_SINCE: Record<string, string> = { Preempt: '2017-11-01', Terminate: '2019-01-01' };

export function renderEvent(fleet: Fleet, event: FleetEvent): Record<string, unknown> {
  return {
    EventId: event.id,
    EventType: event.type,
    ResourceType: 'VirtualMachine',
    Resources: fleet.nativeResources(event),
    EventStatus: event.status,
    // RFC 1123 while scheduled, "" once started.
    NotBefore: event.notBefore === undefined ? '' : rfc1123(event.notBefore),
    Description: event.description,
    EventSource: event.source,
    DurationInSeconds: event.durationSeconds,
  };
}

export function scheduledEventsDocument(fleet: Fleet, vm: Vm, version: string): Record<string, unknown> {
  const events = fleet
    .eventsForVm(vm)
    .filter((e) => atLeast(version, TYPE_SINCE[e.type] ?? '0'))
    .map((e) => {
      const rendered = renderEvent(fleet, e);
      for (const [field, since] of Object.entries(EVENT_FIELD_SINCE)) if (!atLeast(version, since)) delete rendered[field];
      return rendered;
    });
  return { DocumentIncarnation: fleet.incarnation, Events: events };
}

/** Parses `{"StartRequests": [{"EventId": "..."}]}`; a string is the reason it was refused. */
export function parseStartRequests(body: string, known: (id: string) => boolean): string[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'Bad request. The request body is not valid JSON.';
  }
  if (!isPlainObject(parsed) || !Array.isArray(parsed.StartRequests)) {
    return 'Bad request. The request body must be {"StartRequests": [{"EventId": "<id>"}]}.';
  }
  if (parsed.StartRequests.length === 0) return 'Bad request. StartRequests is empty.';
  const ids: string[] = [];
  for (const item of parsed.StartRequests) {
    if (!isPlainObject(item) || typeof item.EventId !== 'string' || item.EventId === '') {
      return 'Bad request. Every StartRequests entry needs an EventId string.';
    }
    if (!known(item.EventId)) return `Bad request. EventId ${item.EventId} is not a current scheduled event.`;
    ids.push(item.EventId);
  }
  return ids;
}
