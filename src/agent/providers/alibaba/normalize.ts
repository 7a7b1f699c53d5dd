import type { InstanceInfo, InstanceSnapshot, Tag } from '../../../api/observation.js';
import { parseTimestamp } from '../timestamps.js';
import { boundTags, textField, Warnings } from '../validation.js';

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
  // Every value as the service gives it. region-id and zone-id need no normalising, unlike Azure's
  // location: they are lower-case ids already (cn-hangzhou, cn-hangzhou-k), the very values of ACK's
  // topology.kubernetes.io/region and /zone labels, which nodemeta.io/region and /zone must equal.
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
