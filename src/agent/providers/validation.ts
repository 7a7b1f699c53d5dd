import type { Tag } from '../../api/observation.js';
import { hasControlCharacters, maskControlCharacters } from '../../api/text.js';

/**
 * Bounds on what the agent copies from a metadata service into NodeMetadata status. The service is
 * trusted to be the service, but what it serves comes partly from users (tags) and must not be able
 * to blow up a Kubernetes object (1.5 MiB in etcd) or a log line. A value that does not fit is
 * dropped, never cut: a truncated tag or name would be a wrong value, not a shorter one.
 */
export const LIMITS = {
  /** Azure allows 50 tags per resource, Alibaba 20; a few more are tolerated. */
  maxTags: 64,
  /** Azure's limits on a tag: name 512, value 256 characters. */
  maxTagNameLength: 512,
  maxTagValueLength: 256,
  /** Any other text field (zone, vmSize, name...). */
  maxFieldLength: 256,
  /** Events kept after filtering to this VM. */
  maxEvents: 100,
  /** Resources named per event (a scale-set placement group holds up to 100 VMs). */
  maxResourcesPerEvent: 200,
  maxDescriptionLength: 512,
  /** Alibaba: raw active-system-events text kept for people to read. */
  maxRawTextLength: 4_096,
  maxWarnings: 20,
} as const;

/** Per-item problems met while normalising: each drops one item, never the whole observation. */
export class Warnings {
  readonly list: string[] = [];
  private dropped = 0;

  add(message: string): void {
    if (this.list.length < LIMITS.maxWarnings) this.list.push(message.length > 200 ? `${message.slice(0, 200)}…` : message);
    else this.dropped += 1;
  }

  /** The warnings, with a last line counting those left out; undefined when there are none. */
  result(): string[] | undefined {
    if (this.list.length === 0) return undefined;
    return this.dropped > 0 ? [...this.list, `${this.dropped} more warnings not shown`] : [...this.list];
  }
}

/** A short single-line text value, or undefined (with a warning when it was present but unusable). */
export function textField(value: unknown, field: string, warnings: Warnings, maxLength: number = LIMITS.maxFieldLength): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    warnings.add(`${field}: expected a string, got ${describeType(value)}; ignored`);
    return undefined;
  }
  const s = value.trim();
  if (s === '') return undefined;
  if (s.length > maxLength) {
    warnings.add(`${field}: ${s.length} characters, more than ${maxLength}; ignored`);
    return undefined;
  }
  if (hasControlCharacters(s)) {
    warnings.add(`${field}: contains control characters; ignored`);
    return undefined;
  }
  return s;
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Keeps well-formed tags within LIMITS. Names compare case-insensitively (Azure tag names do); the
 * first occurrence wins. Empty values are kept (a tag may be a bare marker).
 */
export function boundTags(entries: Iterable<{ name: unknown; value: unknown }>, warnings: Warnings): Tag[] {
  const tags: Tag[] = [];
  const seen = new Set<string>();
  let overflow = 0;
  for (const entry of entries) {
    const { name, value } = entry;
    if (typeof name !== 'string' || typeof value !== 'string') {
      warnings.add(`tag${typeof name === 'string' ? ` "${shortName(name)}"` : ''}: name and value must be strings; dropped`);
      continue;
    }
    const n = name.trim();
    if (n === '' || n.length > LIMITS.maxTagNameLength || hasControlCharacters(n)) {
      warnings.add(`tag "${shortName(n)}": empty, too long (> ${LIMITS.maxTagNameLength}) or with control characters; dropped`);
      continue;
    }
    if (value.length > LIMITS.maxTagValueLength || hasControlCharacters(value)) {
      warnings.add(`tag "${shortName(n)}": value too long (> ${LIMITS.maxTagValueLength}) or with control characters; dropped`);
      continue;
    }
    const key = n.toLowerCase();
    if (seen.has(key)) {
      warnings.add(`tag "${shortName(n)}": duplicate name; later occurrence dropped`);
      continue;
    }
    if (tags.length >= LIMITS.maxTags) {
      overflow += 1;
      continue;
    }
    seen.add(key);
    tags.push({ name: n, value });
  }
  if (overflow > 0) warnings.add(`${overflow} tags beyond the first ${LIMITS.maxTags} dropped`);
  return tags;
}

function shortName(name: string): string {
  const flat = maskControlCharacters(name);
  return flat.length > 40 ? `${flat.slice(0, 40)}…` : flat;
}

/**
 * A payload that cannot be normalised at all (not JSON, not an object, a list that is not a list).
 * Normalisation throws it; the client turns it into a `malformed` MetadataError naming the request.
 * Its message never quotes the payload: a document may carry user data.
 */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/** JSON.parse with an error that says what is wrong without quoting the text. */
export function parseJsonPayload(text: string): unknown {
  if (text.trim() === '') throw new PayloadError('empty answer where a JSON document was expected');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PayloadError(`answer is not valid JSON (${text.length} characters; truncated?)`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
