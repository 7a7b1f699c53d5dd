// The fast path's decision: does this node need its maintenance taint and cordon now, before
// anything else the controller does for it or for any other node? Pure.
//
// In a wave (an update domain's host update, every spot VM of a size reclaimed with 30 s notice)
// hundreds of nodes become doomed within a second. Pods evicted from one of them must not be
// scheduled onto another, so every doomed node must become unschedulable before the first eviction
// (docs/architecture.md, "The flow": a cheap urgent write never waits behind slow work). This path only ever ADDS
// protection, with the same rules as the full reconcile (the active event from decide/active-event.ts,
// the taints taints.desiredTaints gives for that event, the cordon the state machine's ensureCordon would make);
// taking protection away (an event gone, a policy relaxed) is the full reconcile's job alone.

import { Annotations, EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../api/names.js';
import { MaintenancePhase, type NodeMetadata } from '../../api/nodemetadata.js';
import type { NodeState } from '../cache/node-state.js';
import type { ControllerConfig } from '../config/config.js';
import { cordonPatch } from './cordon.js';
import { nodeEvents } from './active-event.js';
import { mayCordon } from './other-drainers.js';
import { desiredTaints, isNodemetaTaint, mergeTaints, taintsPatch, taintText, withOurOtherTaints, type Taint } from './taints.js';
import type { JsonPatchOperation } from './patch-ops.js';

export interface Protection {
  /** The node's taint list after the write, when it changes (nodemeta's NoSchedule taint added). */
  taints?: Taint[];
  /** Cordon for this event id (spec.unschedulable and the nodemeta.io/cordoned annotation). */
  cordonFor?: string;
  /** With the cordon: the load-balancer exclusion label too (drain.excludeFromLoadBalancers). */
  excludeFromLoadBalancers?: boolean;
}

/**
 * What the node lacks of the protection its active event calls for now, or undefined when it
 * lacks nothing (or nothing is due). Only a due Drain or Cordon action, or a spot reclaim, is urgent.
 */
export function missingProtection(node: NodeState, nodeMetadata: NodeMetadata | undefined, config: Pick<ControllerConfig, 'policy' | 'drain' | 'dryRun'>, now: Date): Protection | undefined {
  // The active event exactly as the full reconcile decides it (decide/active-event.ts).
  const { observation, plans, active, decideFrom: maintenance } = nodeEvents(node, nodeMetadata, config, now);
  if (observation === undefined) return undefined;
  if (active === undefined || !active.due || (active.action !== 'Drain' && active.action !== 'Cordon')) return undefined;
  // An event id comes back after it was completed only as a glitch in what the agent saw (the state
  // machine ignores it): no cordon for it.
  if (maintenance?.phase === MaintenancePhase.Completed && maintenance.eventId === active.eventId) return undefined;

  const protection: Protection = {};
  const current = node.spec?.taints;
  const wanted = desiredTaints(plans, active).filter((taint) => taint.effect === 'NoSchedule');
  // Only add: nodemeta's taints of other keys stay as they are (the full reconcile removes what is stale).
  const next = wanted.length === 0 ? undefined : mergeTaints(current, withOurOtherTaints(current, wanted));
  if (next !== undefined) protection.taints = next;
  // A node someone else cordoned stays theirs (no annotation of ours is added); a node nodemeta cordoned
  // for another event is protected already, and the full reconcile re-labels the cordon.
  // Nor one the cluster autoscaler deletes, nor one someone uncordoned under nodemeta's cordon
  // (decide/other-drainers.ts): nodemeta does not fight them.
  if (node.spec?.unschedulable !== true && mayCordon(node)) {
    protection.cordonFor = active.eventId;
    protection.excludeFromLoadBalancers = config.drain.excludeFromLoadBalancers;
  }
  return protection.taints === undefined && protection.cordonFor === undefined ? undefined : protection;
}

/**
 * The one JSON patch that writes `protection`: the taint list guarded by a `test` of the list it
 * replaces, and the cordon guarded as cordonPatch guards it. Any change since `node` was read fails a
 * `test` (422) and the caller re-reads.
 */
export function protectionPatch(node: NodeState, protection: Protection): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  if (protection.taints !== undefined) ops.push(...taintsPatch(node.spec?.taints, protection.taints));
  if (protection.cordonFor !== undefined) ops.push(...cordonPatch(node, protection.cordonFor, { excludeFromLoadBalancers: protection.excludeFromLoadBalancers === true }));
  return ops;
}

/** For logs and Events: what the write added. */
export function describeProtection(node: NodeState, protection: Protection): string {
  const before = new Set((node.spec?.taints ?? []).map(taintText));
  const added = (protection.taints ?? []).filter((taint) => isNodemetaTaint(taint) && !before.has(taintText(taint)));
  const parts = added.map((taint) => `tainted ${taintText(taint)}`);
  if (protection.cordonFor !== undefined) parts.push(`cordoned (${Annotations.cordoned}=${protection.cordonFor})`);
  if (protection.cordonFor !== undefined && protection.excludeFromLoadBalancers === true && node.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === undefined) {
    parts.push(`excluded from load balancers (${EXCLUDE_FROM_LOAD_BALANCERS_LABEL})`);
  }
  return parts.join(', ');
}
