// Which other nodes a change of one node's maintenance status concerns. Pure.
//
// A node waits on others in two phases only:
// - Cordoned: it waits for a drain slot (maxConcurrentDrains). Only a drain that ends frees one.
// - Drained: on Azure it waits until every node of its event's Resources is drained before it asks
//   for approval (and withdraws the request when one stops being drained). Only a node of the same
//   event entering or leaving Drained/Approved changes that.
// Looking again at every waiting node on every change (what the controller did before) costs, in a
// wave of 500 nodes, 500 reconciles per transition: a quarter of a million for the wave.

import { MaintenancePhase, type MaintenanceStatus } from '../api/nodemetadata.js';

const DRAINED_OR_LATER: readonly string[] = [MaintenancePhase.Drained, MaintenancePhase.Approved];

/** The nodes to reconcile again because `name`'s status went from `before` to `after` (undefined: none, or deleted). */
export function peersToRequeue(
  name: string,
  before: MaintenanceStatus | undefined,
  after: MaintenanceStatus | undefined,
  statuses: ReadonlyMap<string, MaintenanceStatus>,
): string[] {
  if (before?.phase === after?.phase && before?.eventId === after?.eventId) return [];
  const slotFreed = before?.phase === MaintenancePhase.Draining && after?.phase !== MaintenancePhase.Draining;
  const drained = (status: MaintenanceStatus | undefined) => status !== undefined && DRAINED_OR_LATER.includes(status.phase);
  const drainedChanged = drained(before) !== drained(after) || (drained(before) && before?.eventId !== after?.eventId);
  const events = new Set([before?.eventId, after?.eventId].filter((id) => id !== undefined));
  const peers: string[] = [];
  for (const [peer, status] of statuses) {
    if (peer === name) continue;
    if (slotFreed && status.phase === MaintenancePhase.Cordoned) peers.push(peer);
    else if (drainedChanged && status.phase === MaintenancePhase.Drained && status.eventId !== undefined && events.has(status.eventId)) peers.push(peer);
  }
  return peers;
}
