// The edge that carries out a DeletePods action (atDeadline: Delete; docs/maintenance.md, "The end
// of a blocked drain"): one DELETE per pod, with the grace period the state machine chose, recorded
// in the eviction ledger whatever it came to, so that no pod is ever deleted twice. And, pure, the
// Events that say what each deletion came to: they join the step's own Events, so that the
// PodDeletedAtDeadline notification is recorded in the status the step writes.

import { EventReasons, type EventReason } from '../../api/event-reasons.js';
import type { Clock } from '../../time/clock.js';
import { NotLeaderError, type DeletionResult, type NodeWriter } from '../cache/cluster-state.js';
import type { EvictionLedger } from './evictor.js';
import type { Action, PodToDelete } from './state-machine.js';

export type DeletePodsAction = Extract<Action, { kind: 'DeletePods' }>;

export type DeletionReportOutcome = DeletionResult | { kind: 'error'; reason: string };

export interface DeletionReport {
  pod: PodToDelete;
  outcome: DeletionReportOutcome;
}

export interface DeletePodsOptions {
  writer: Pick<NodeWriter, 'deletePod'>;
  ledger: EvictionLedger;
  clock: Clock;
}

/**
 * Deletes the action's pods one after another (a blocked drain leaves a few), and records each
 * attempt. A NotLeaderError stops the rest at once and is thrown: the new leader decides afresh.
 */
export async function deletePodsAtDeadline(nodeName: string, action: DeletePodsAction, options: DeletePodsOptions): Promise<DeletionReport[]> {
  const reports: DeletionReport[] = [];
  for (const pod of action.pods) {
    let outcome: DeletionReportOutcome;
    try {
      outcome = await options.writer.deletePod(pod);
    } catch (error) {
      if (error instanceof NotLeaderError) throw error;
      outcome = { kind: 'error', reason: error instanceof Error ? error.message : String(error) };
    }
    options.ledger.recordDeletion(nodeName, pod.uid, options.clock.now(), outcome.kind);
    reports.push({ pod, outcome });
  }
  return reports;
}

/** The disruption budget the API server names in an eviction refusal ("The disruption budget web needs ..."). */
const BUDGET_IN_REFUSAL = /disruption budget (\S+?)[.:,]?\s/i;

/** What a deletion overrides, honestly: the budget the refusal names, the refusal, or that none was recorded. */
export function describeOverride(pod: PodToDelete): string {
  if (pod.refusal === undefined) return 'no eviction refusal recorded (its eviction had not been answered)';
  const budget = BUDGET_IN_REFUSAL.exec(`${pod.refusal} `)?.[1];
  return budget === undefined ? `overrides what refused its eviction: ${pod.refusal}` : `overrides PodDisruptionBudget ${pod.namespace}/${budget} (eviction refused: ${pod.refusal})`;
}

/** The Events of a DeletePods action's outcomes (Emit actions, for the step): none for a pod already gone. */
export function deletionEvents(action: DeletePodsAction, reports: readonly DeletionReport[], now: Date): Action[] {
  const left = Math.max(0, Math.round((Date.parse(action.notBefore) - now.getTime()) / 1000));
  return reports.flatMap(({ pod, outcome }): Action[] => {
    const name = `${pod.namespace}/${pod.name}`;
    switch (outcome.kind) {
      case 'deleted':
        return [
          emit('Warning', EventReasons.PodDeletedAtDeadline, `${action.eventType}: pod ${name} deleted with a ${pod.gracePeriodSeconds}s grace period, ${left}s before NotBefore ${action.notBefore} (atDeadline: Delete); ${describeOverride(pod)}`),
        ];
      case 'forbidden':
        return [
          emit(
            'Warning',
            EventReasons.DeleteAtDeadlineFailed,
            `${action.eventType}: cannot delete pod ${name} at the deadline: the controller may not delete pods (${outcome.reason}); the Helm chart grants it only when a rule of config.policy says atDeadline: Delete. The pod stays, as with Wait`,
          ),
        ];
      case 'error':
        return [emit('Warning', EventReasons.DeleteAtDeadlineFailed, `${action.eventType}: cannot delete pod ${name} at the deadline: ${outcome.reason}; not tried again, the pod stays, as with Wait`)];
      case 'gone':
        return [];
    }
  });
}

function emit(type: 'Normal' | 'Warning', reason: EventReason, message: string): Action {
  return { kind: 'Emit', type, reason, message };
}
