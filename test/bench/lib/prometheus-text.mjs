// Prometheus text exposition (what /metrics serves) read into samples, summed by the labels a bench
// asks for, and the difference between two scrapes: benches report what happened between them.

/** Every sample of the text: `{ name, labels: {…}, value }` (comments and blank lines skipped). */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

/** Whether the scrape has a metric of this name at all (to choose between old and new metrics). */
export function hasMetric(samples, name) {
  return samples.some((s) => s.name === name);
}

/**
 * Sum of `name` grouped by the values of `by` (a key "a=1,b=2"; "" when `by` is empty), over the
 * samples `where` (a function of the labels) accepts.
 */
export function sumBy(samples, name, by = [], where = () => true) {
  const sums = new Map();
  for (const s of samples) {
    if (s.name !== name || !where(s.labels)) continue;
    const key = by.map((label) => `${label}=${s.labels[label] ?? ''}`).join(',');
    sums.set(key, (sums.get(key) ?? 0) + s.value);
  }
  return sums;
}

/** The total of `name` over the samples `where` accepts (0 when absent). */
export function total(samples, name, where = () => true) {
  return sumBy(samples, name, [], where).get('') ?? 0;
}

/** after - before per key (keys of either; a key absent before counts from 0), zeros left out. */
export function delta(before, after) {
  const out = new Map();
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const d = (after.get(key) ?? 0) - (before.get(key) ?? 0);
    if (d !== 0) out.set(key, d);
  }
  return out;
}
