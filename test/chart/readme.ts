// The generated parts of charts/nodemeta/README.md: the values reference (from values.yaml and its
// `# --` comments), the metrics (from the components' own registries) and the Kubernetes Events
// (from the controller's `events.record` and state-machine `emit` calls). chart.test.ts checks the README against them;
// UPDATE_GOLDEN=1 rewrites the blocks between the `<!-- generated:NAME -->` markers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { createControllerMetrics } from '../../src/controller/metrics.js';
import { CHART_DIR, REPO_ROOT } from './helm.js';

export const README = path.join(CHART_DIR, 'README.md');

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** `# -- text` comments (continued on the following comment lines) before a key. */
function describe(comment: string | undefined): string {
  if (!comment) return '';
  const lines = comment.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith('-- '));
  if (start < 0) return '';
  return [lines[start]!.slice(3), ...lines.slice(start + 1)].join(' ').trim();
}

function defaultOf(node: YamlNode | null): string {
  const value: unknown = node === null ? null : (node.toJSON() as unknown);
  const text = JSON.stringify(value);
  return text === '""' ? '`""`' : `\`${text}\``;
}

export function valuesTable(): string {
  const doc = parseDocument(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'));
  const rows: string[] = ['| Key | Default | Description |', '| --- | --- | --- |'];
  const walk = (node: YamlNode | null, prefix: string) => {
    if (!isMap(node)) return;
    // The parser hangs the comment before a map's first key on the map itself.
    (node.items as Pair<YamlNode, YamlNode | null>[]).forEach((pair, index) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const full = prefix ? `${prefix}.${key}` : key;
      const description = describe(pair.key?.commentBefore ?? undefined) || (index === 0 ? describe(node.commentBefore ?? undefined) : '');
      const value = pair.value;
      // Maps are expanded, except free-form ones (resources, securityContexts, the controller config).
      const expand = isMap(value) && value.items.length > 0 && !/(^|\.)(config|resources|podSecurityContext|securityContext|nodeSelector|updateStrategy|requests|limits)$/.test(full);
      if (expand) {
        walk(value, full);
      } else {
        rows.push(`| \`${full}\` | ${cell(isSeq(value) || isMap(value) || isScalar(value) ? defaultOf(value) : '`null`')} | ${cell(description)} |`);
      }
    });
  };
  walk(doc.contents as YamlNode | null, '');
  return rows.join('\n');
}

export async function metricsTable(): Promise<string> {
  const agent = new AgentMetrics(new Registry());
  const controllerRegistry = new Registry();
  createControllerMetrics({ registry: controllerRegistry, queueDepth: () => 0 });
  const rows = ['| Metric | Type | Labels | Meaning |', '| --- | --- | --- | --- |'];
  for (const registry of [agent.registry, controllerRegistry]) {
    const metrics = await registry.getMetricsAsJSON();
    for (const m of metrics.sort((a, b) => a.name.localeCompare(b.name))) {
      const labels = new Set<string>();
      for (const v of m.values) for (const k of Object.keys(v.labels ?? {})) if (k !== 'le' && k !== 'quantile') labels.add(k);
      const declared = ((registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? []).filter((l) => l !== 'le');
      const all = [...new Set([...declared, ...labels])];
      rows.push(`| \`${m.name}\` | ${m.type} | ${all.map((l) => `\`${l}\``).join(', ')} | ${cell(m.help)} |`);
    }
  }
  return rows.join('\n');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** Event reasons the controller records, with their type and the object they are about. */
export function eventsTable(): string {
  const found = new Map<string, { type: string; files: Set<string> }>();
  for (const file of sourceFiles(path.join(REPO_ROOT, 'src/controller'))) {
    const text = readFileSync(file, 'utf8');
    // `events.record(ref, 'Normal', EventReasons.Reason, ...)` in the wiring, `emit('Normal', EventReasons.Reason, ...)`
    // in the state machine (the reasons are constants: api/event-reasons.ts).
    for (const m of text.matchAll(/(?:\.record\(\s*[^,]+,|\bemit\()\s*'(Normal|Warning)',\s*EventReasons\.([A-Z][A-Za-z]+)/g)) {
      const entry = found.get(m[2]!) ?? { type: m[1]!, files: new Set<string>() };
      entry.files.add(path.relative(REPO_ROOT, file));
      found.set(m[2]!, entry);
    }
  }
  const rows = ['| Reason | Type | Recorded in |', '| --- | --- | --- |'];
  for (const [reason, { type, files }] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
    rows.push(`| \`${reason}\` | ${type} | ${[...files].sort().map((f) => `\`${f}\``).join(', ')} |`);
  }
  return rows.join('\n');
}

export async function generatedBlocks(): Promise<Record<string, string>> {
  return { values: valuesTable(), metrics: await metricsTable(), events: eventsTable() };
}

/** The README with every generated block replaced by `blocks`. */
export function withBlocks(readme: string, blocks: Record<string, string>): string {
  let out = readme;
  for (const [name, body] of Object.entries(blocks)) {
    const re = new RegExp(`(<!-- generated:${name} -->\\n)[\\s\\S]*?(\\n<!-- /generated:${name} -->)`);
    if (!re.test(out)) throw new Error(`README.md has no <!-- generated:${name} --> block`);
    out = out.replace(re, (_m, open: string, close: string) => `${open}${body}${close}`);
  }
  return out;
}
