import type { EventSource, EventStatus, EventType } from '../../api/observation.js';
import { LIMITS } from './validation.js';
import { flattenControlCharacters } from '../../api/text.js';

const EVENT_TYPE_BY_LOWER: Record<string, EventType> = {
  freeze: 'Freeze',
  reboot: 'Reboot',
  redeploy: 'Redeploy',
  preempt: 'Preempt',
  terminate: 'Terminate',
};

/** Azure's EventType, case-insensitively; anything else is `Unknown` (the raw string is kept apart). */
export function azureEventType(raw: string): EventType {
  return EVENT_TYPE_BY_LOWER[raw.trim().toLowerCase()] ?? 'Unknown';
}

export function eventStatus(raw: string | undefined): EventStatus {
  switch (raw?.trim().toLowerCase()) {
    case 'scheduled':
      return 'Scheduled';
    case 'started':
      return 'Started';
    default:
      return 'Unknown';
  }
}

export function eventSource(raw: string | undefined): EventSource {
  switch (raw?.trim().toLowerCase()) {
    case 'platform':
      return 'Platform';
    case 'user':
      return 'User';
    default:
      return 'Unknown';
  }
}

/** Free text for people: control characters become spaces, bounded. */
export function description(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const flat = flattenControlCharacters(raw);
  if (flat === '') return undefined;
  return flat.length > LIMITS.maxDescriptionLength ? `${flat.slice(0, LIMITS.maxDescriptionLength - 1)}…` : flat;
}

/** A raw provider type string kept for people and for the controller's per-type policy, bounded. */
export function rawTypeString(raw: string): string {
  const flat = flattenControlCharacters(raw);
  return flat.length > 128 ? flat.slice(0, 128) : flat;
}
