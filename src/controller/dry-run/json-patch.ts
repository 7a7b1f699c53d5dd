// A JSON patch (RFC 6902) applied to a Node the way the API server applies nodemeta's patches
// (cordon.ts, taints.ts, out-of-service.ts, protection.ts): what a dry run computes instead of
// sending them (dry-run.ts). Pure.

import { WriteConflictError, type NodeState } from '../cache/cluster-state.js';
import { canonical } from '../decide/same-json.js';
import type { JsonPatchOperation } from '../decide/patch-ops.js';

/**
 * RFC 6902 over the node, as the API server applies nodemeta's patches: a failed `test` (a `test`
 * for null is met by a missing path, as the API server's json-patch library does) throws
 * WriteConflictError, like the real 422, and the reconciler re-reads and re-plans.
 */
export function applyJsonPatch(node: NodeState, ops: readonly JsonPatchOperation[]): NodeState {
  const doc = structuredClone(node) as unknown as Record<string, unknown>;
  // A Node always has a spec on the server; the cache may leave an empty one out.
  doc.spec ??= {};
  for (const op of ops) {
    const tokens = op.path.split('/').slice(1).map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
    const key = tokens.pop();
    if (key === undefined) throw new Error(`dry run: cannot patch the whole object (${op.path})`);
    const parent = tokens.reduce<Record<string, unknown> | undefined>((at, token) => {
      const child = at?.[token];
      return child !== null && typeof child === 'object' && !Array.isArray(child) ? (child as Record<string, unknown>) : undefined;
    }, doc);
    const actual = parent?.[key];
    if (op.op === 'test') {
      const met = actual === undefined ? op.value === null : canonical(actual) === canonical(op.value);
      if (!met) throw new WriteConflictError(`dry run: testing value ${op.path} failed`);
    } else if (parent === undefined || (op.op !== 'add' && actual === undefined)) {
      throw new WriteConflictError(`dry run: ${op.op} ${op.path}: the path does not exist`);
    } else if (op.op === 'remove') {
      delete parent[key];
    } else {
      parent[key] = structuredClone(op.value);
    }
  }
  const patched = doc as unknown as NodeState;
  // The API server leaves out a false spec.unschedulable and an empty taint list.
  if (patched.spec?.unschedulable === false) delete patched.spec.unschedulable;
  if (patched.spec?.taints?.length === 0) delete patched.spec.taints;
  return patched;
}
