// The drain readiness part of the controller's status write (docs/maintenance.md, "Drain
// readiness"): the DrainReady condition and status.drainReadiness from the node's look, next to the
// other conditions of the controller (reconcile/controller-status.ts). Pure.
//
// Server-side apply: the controller's every apply carries every field it owns, so what is kept is
// written again as stored, and what is left out is removed.
// - off (drainReadiness.enabled false): both are left out, i.e. removed;
// - cold (the informers have not listed): both stay as stored, no verdict is given;
// - a verdict: the condition follows it; status.drainReadiness is replaced only when the verdict
//   changed, so that lastEvaluated says since when the verdict holds and an evaluation that finds
//   nothing new writes nothing.
// And how long a report waits for the first verdict (reportHoldMs), so that a cold start writes
// each status once.

import { setCondition, type Condition, type DrainReadinessStatus } from '../../api/nodemetadata.js';
import type { ReadinessLook } from './drain-readiness.js';
import { DRAIN_READY_CONDITION, drainReadinessStatus, drainReadyCondition, sameReadiness } from './status.js';

export interface WithReadiness {
  conditions: Condition[];
  drainReadiness: DrainReadinessStatus | undefined;
}

export function withDrainReadiness(conditions: Condition[], stored: DrainReadinessStatus | undefined, look: ReadinessLook, observedGeneration: number | undefined, now: Date): WithReadiness {
  switch (look.kind) {
    case 'off': {
      const kept = conditions.filter((condition) => condition.type !== DRAIN_READY_CONDITION);
      return { conditions: kept.length === conditions.length ? conditions : kept, drainReadiness: undefined };
    }
    case 'cold':
      return { conditions, drainReadiness: stored };
    case 'verdict': {
      const fresh = drainReadinessStatus(look.verdict, now);
      return { conditions: setCondition(conditions, drainReadyCondition(look.verdict, observedGeneration), now), drainReadiness: sameReadiness(stored, fresh) ? stored : fresh };
    }
  }
}

/**
 * How long a status report may wait for the node's first verdict after the readiness informers
 * started (docs/scaling.md, "Cold start"): the report then carries DrainReady in its one write
 * instead of a second write once the pod list ends. The DrainReady target of a cold start at 5,000
 * nodes × 30 pods; past it the report goes without the verdict, which follows in a second write.
 */
export const FIRST_VERDICT_WAIT_MS = 120_000;

/**
 * How much longer a status report that is only a report (no maintenance step) should wait for the
 * node's first verdict, or undefined: write it now. Only while the watch lists for the first time:
 * a relist after an error keeps the stored verdict, and the report goes.
 */
export function reportHoldMs(look: ReadinessLook | undefined, now: number): number | undefined {
  if (look?.kind !== 'cold' || look.firstListSince === undefined) return undefined;
  const left = look.firstListSince + FIRST_VERDICT_WAIT_MS - now;
  return left > 0 ? left : undefined;
}
