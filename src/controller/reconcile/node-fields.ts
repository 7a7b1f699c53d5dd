// A reconcile's writes of the node's own fields, each one guarded write re-planned after a lost
// race (write/retry-on-conflict.ts): its labels (server-side apply), its nodemeta taints (a
// `test`-guarded JSON patch), its out-of-service taint. Each returns the node as written (or as read,
// when nothing was to change), or undefined when the node is gone.

import { FIELD_MANAGER_CONTROLLER } from '../../api/names.js';
import type { NodeWriter } from '../cache/cluster-state.js';
import type { NodeState } from '../cache/node-state.js';
import { ownedLabelKeys, planLabelChanges, type DesiredLabels, type LabelPlan } from '../decide/labels.js';
import { mergeTaints, withOurOtherTaints, type Taint } from '../decide/taints.js';
import { retryOnConflict, type ConflictRetry } from '../write/retry-on-conflict.js';
import type { WriteReporter } from './reporter.js';

export interface FieldWrites {
  writer: NodeWriter;
  retry: ConflictRetry;
  report: WriteReporter;
}

/** The node's labels as `desired` wants them; `mayRemove` false: nothing of ours is removed. */
export async function writeLabels(ctx: FieldWrites, start: NodeState, desired: DesiredLabels, mayRemove: boolean): Promise<{ node: NodeState | undefined; plan: LabelPlan }> {
  const plan = (node: NodeState) => planLabelChanges(node.metadata.labels, ownedLabelKeys(node.metadata.managedFields, FIELD_MANAGER_CONTROLLER), desired, { cacheWarm: mayRemove });
  let current = plan(start);
  const apply = async (node: NodeState): Promise<{ node: NodeState; plan: LabelPlan }> => {
    current = plan(node);
    if (!current.changed) return { node, plan: current };
    const written = await ctx.writer.applyLabels(node.metadata.name, current.apply);
    ctx.report.labelsApplied(written, current);
    // The apply's result is the new truth; planning from it must give "nothing to do".
    return { node: written, plan: plan(written) };
  };
  return (await retryOnConflict(start, 'labels', apply, ctx.retry)) ?? { node: undefined, plan: current };
}

/** nodemeta's taints as `wanted`; `mayRemove` false: our taints the plan no longer wants stay. */
export async function writeTaints(ctx: FieldWrites, start: NodeState, wanted: readonly Taint[], mayRemove: boolean): Promise<NodeState | undefined> {
  const patch = async (node: NodeState): Promise<NodeState> => {
    const current = node.spec?.taints;
    const next = mergeTaints(current, mayRemove ? wanted : withOurOtherTaints(current, wanted));
    if (next === undefined) return node;
    const written = await ctx.writer.patchTaints(node.metadata.name, current, next);
    ctx.report.taintsUpdated(written, current, next);
    return written;
  };
  return retryOnConflict(start, 'taints', patch, ctx.retry);
}

/** The out-of-service taint as outOfServiceFor wants it (decide/out-of-service.ts). */
export async function writeOutOfService(ctx: FieldWrites, start: NodeState, wantedFor: string | undefined): Promise<NodeState | undefined> {
  const write = async (before: NodeState): Promise<NodeState> => {
    // The writer sends nothing and gives `before` back when the node is already as wanted.
    const written = await ctx.writer.setOutOfService(before, wantedFor);
    if (written !== before) ctx.report.outOfService(before, wantedFor);
    return written;
  };
  return retryOnConflict(start, 'out-of-service taint', write, ctx.retry);
}
