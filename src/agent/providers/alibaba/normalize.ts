import type { InstanceInfo, InstanceSnapshot, Tag } from '../../../api/observation.js';
import { parseTimestamp } from '../timestamps.js';
import { boundTags, LIMITS, textField, Warnings } from '../validation.js';
import { hasControlCharacters } from '../../text.js';

/** The `/latest/meta-data/` items the agent reads, and the InstanceInfo field each one fills. */
export const ALIBABA_INSTANCE_ITEMS = {
  'instance-id': 'id',
  'region-id': 'region',
  'zone-id': 'zone',
  'instance/instance-type': 'instanceType',
  'instance/instance-name': 'name',
  hostname: 'hostname',
} as const satisfies Record<string, keyof InstanceInfo>;

export type AlibabaItem = keyof typeof ALIBABA_INSTANCE_ITEMS;
export const ALIBABA_ITEMS = Object.keys(ALIBABA_INSTANCE_ITEMS) as AlibabaItem[];

/** Item texts (undefined: 404) → InstanceInfo. Each value is one line of text. */
export function normalizeAlibabaInstance(items: Partial<Record<AlibabaItem, string>>, w: Warnings): InstanceInfo {
  const instance: InstanceInfo = {};
  for (const item of ALIBABA_ITEMS) {
    const value = textField(items[item], item, w);
    if (value !== undefined) instance[ALIBABA_INSTANCE_ITEMS[item]] = value;
  }
  // An ECS instance id is `i-` and letters/digits; anything else means this is not an ECS service.
  if (instance.id !== undefined && !/^i-[A-Za-z0-9]{1,64}$/.test(instance.id)) {
    w.add('instance-id: not an ECS instance id (i-...); ignored');
    delete instance.id;
  }
  if (instance.region && instance.zone && !instance.zone.startsWith(instance.region)) {
    w.add(`zone-id ${instance.zone} is not in region-id ${instance.region}`);
  }
  return instance;
}

/** The `tags/instance/` listing: one key a line (or a JSON list), bounded to LIMITS.maxTags keys. */
export function parseTagKeys(text: string, w: Warnings): string[] {
  let keys: unknown[];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      keys = Array.isArray(parsed) ? parsed : [];
    } catch {
      w.add('tags/instance/: looks like JSON but is not; read as lines');
      keys = trimmed.split(/\r?\n/);
    }
  } else {
    keys = trimmed.split(/\r?\n/);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  let overflow = 0;
  for (const k of keys) {
    if (typeof k !== 'string') continue;
    const key = k.trim().replace(/\/$/, '');
    if (key === '' || seen.has(key)) continue;
    if (key.length > LIMITS.maxTagNameLength || hasControlCharacters(key)) {
      w.add(`tag key of ${key.length} characters, too long or with control characters; dropped`);
      continue;
    }
    if (out.length >= LIMITS.maxTags) {
      overflow += 1;
      continue;
    }
    seen.add(key);
    out.push(key);
  }
  if (overflow > 0) w.add(`${overflow} tags beyond the first ${LIMITS.maxTags} not read`);
  return out;
}

/** Tag values as read (undefined: the tag vanished between listing and reading) → bounded tags. */
export function normalizeAlibabaTags(values: [string, string | undefined][], w: Warnings): Tag[] {
  return boundTags(
    values.filter((e): e is [string, string] => e[1] !== undefined).map(([name, value]) => ({ name, value: value.replace(/\r?\n$/, '') })),
    w,
  );
}

/** `instance/spot/termination-time`: UTC `yyyy-MM-ddThh:mm:ssZ`. Undefined (with a warning) when unreadable. */
export function parseSpotTerminationTime(text: string, w: Warnings): string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const iso = parseTimestamp(t);
  if (iso === undefined) w.add('instance/spot/termination-time: not an ISO 8601 time; ignored');
  return iso;
}

export function instanceSnapshot(instance: InstanceInfo, tags: Tag[] | undefined, w: Warnings): InstanceSnapshot {
  const snapshot: InstanceSnapshot = { instance, tags };
  const warnings = w.result();
  if (warnings) snapshot.warnings = warnings;
  return snapshot;
}
