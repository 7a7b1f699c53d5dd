// /metadata/instance: the document a client of a given api-version sees, route filtering
// ("/compute/platformFaultDomain", "/network/interface/0") and the text format
// (seed 000, "Paramètres d'itinéraire" and "Format de données").

import type { Tag } from '../../api/observation.js';
import type { Vm } from '../fleet.js';
import { COMPUTE_FIELD_SINCE, filterByVersion } from './versions.js';

/** The old `tags` string: `k1:v1;k2:v2` (seed 000, example 3). Ambiguous when values hold `:` or `;`. */
export function tagsString(tags: Tag[]): string {
  return tags.map((t) => `${t.name}:${t.value}`).join(';');
}

export function instanceDocument(vm: Vm, version: string): Record<string, unknown> {
  const compute = { ...vm.instance, tags: tagsString(vm.tags), tagsList: vm.tags.map((t) => ({ ...t })) };
  return {
    compute: filterByVersion(compute, version, COMPUTE_FIELD_SINCE),
    network: structuredClone(vm.network),
  };
}

/** Walks route segments (object keys, list indexes); undefined when the route leads nowhere. */
export function walkRoute(document: unknown, segments: string[]): unknown {
  let node: unknown = document;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      if (!/^\d+$/.test(segment)) return undefined;
      node = node[Number(segment)];
    } else if (typeof node === 'object' && node !== null && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
    if (node === undefined) return undefined;
  }
  return node;
}

export function isLeaf(value: unknown): value is string {
  return typeof value !== 'object' || value === null;
}

/** format=text: a leaf as its bare value; an object or list as its entries, one a line, "/" after non-leaves. */
export function renderText(value: unknown): string {
  if (isLeaf(value)) return String(value ?? '');
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as object);
  return entries.map(([key, child]) => (isLeaf(child) ? key : `${key}/`)).join('\n');
}
