// The maintenance phase a node's NodeMetadata reports (status.maintenance), as a pure function of
// what it reports now and the event the node acts on (policy.selectActive).
//
// This issue covers the first step of the flow in DESIGN.md: an event appears → Scheduled; it goes
// away → None. Cordon, drain and approval (Cordoned … Completed) will extend `nextMaintenance`
// here, next to this file, without the reconciler changing shape.

import { MaintenancePhase, type MaintenanceStatus } from '../../api/nodemetadata.js';
import type { PlannedAction } from '../policy.js';

export type MaintenanceTransition =
  | { kind: 'none' }
  | { kind: 'scheduled'; action: PlannedAction; replaced?: string }
  | { kind: 'cancelled'; previous: MaintenanceStatus }
  | { kind: 'ended'; previous: MaintenanceStatus };

export interface MaintenanceDecision {
  status: MaintenanceStatus;
  transition: MaintenanceTransition;
}

export interface MaintenanceOptions {
  now: Date;
  /** False while the caches are cold: an event that seems gone is not trusted to be gone. */
  cacheWarm: boolean;
}

export function nextMaintenance(current: MaintenanceStatus | undefined, active: PlannedAction | undefined, options: MaintenanceOptions): MaintenanceDecision {
  const handling = current !== undefined && current.phase !== MaintenancePhase.None ? current : undefined;
  if (active !== undefined) {
    const status = scheduledStatus(active);
    if (handling?.eventId === active.eventId) return { status, transition: { kind: 'none' } };
    return { status, transition: handling?.eventId === undefined ? { kind: 'scheduled', action: active } : { kind: 'scheduled', action: active, replaced: handling.eventId } };
  }
  if (handling === undefined) return { status: { phase: MaintenancePhase.None }, transition: { kind: 'none' } };
  if (!options.cacheWarm) return { status: handling, transition: { kind: 'none' } };
  // The event left the metadata service: before its start, the platform cancelled it; after,
  // it ran (the next issue turns this into Completed once the node is back and uncordoned).
  const notBefore = handling.notBefore === undefined ? NaN : Date.parse(handling.notBefore);
  const ran = !Number.isNaN(notBefore) && notBefore <= options.now.getTime();
  return { status: { phase: MaintenancePhase.None }, transition: ran ? { kind: 'ended', previous: handling } : { kind: 'cancelled', previous: handling } };
}

function scheduledStatus(action: PlannedAction): MaintenanceStatus {
  const status: MaintenanceStatus = { phase: MaintenancePhase.Scheduled, eventId: action.eventId, eventType: action.eventType };
  if (action.deadline !== undefined) status.notBefore = new Date(action.deadline).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return status;
}
