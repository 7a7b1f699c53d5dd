// Who else is acting on a node, read from the marks other controllers put on it (docs/maintenance.md,
// "Other controllers on the node"). Pure.
//
// nodemeta never undoes what it did not do. While another controller drains the node, nodemeta
// does not evict (it still labels, reports and, once the node is empty, approves); while the
// cluster autoscaler deletes it, nodemeta gives the node up altogether (no cordon, eviction or
// approval). A cordon without nodemeta's annotation is someone else's: nodemeta never lifts it.

import { OtherDrainerMarks } from '../../api/names.js';
import type { OtherDrainer } from '../../api/nodemetadata.js';
import type { NodeState } from '../cache/node-state.js';
import { heldByNodemeta } from './cordon.js';

/** What nodemeta does while another drainer acts (docs/maintenance.md, "Other controllers on the node"). */
export type OtherDrainerRole =
  /** It evicts the pods itself: nodemeta does not evict, and approves once the node is empty. */
  | 'drains'
  /** It deletes the node: nodemeta gives the node up (no cordon, eviction or approval). */
  | 'deletes'
  /** Someone cordoned the node and did not say why: nodemeta drains as usual, and never uncordons it. */
  | 'cordons';

export interface OtherDrainerSeen {
  name: OtherDrainer;
  role: OtherDrainerRole;
  /** The mark it was recognised by, for Events: `taint ToBeDeletedByClusterAutoscaler`. */
  mark: string;
}

/**
 * The other drainer acting on `node`, or undefined. The autoscaler's deletion ranks first (the node
 * is going), then the drainers by their own marks, then a cordon nobody recorded.
 */
export function otherDrainerOn(node: NodeState): OtherDrainerSeen | undefined {
  const taints = new Set((node.spec?.taints ?? []).map((taint) => taint.key));
  if (taints.has(OtherDrainerMarks.clusterAutoscalerDeletionTaint)) return { name: 'cluster-autoscaler', role: 'deletes', mark: `taint ${OtherDrainerMarks.clusterAutoscalerDeletionTaint}` };
  if (taints.has(OtherDrainerMarks.karpenterDisruptedTaint)) return { name: 'karpenter', role: 'drains', mark: `taint ${OtherDrainerMarks.karpenterDisruptedTaint}` };
  if (taints.has(OtherDrainerMarks.aksRemediatorTaint)) return { name: 'aks-remediator', role: 'drains', mark: `taint ${OtherDrainerMarks.aksRemediatorTaint}` };
  if (node.metadata.annotations?.[OtherDrainerMarks.kuredRebootInProgressAnnotation] !== undefined) {
    return { name: 'kured', role: 'drains', mark: `annotation ${OtherDrainerMarks.kuredRebootInProgressAnnotation}` };
  }
  if (node.spec?.unschedulable === true && heldByNodemeta(node).cordonedFor === undefined) return { name: 'unrecorded-cordon', role: 'cordons', mark: 'spec.unschedulable without nodemeta.io/cordoned' };
  return undefined;
}

/**
 * Someone uncordoned a node nodemeta had cordoned: its annotation is there, the node takes pods.
 * (nodemeta writes the cordon and its annotation in one request, and takes both away in one.)
 * nodemeta does not cordon it again: its NoSchedule taint still keeps new pods off. The one rule,
 * on the node's scheduling as the state machine reads it too.
 */
export function uncordonedUnderNodemeta(scheduling: { cordonedFor: string | undefined; unschedulable: boolean }): boolean {
  return scheduling.cordonedFor !== undefined && !scheduling.unschedulable;
}

/** uncordonedUnderNodemeta of a Node as read. */
export function uncordonedByOther(node: NodeState): boolean {
  return uncordonedUnderNodemeta({ cordonedFor: heldByNodemeta(node).cordonedFor, unschedulable: node.spec?.unschedulable === true });
}

/** Whether nodemeta may cordon the node now: not one being deleted, not one someone uncordoned under it. */
export function mayCordon(node: NodeState): boolean {
  return otherDrainerOn(node)?.role !== 'deletes' && !uncordonedByOther(node);
}
