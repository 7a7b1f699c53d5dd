// What a dry run stores in NodeMetadata status and says in Events (dry-run.ts simulates the node
// writes; docs/maintenance.md, "Dry run"). Pure.
//
// The state machine runs unchanged: it neither knows nor needs to know about dry run. Around it:
// - What it decides from: in dry run, the approval a real run would have asked for is stored as
//   `wouldApprove` (never `approve`, which the agents act on) and handed to the state machine as
//   `approve`, so it asks once and withdraws as a real run would. In a real run, a status a dry run
//   wrote counts for nothing: its Draining or Drained was simulated (no pod left the node), and
//   trusting it would ask for an approval with the pods still there. An event still announced starts
//   over, announced again. One that is over leaves nothing to do, unless the Node still holds a
//   cordon (or load-balancer exclusion) a real run made before the dry run: then the event is
//   finished for real, which gives that back.
// - What is stored: a step that changes the status in dry run is marked `dryRun: true`; a status the
//   dry run did not change (a node without maintenance, one a real run completed) stays as it is.
// - What the Events say: the state machine's transitions keep their reasons (alerts and the
//   notifications follow them) with `[dry run]` before the message; the approval request, which is
//   a status field and not a node write, becomes a `DryRun` Event of its own.

import type { ConditionUpdate, MaintenanceStatus } from '../../api/nodemetadata.js';
import { ConditionReasons, EventReasons, type EventReason } from '../../api/event-reasons.js';
import type { Action } from '../maintenance/state-machine.js';
import { sameJson } from '../decide/same-json.js';

/** Put before the message of a transition's Event in dry run. */
export const DRY_RUN_PREFIX = '[dry run] ';

/** What a real run needs to pick up after a dry run. */
export interface AfterDryRunFacts {
  /** The ids of the events the node has now (policy.planActions). */
  announced: ReadonlySet<string>;
  /** The Node carries nodemeta's cordon or load-balancer exclusion (its annotations). */
  nodemetaHoldsNode: boolean;
}

const NO_FACTS: AfterDryRunFacts = { announced: new Set(), nodemetaHoldsNode: false };

/** The maintenance status the state machine decides from. */
export function maintenanceToDecide(stored: MaintenanceStatus | undefined, dryRun: boolean, facts: AfterDryRunFacts = NO_FACTS): MaintenanceStatus | undefined {
  if (stored === undefined) return undefined;
  if (!dryRun) return stored.dryRun === true ? afterDryRun(stored, facts) : stored;
  const { dryRun: _marker, wouldApprove, approve: _approve, ...rest } = stored;
  // An `approve` in dry run is not one the dry run asked for (a real run's, left over, or someone
  // else's): the simulation goes on from what it asked for itself.
  return wouldApprove === undefined ? rest : { ...rest, approve: wouldApprove };
}

/** A real run meets a status a dry run wrote (see the top of this file). */
function afterDryRun(stored: MaintenanceStatus, facts: AfterDryRunFacts): MaintenanceStatus | undefined {
  const { phase, eventId, eventType, notBefore } = stored;
  if (phase === 'None' || eventId === undefined) return undefined;
  const announced = facts.announced.has(eventId);
  // A completed event back in the metadata is a glitch (state-machine.ts), as after a real run.
  if (phase === 'Completed' && (announced || !facts.nodemetaHoldsNode)) {
    const { dryRun: _marker, wouldApprove: _would, approve: _approve, ...completed } = stored;
    return completed;
  }
  if (announced) return undefined;
  if (!facts.nodemetaHoldsNode) return undefined;
  // Over, and the Node still holds what a real run did before the dry run: finish it for real.
  return { phase: 'Scheduled', eventId, ...(eventType === undefined ? {} : { eventType }), ...(notBefore === undefined ? {} : { notBefore }) };
}

/**
 * The maintenance status to store after a step decided `decided` from maintenanceToDecide(stored).
 * In dry run: `approve` becomes `wouldApprove` and the status is marked, unless the step left it as it was.
 */
export function maintenanceToStore(decided: MaintenanceStatus, stored: MaintenanceStatus | undefined, dryRun: boolean): MaintenanceStatus {
  if (!dryRun) return decided;
  if (stored !== undefined && sameJson(decided, maintenanceToDecide(stored, true))) {
    // Unchanged: as stored, but without an `approve` (the dry run never leaves one of its own).
    const { approve: _approve, ...kept } = stored;
    return kept;
  }
  if (stored === undefined && decided.phase === 'None' && Object.keys(decided).length === 1) return decided;
  const { approve, ...rest } = decided;
  return { ...rest, ...(approve === undefined ? {} : { wouldApprove: approve }), dryRun: true };
}

/**
 * A condition of the controller's in dry run: one that would say something was done (status True:
 * labels applied, node drained) says instead that a real run would report it, with status False,
 * since it was not done.
 */
export function conditionInDryRun(update: ConditionUpdate): ConditionUpdate {
  if (update.status !== 'True') return update;
  return { ...update, status: 'False', reason: ConditionReasons.DryRun, message: `dry run: a real run would report ${update.reason}: ${update.message}` };
}

export interface StepEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

/**
 * The Events of a step's actions, in order: its transitions (Emit), and in dry run, marked, plus the
 * approval requests a real run would have made or withdrawn. `requested`: the event id the status
 * asked to approve before the step (a withdrawal names it).
 */
export function stepEvents(actions: readonly Action[], dryRun: boolean, requested: string | undefined): StepEvent[] {
  const events: StepEvent[] = [];
  for (const action of actions) {
    if (action.kind === 'Emit') events.push({ type: action.type, reason: action.reason, message: dryRun ? `${DRY_RUN_PREFIX}${action.message}` : action.message });
    else if (dryRun && action.kind === 'RequestApproval') {
      events.push({ type: 'Normal', reason: EventReasons.DryRun, message: `would ask the agent to approve ${action.eventId} (status.maintenance.approve; the agent would start the event early)` });
    } else if (dryRun && action.kind === 'ClearApprovalRequest' && requested !== undefined) {
      events.push({ type: 'Normal', reason: EventReasons.DryRun, message: `would withdraw the request to approve ${requested}` });
    }
  }
  return events;
}
