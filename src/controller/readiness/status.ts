// A verdict as the NodeMetadata status shows it (docs/maintenance.md, "Drain readiness"): the
// DrainReady condition and status.drainReadiness, with the lists capped so that a node with 500
// blocked pods does not write 500 entries. Pure; the reconciler writes it with the controller's
// field manager.

import { ConditionReasons } from '../../api/event-reasons.js';
import { Conditions } from '../../api/names.js';
import type { ConditionUpdate, DrainReadinessStatus } from '../../api/nodemetadata.js';
import type { DrainVerdict, ReadinessEntry } from './verdict.js';

export type { DrainReadinessStatus };

/** The condition's type (api/names.ts Conditions). */
export const DRAIN_READY_CONDITION = Conditions.drainReady;
/** The condition's reason when nothing blocks (when something does: the first blocker's reason). */
export const NOTHING_BLOCKS_REASON = ConditionReasons.NothingBlocks;
/** At most this many blockers, and this many warnings, in the status. */
export const MAX_READINESS_ENTRIES = 20;

export function drainReadyCondition(verdict: DrainVerdict, observedGeneration?: number): ConditionUpdate {
  const base = { type: DRAIN_READY_CONDITION, ...(observedGeneration === undefined ? {} : { observedGeneration }) };
  if (verdict.firstReason === undefined) return { ...base, status: 'True', reason: NOTHING_BLOCKS_REASON, message: verdict.message };
  return { ...base, status: 'False', reason: verdict.firstReason, message: verdict.message };
}

export function drainReadinessStatus(verdict: DrainVerdict, now: Date): DrainReadinessStatus {
  return {
    blockers: verdict.blockers.slice(0, MAX_READINESS_ENTRIES),
    blockedPods: verdict.blockedPods,
    warnings: verdict.warnings.slice(0, MAX_READINESS_ENTRIES),
    lastEvaluated: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/**
 * The same status but for the evaluation time: the reconciler writes nothing then (no write when
 * nothing changed, docs/maintenance.md "Drain readiness"), so lastEvaluated says since when the verdict holds.
 */
export function sameReadiness(a: DrainReadinessStatus | undefined, b: DrainReadinessStatus): boolean {
  if (a === undefined) return false;
  return a.blockedPods === b.blockedPods && sameEntries(a.blockers, b.blockers) && sameEntries(a.warnings, b.warnings);
}

function sameEntries(a: readonly ReadinessEntry[], b: readonly ReadinessEntry[]): boolean {
  return a.length === b.length && a.every((entry, i) => entry.pod === b[i]!.pod && entry.reason === b[i]!.reason && entry.message === b[i]!.message);
}
