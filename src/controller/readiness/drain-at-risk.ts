// When it matters (docs/maintenance.md, "Drain readiness"): an event is scheduled on a node that is
// not drain-ready. At the moment the event is seen, the step that announces it (Event
// MaintenanceScheduled, once per event: the state machine's transition into Scheduled) gets one more
// Event, DrainAtRisk, naming the blockers and the time left before NotBefore; its notification
// follows from the Event as every transition's does (notifications/transitions.ts). Pure.

import { EventReasons, type EventReason } from '../../api/event-reasons.js';
import type { MaintenanceStatus } from '../../api/nodemetadata.js';
import type { Action } from '../maintenance/state-machine.js';
import type { ReadinessLook } from './drain-readiness.js';

/** The step with a DrainAtRisk Event right after its MaintenanceScheduled, when the node's verdict blocks. */
export function withDrainAtRisk<S extends { status: MaintenanceStatus; actions: readonly Action[] }>(step: S, look: ReadinessLook | undefined, now: Date): S {
  if (look?.kind !== 'verdict' || look.verdict.blockedPods === 0) return step;
  const scheduled = step.actions.findIndex((action) => action.kind === 'Emit' && action.reason === EventReasons.MaintenanceScheduled);
  if (scheduled < 0) return step;
  const atRisk = emit('Warning', EventReasons.DrainAtRisk, drainAtRiskMessage(look.verdict.message, step.status.notBefore, now));
  return { ...step, actions: [...step.actions.slice(0, scheduled + 1), atRisk, ...step.actions.slice(scheduled + 1)] };
}

/** `<the verdict's message>; 14m left before NotBefore 2026-12-07T20:30:00Z` (or "NotBefore has passed"). */
export function drainAtRiskMessage(verdictMessage: string, notBefore: string | undefined, now: Date): string {
  if (notBefore === undefined) return `${verdictMessage}; no NotBefore given`;
  const leftMs = Date.parse(notBefore) - now.getTime();
  if (Number.isNaN(leftMs)) return verdictMessage;
  if (leftMs <= 0) return `${verdictMessage}; NotBefore ${notBefore} has passed`;
  return `${verdictMessage}; ${timeLeft(leftMs)} left before NotBefore ${notBefore}`;
}

/** An Event of the step, as the state machine writes its own (state-machine.ts emit). */
function emit(type: 'Normal' | 'Warning', reason: EventReason, message: string): Action {
  return { kind: 'Emit', type, reason, message };
}

function timeLeft(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.floor(ms / 1000)}s`;
  if (minutes < 60) return `${minutes}m`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
