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
