// The edge that carries out an EvictPods action: Eviction API calls, a bounded number at a time,
// and the memory of what each pod's last attempt came to (EvictionAttempt), which the state
// machine needs to back off a refused pod and to report what blocks the drain. The backoff's
// random draw happens here, once per refusal, so that the state machine stays pure.
//
// That memory lives in this process only. After a restart or a leader change it is empty, which is
// safe: a pod already evicted is terminating and the drain plan skips it, so no pod is evicted
// twice; a pod whose eviction was refused is simply tried once more at once.

import { backoffDelay, type Random } from '../../time/backoff.js';
import type { Clock } from '../../time/clock.js';
import type { Semaphore } from '../../runtime/semaphore.js';
import { NotLeaderError, type EvictionResult, type NodeWriter } from '../cache/cluster-state.js';
import type { PodToEvict } from './drain-plan.js';
import type { DeletionOutcome, EvictionAttempt } from './state-machine.js';

/** Evictions in flight at once for one node: quick for 100 pods, gentle on the API server. */
export const EVICTION_CONCURRENCY = 10;

/**
 * A refused eviction (429 from a PodDisruptionBudget, or an error) is tried again after the one
 * backoff: random(0, min(1 min, 5 s × 2ⁿ)) for its n-th retry. The jitter matters in a wave: the
 * pods of many nodes refused by the same PDB in the same instant do not come back in step.
 */
export const EVICTION_BACKOFF = { baseMs: 5_000, capMs: 60_000 } as const;

export type EvictionOutcome = EvictionResult | { kind: 'error'; reason: string };

export interface EvictionReport {
  pod: PodToEvict;
  outcome: EvictionOutcome;
  /** The first refusal for this pod, or a refusal for another reason than the last one. */
  newlyBlocked: boolean;
}

/** Per node, per pod uid: the attempts this process made. */
export class EvictionLedger {
  private readonly byNode = new Map<string, Map<string, EvictionAttempt>>();

  /** `random`: uniform numbers in [0, 1) for the retry backoff's jitter. */
  constructor(private readonly random: Random = Math.random) {}

  attempts(nodeName: string): EvictionAttempt[] {
    return [...(this.byNode.get(nodeName)?.values() ?? [])];
  }

  /** The node's drain is over (or never was): forget its attempts. */
  forget(nodeName: string): void {
    this.byNode.delete(nodeName);
  }

  /** The pod's deletion at the deadline was tried (deadline-deletion.ts): it is never tried again. */
  recordDeletion(nodeName: string, uid: string, nowMs: number, outcome: DeletionOutcome): void {
    let attempts = this.byNode.get(nodeName);
    if (attempts === undefined) {
      attempts = new Map();
      this.byNode.set(nodeName, attempts);
    }
    const previous = attempts.get(uid);
    attempts.set(uid, { ...(previous ?? { uid, attempts: 0, lastAttemptMs: nowMs }), deletion: outcome });
  }

  record(nodeName: string, uid: string, nowMs: number, blockedBy: string | undefined): { changed: boolean } {
    let attempts = this.byNode.get(nodeName);
    if (attempts === undefined) {
      attempts = new Map();
      this.byNode.set(nodeName, attempts);
    }
    const previous = attempts.get(uid);
    const next: EvictionAttempt = { uid, attempts: (previous?.attempts ?? 0) + 1, lastAttemptMs: nowMs };
    if (previous?.deletion !== undefined) next.deletion = previous.deletion;
    if (blockedBy !== undefined) {
      next.blockedBy = blockedBy;
      next.retryAtMs = nowMs + backoffDelay(EVICTION_BACKOFF, next.attempts - 1, this.random);
    }
    attempts.set(uid, next);
    return { changed: previous?.blockedBy !== blockedBy };
  }
}

export interface EvictPodsOptions {
  writer: Pick<NodeWriter, 'evictPod'>;
  ledger: EvictionLedger;
  clock: Clock;
  concurrency?: number;
  /** Evictions in flight across every node (the cluster-wide cap); none when absent. */
  limit?: Semaphore | undefined;
}

/**
 * Evicts `pods` of `nodeName` (in the plan's order, drain-plan.ts), at most `concurrency` requests at
 * a time, one priority after the other: the pods of a lower priority are answered before those of a
 * higher one are sent, so that the API server sees the order too (docs/maintenance.md, "Eviction
 * order"). Records each attempt.
 * An error (not a refusal) is recorded as an attempt too, so the pod backs off like a refused one;
 * a NotLeaderError stops the rest at once and is thrown.
 */
export async function evictPods(nodeName: string, pods: readonly PodToEvict[], options: EvictPodsOptions): Promise<EvictionReport[]> {
  const reports: EvictionReport[] = [];
  for (const group of priorityGroups(pods)) reports.push(...(await evictGroup(nodeName, group, options)));
  return reports;
}

/** Runs of consecutive pods of the same priority (and class), in order. */
function priorityGroups(pods: readonly PodToEvict[]): PodToEvict[][] {
  const groups: PodToEvict[][] = [];
  for (const pod of pods) {
    const last = groups.at(-1)?.[0];
    if (last !== undefined && (last.priority ?? 0) === (pod.priority ?? 0) && last.critical === pod.critical) groups.at(-1)!.push(pod);
    else groups.push([pod]);
  }
  return groups;
}

async function evictGroup(nodeName: string, pods: readonly PodToEvict[], options: EvictPodsOptions): Promise<EvictionReport[]> {
  const reports: EvictionReport[] = [];
  const queue = [...pods];
  let fatal: unknown;
  const worker = async () => {
    for (let pod = queue.shift(); pod !== undefined && fatal === undefined; pod = queue.shift()) {
      let outcome: EvictionOutcome;
      try {
        const evict = pod;
        outcome = options.limit === undefined ? await options.writer.evictPod(evict) : await options.limit.run(() => options.writer.evictPod(evict));
      } catch (error) {
        if (error instanceof NotLeaderError) {
          fatal = error;
          return;
        }
        outcome = { kind: 'error', reason: error instanceof Error ? error.message : String(error) };
      }
      const blockedBy = outcome.kind === 'blocked' || outcome.kind === 'error' ? outcome.reason : undefined;
      const { changed } = options.ledger.record(nodeName, pod.uid, options.clock.now(), blockedBy);
      reports.push({ pod, outcome, newlyBlocked: blockedBy !== undefined && changed });
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? EVICTION_CONCURRENCY, pods.length)) }, worker);
  await Promise.all(workers);
  if (fatal !== undefined) throw fatal;
  return reports;
}
