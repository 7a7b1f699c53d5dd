// Which nodes a change requeues: the node itself, its fast path, and the other nodes a change of its
// maintenance status concerns. Pure; controller.ts carries the answers out.
//
// A node waits on others in two phases only:
// - Cordoned: it waits for a drain slot (maxConcurrentDrains). Only a drain that ends frees one.
// - Drained: on Azure it waits until every node of its event's Resources is drained before it asks
//   for approval (and withdraws the request when one stops being drained). Only a node of the same
//   event entering or leaving Drained/Approved changes that.
// Looking again at every waiting node on every change (what the controller did before) costs, in a
// wave of 500 nodes, 500 reconciles per transition: a quarter of a million for the wave.

import { MaintenancePhase, type MaintenanceStatus } from '../../api/nodemetadata.js';
import { DRAINED_PHASES } from '../maintenance/approval.js';


/** The nodes to reconcile again because `name`'s status went from `before` to `after` (undefined: none, or deleted). */
export function peersToRequeue(
  name: string,
  before: MaintenanceStatus | undefined,
  after: MaintenanceStatus | undefined,
  statuses: ReadonlyMap<string, MaintenanceStatus>,
): string[] {
  if (before?.phase === after?.phase && before?.eventId === after?.eventId) return [];
  const slotFreed = before?.phase === MaintenancePhase.Draining && after?.phase !== MaintenancePhase.Draining;
  const drained = (status: MaintenanceStatus | undefined) => status !== undefined && DRAINED_PHASES.includes(status.phase);
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

/**
 * What one change asks of the queues. `protect`: the nodes to look at for the fast path first (the
 * reconciler's needsProtection decides whether their taint and cordon are due); `reconcile`: the
 * nodes to reconcile. The wiring (controller.ts) only carries these out.
 */
export interface Requeue {
  protect: string[];
  reconcile: string[];
}

/**
 * A Node was added, changed or deleted: reconcile it (a deleted one to forget it and free its drain
 * slot). While it exists, its fast path too: an admin's uncordon of a node in maintenance, or a new
 * node with a pending event.
 */
export function requeueForNode(name: string | undefined, deleted: boolean): Requeue {
  if (!isNodeName(name)) return { protect: [], reconcile: [] };
  return { protect: deleted ? [] : [name], reconcile: [name] };
}

/**
 * A NodeMetadata (named after its Node) went from maintenance status `before` to `after`: its node,
 * with the fast path unless it was deleted, and the waiting nodes this change concerns (peersToRequeue).
 */
export function requeueForNodeMetadata(
  name: string | undefined,
  deleted: boolean,
  before: MaintenanceStatus | undefined,
  after: MaintenanceStatus | undefined,
  statuses: ReadonlyMap<string, MaintenanceStatus>,
): Requeue {
  if (!isNodeName(name)) return { protect: [], reconcile: [] };
  return { protect: deleted ? [] : [name], reconcile: [name, ...peersToRequeue(name, before, after, statuses)] };
}

/** Every node, each with its fast path first: leadership gained, or a configuration reloaded (a policy may now call for a taint). */
export function requeueForAll(names: Iterable<string | undefined>): Requeue {
  const all = [...names].filter(isNodeName);
  return { protect: all, reconcile: all };
}

function isNodeName(name: string | undefined): name is string {
  return name !== undefined && name !== '';
}
