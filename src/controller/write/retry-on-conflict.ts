// Every guarded write of a Node (labels, taints, the out-of-service taint, the fast path's taint and
// cordon, the maintenance step's cordon and uncordon, cleanup) goes through this one loop: plan from
// the node as read, write; when the write loses a race (409, or a failed JSON-patch `test`:
// WriteConflictError) re-read the node and plan again, a bounded number of times. Nothing is ever
// forced. Past the bound the conflict is thrown and the work queue retries the key with backoff
// (docs/architecture.md, "Writes").

import type { Logger } from '../../observability/logger.js';
import { WriteConflictError, type NodeState } from '../cache/cluster-state.js';

export interface ConflictRetry {
  /** Re-plans after this many lost races at most, then throws the conflict. */
  retries: number;
  /** The fresh read after a lost race (`lost`: the node the write was planned from); undefined when the node is gone. */
  reread(lost: NodeState): Promise<NodeState | undefined>;
  /** Each lost race is logged at debug level. */
  logger?: Logger;
}

/**
 * `write(node)` from `start`, then from a fresh read after each lost race. Returns what `write`
 * returned, or undefined when the node is gone. Errors other than a conflict are thrown at once.
 */
export async function retryOnConflict<T>(start: NodeState, what: string, write: (node: NodeState) => Promise<T>, retry: ConflictRetry): Promise<T | undefined> {
  let node: NodeState | undefined = start;
  for (let attempt = 0; node !== undefined; attempt++) {
    try {
      return await write(node);
    } catch (error) {
      if (!(error instanceof WriteConflictError) || attempt >= retry.retries) throw error;
      retry.logger?.debug('write conflict, re-reading the node', { node: node.metadata.name, what, attempt, error: error.message });
      node = await retry.reread(node);
    }
  }
  return undefined;
}
