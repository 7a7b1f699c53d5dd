// The meta-data item tree of one instance: a flat map of item paths, served as values or as
// directory listings (one entry a line, "/" after directories, as `curl .../latest/meta-data/`
// shows). Lists are newline-separated except where the seeds show JSON (`private-ipv4s`:
// `["192.168.XX.XX"]`). `meta-data/all` serves the same map as one JSON tree (itemTree).

import { isoSeconds } from '../durations.js';
import type { Vm } from '../fleet.js';

const JSON_LIST_ITEMS = /(^|\/)private-ipv4s$/;

export type ItemLookup = { kind: 'value'; text: string } | { kind: 'directory'; entries: string[] };

/** `meta-data/all`: a directory is an object, a value a string, a list a list of strings. */
export type ItemTree = { [entry: string]: ItemTree | string | string[] };

/** The name `meta-data/all` answers to; no item may take it. */
export const ALL_ITEMS = 'all';

/** Every item this VM serves right now: its own, its tags (when enabled), its spot time (when set). */
export function currentItems(vm: Vm): Map<string, unknown> {
  const items = new Map<string, unknown>(Object.entries(vm.instance));
  if (vm.tagsEnabled) for (const tag of vm.tags) items.set(`tags/instance/${tag.name}`, tag.value);
  // 404 while the spot instance is safe; the time once reclamation is scheduled.
  if (vm.spotTerminationTime !== undefined) items.set('instance/spot/termination-time', isoSeconds(vm.spotTerminationTime));
  return items;
}

export function formatValue(path: string, value: unknown): string {
  if (Array.isArray(value)) return JSON_LIST_ITEMS.test(path) ? JSON.stringify(value) : value.join('\n');
  return String(value);
}

/** `path` without leading or trailing "/"; "" is the meta-data root. */
export function lookupItem(items: Map<string, unknown>, path: string): ItemLookup | undefined {
  if (path !== '' && items.has(path)) return { kind: 'value', text: formatValue(path, items.get(path)) };
  const prefix = path === '' ? '' : `${path}/`;
  const entries = new Set<string>();
  for (const key of items.keys()) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    entries.add(slash === -1 ? rest : `${rest.slice(0, slash)}/`);
  }
  if (entries.size === 0) return undefined;
  return { kind: 'directory', entries: [...entries].sort() };
}

/**
 * The whole item tree as `meta-data/all` answers it, built from the same map as the item paths so
 * the two cannot disagree: keys are the path segments, a list item stays a list (cloud-init's AliYun
 * datasource reads `dns-conf/nameservers` there as a list, and splits the item text into the same).
 * Where tag names make a value also a directory (tags `a` and `a/b`), the value is kept, as
 * lookupItem keeps it, and the directory dropped.
 */
export function itemTree(items: Map<string, unknown>): ItemTree {
  // Null-prototype objects: an item or tag named "__proto__" or "constructor" is an ordinary key.
  const directory = (): ItemTree => Object.create(null) as ItemTree;
  const root = directory();
  const byDepth = [...items.keys()].sort((a, b) => a.split('/').length - b.split('/').length);
  for (const path of byDepth) {
    const segments = path.split('/');
    const name = segments.pop() as string;
    let parent: ItemTree | undefined = root;
    for (const segment of segments) {
      const next: ItemTree | string | string[] = parent[segment] ?? (parent[segment] = directory());
      parent = typeof next === 'string' || Array.isArray(next) ? undefined : next;
      if (parent === undefined) break;
    }
    if (parent === undefined) continue;
    const value = items.get(path);
    parent[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return root;
}
