// Renders docs/configuration.md from CONFIG_SCHEMA, so the reference lists exactly the options the
// validator accepts, with the defaults it fills in. A unit test fails when the committed file
// differs; `make build && node scripts/gen-config-docs.mjs` rewrites it.

import { stringify } from 'yaml';
import { defaultConfigDocument } from './config.js';
import { CONFIG_SCHEMA, ConfigFormats } from './config-schema.js';

interface SchemaNode {
  type?: string | readonly string[];
  enum?: readonly unknown[];
  format?: string;
  description?: string;
  default?: unknown;
  examples?: readonly unknown[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: readonly string[];
}

interface Row {
  key: string;
  type: string;
  defaultValue: string;
  description: string;
}

/** Shown in the docs; a unit test checks that it is a valid configuration. */
export const CONFIG_EXAMPLE = `labels:
  allowedTags: [env, team, "cost-*"]
policy:
  Reboot: {action: Drain, leadTime: 2h}
  Freeze: {action: None}
  providers:
    alibaba:
      Redeploy: {leadTime: 4h}
drain:
  maxConcurrentDrains: 2
  maxGracePeriod: 2m
approve: Never
`;

export function renderConfigReference(): string {
  const rows = collectRows(CONFIG_SCHEMA as unknown as SchemaNode, '');
  const lines = [
    '<!-- Generated from src/controller/config/config-schema.ts by scripts/gen-config-docs.mjs; do not edit. -->',
    '# Controller configuration',
    '',
    'The controller reads one YAML document (the Helm chart renders it into a ConfigMap and mounts it).',
    'It is validated when the controller starts and whenever the file changes: unknown keys and wrong',
    'values are rejected with a message naming the field (e.g. `policy.Reboot.action: must be one of',
    'Drain, Cordon, Taint, None (got "Drian")`), and a rejected file leaves the last good configuration',
    'in force. Every option has a default; an empty document is valid.',
    '',
    'Durations are written like `30s`, `15m`, `1h30m` or `500ms` (units h, m, s, ms, in that order).',
    '',
    '## Options',
    '',
    '| Key | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| \`${row.key}\` | ${row.type} | ${row.defaultValue} | ${row.description} |`),
    '',
    '## When actions start',
    '',
    'Planned events (Freeze, Reboot, Redeploy, Unknown) start their action `leadTime` before the',
    "event's NotBefore, or at once when the notice is shorter than the lead time (Azure's 10–15 min",
    'notices) or the event has already started, and never later than NotBefore. Until then the node',
    'only carries the notice taint `nodemeta.io/scheduled-event=<type>:PreferNoSchedule`. Preempt,',
    'Terminate and spot termination start their action as soon as they are seen.',
    '',
    '| Action | Effect once the action starts |',
    '| --- | --- |',
    '| `Drain` | taint `nodemeta.io/scheduled-event=<type>:NoSchedule` (`nodemeta.io/spot-termination:NoSchedule` for spot), cordon, evict the pods through the Eviction API |',
    '| `Cordon` | the NoSchedule taint and cordon; pods stay |',
    '| `Taint` | the notice taint (`PreferNoSchedule`) only |',
    '| `None` | nothing: the event is ignored |',
    '',
    'A node whose NodeMetadata has `spec.drain: Disabled` gets the notice taint instead of Drain or',
    'Cordon. When several events are pending, the one acted on is chosen by: already due first, then',
    'the stronger action (Drain, Cordon, Taint), then the earliest start, then the earliest NotBefore.',
    '',
    '## Defaults',
    '',
    '```yaml',
    stringify(defaultConfigDocument()).trimEnd(),
    '```',
    '',
    '## Example',
    '',
    '```yaml',
    CONFIG_EXAMPLE.trimEnd(),
    '```',
    '',
  ];
  return lines.join('\n');
}

/** Sections (objects with a default) are expanded; anything else is one row. */
function collectRows(node: SchemaNode, path: string): Row[] {
  const rows: Row[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const key = path === '' ? name : `${path}.${name}`;
    const isSection = child.type === 'object' && child.properties !== undefined && child.default !== undefined;
    if (child.type === 'array' && child.items?.properties !== undefined) {
      // A list of mappings (notifications.sinks): the list, then each item's keys as `list[].key`.
      rows.push(leafRow(key, child), ...itemRows(child.items, `${key}[]`));
    } else if (!isSection) {
      rows.push(leafRow(key, child));
    } else if (isEventRule(child)) {
      // The rule's own description (what the event is) leads its `action` row.
      const [actionRow, ...rest] = collectRows(child, key);
      rows.push({ ...actionRow!, description: escape(`${child.description ?? ''} ${actionRow!.description}`.trim()) }, ...rest);
    } else {
      if (child.description !== undefined) rows.push({ key, type: 'mapping', defaultValue: '', description: escape(child.description) });
      rows.push(...collectRows(child, key));
    }
  }
  return rows;
}

/** The keys of a list's items, a mapping among them followed by its own keys. */
function itemRows(node: SchemaNode, path: string): Row[] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
    const key = `${path}.${name}`;
    const leaf = leafRow(key, child);
    const row = node.required?.includes(name) === true ? { ...leaf, description: `Required. ${leaf.description}`.trim() } : leaf;
    if (child.type !== 'object' || child.properties === undefined) return [row];
    return [row, ...Object.entries(child.properties).map(([inner, grandchild]) => leafRow(`${key}.${inner}`, grandchild))];
  });
}

function isEventRule(node: SchemaNode): boolean {
  return Object.keys(node.properties ?? {})[0] === 'action';
}

function leafRow(key: string, node: SchemaNode): Row {
  let description = node.description ?? '';
  if (node.examples !== undefined) description += ` Example: ${node.examples.map((example) => `\`${inline(example)}\``).join(', ')}.`;
  return { key, type: typeOf(node), defaultValue: node.default === undefined ? '' : `\`${inline(node.default)}\``, description: escape(description.trim()) };
}

function typeOf(node: SchemaNode): string {
  if (node.enum !== undefined) return node.enum.map((value) => `\`${String(value)}\``).join(' \\| ');
  if (node.format === ConfigFormats.duration) return 'duration';
  if (Array.isArray(node.type)) return 'number or percentage';
  if (node.type === 'array' && node.items?.enum !== undefined) return `list of ${node.items.enum.map((value) => `\`${String(value)}\``).join(', ')}`;
  if (node.type === 'array') return `list of ${node.items?.type === 'object' ? 'mappings' : (node.items?.type ?? 'values')}`;
  if (node.type === 'object') return 'mapping';
  return String(node.type);
}

function inline(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : JSON.stringify(value);
}

function escape(text: string): string {
  return text.replaceAll('|', '\\|');
}
