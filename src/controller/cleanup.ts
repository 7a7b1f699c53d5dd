// `nodemeta controller --cleanup`: what `helm uninstall` runs (the chart's pre-delete hook) so that
// no node keeps a nodemeta label, taint or cordon once nodemeta is gone.
// 1. Take the controller's Lease by force (runtime/lease-takeover.ts: the one place a takeover
//    regardless of the holder is right: the release is being removed) with a long duration, then
//    wait the renew deadline: a replica that cannot renew stops writing (leader-election.ts), so
//    none re-adds what we remove.
//    The Lease is not released afterwards: the replicas must stay idle until Helm deletes them.
// 2. Per node, from a fresh read, a pure plan (planNodeCleanup) then the writes through the same
//    NodeWriter the reconciler uses:
//    - labels: an empty server-side apply as field manager nodemeta-controller (force=false). SSA
//      removes exactly the labels that manager owned; a label another manager also owns stays with
//      it (labels.ts);
//    - taints: the nodemeta.io/ ones go, through the `test`-guarded JSON patch (taints.ts);
//    - cordon: only when nodemeta.io/cordoned says nodemeta cordoned the node; an admin's cordon
//      (no annotation) stays. The load-balancer exclusion label: only when nodemeta's annotation says
//      nodemeta added it. Both go in one guarded patch with their annotations (cordon.ts).
//    A conflict (someone changed the node meanwhile) re-reads and re-plans, never forces.
// 3. A node is clean when its plan is empty; the run succeeds only when every node is clean.

import type { KubeConfig } from '@kubernetes/client-node';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL, FIELD_MANAGER_CONTROLLER } from '../api/names.js';
import { DEFAULT_RATE_LIMIT, makeApiClients } from '../kube/client-node/api-clients.js';
import { kubeLeaseStore } from '../kube/client-node/lease-store.js';
import type { Logger } from '../observability/logger.js';
import { takeLease } from '../runtime/lease-takeover.js';
import { systemClock, type Clock } from '../time/clock.js';
import { RequestLimiter } from '../runtime/request-limiter.js';
import { WriteConflictError, nodeStateOf, type NodeState, type NodeWriter } from './cache/cluster-state.js';
import { heldByNodemeta } from './decide/cordon.js';
import { ownedLabelKeys } from './decide/labels.js';
import { kubeNodeWriter } from './write/node-writer.js';
import { isNodemetaTaint, type Taint } from './decide/taints.js';
import { retryOnConflict } from './write/retry-on-conflict.js';

/** What cleanup removes from one node; empty lists and `uncordon: false` mean the node is clean. */
export interface NodeCleanupPlan {
  node: string;
  /** Labels field manager nodemeta-controller owns (present on the node). */
  labels: string[];
  /** True when the manager owns any label key, even one absent from the node: the apply drops the claim. */
  applyEmptyLabels: boolean;
  /** nodemeta.io/ taints to remove. */
  taints: Taint[];
  /** The taints that stay (the patch's new list). */
  keepTaints: Taint[];
  /** The nodemeta.io/cordoned value when nodemeta cordoned the node; undefined otherwise. */
  uncordonFor: string | undefined;
  /** nodemeta added the load-balancer exclusion label (its annotation says so). */
  loadBalancerExclusion: boolean;
}

export function planNodeCleanup(node: NodeState, manager: string = FIELD_MANAGER_CONTROLLER): NodeCleanupPlan {
  const owned = ownedLabelKeys(node.metadata.managedFields, manager);
  const present = node.metadata.labels ?? {};
  const taints = node.spec?.taints ?? [];
  const held = heldByNodemeta(node);
  return {
    node: node.metadata.name,
    labels: [...owned].filter((key) => key in present).sort(),
    applyEmptyLabels: owned.size > 0,
    taints: taints.filter(isNodemetaTaint),
    keepTaints: taints.filter((taint) => !isNodemetaTaint(taint)),
    uncordonFor: held.cordonedFor,
    loadBalancerExclusion: held.excludedFromLoadBalancers,
  };
}

export function isClean(plan: NodeCleanupPlan): boolean {
  return !plan.applyEmptyLabels && plan.taints.length === 0 && plan.uncordonFor === undefined && !plan.loadBalancerExclusion;
}

/** The writes cleanup needs: the reconciler's NodeWriter's label, taint and release (uncordon) writes. */
export type CleanupWriter = Pick<NodeWriter, 'applyLabels' | 'patchTaints' | 'readNode' | 'release'>;

export interface NodeCleanupResult {
  node: string;
  labelsRemoved: string[];
  taintsRemoved: string[];
  uncordoned: boolean;
  clean: boolean;
  error?: string;
}

const MAX_ATTEMPTS = 5;

/**
 * Cleans one node: plan from the state given and write, until its plan is empty (at most
 * MAX_ATTEMPTS rounds of writes); a lost race re-reads and re-plans (write/retry-on-conflict.ts).
 */
export async function cleanNode(writer: CleanupWriter, initial: NodeState): Promise<NodeCleanupResult> {
  const result: NodeCleanupResult = { node: initial.metadata.name, labelsRemoved: [], taintsRemoved: [], uncordoned: false, clean: false };
  let rounds = 0;
  const clean = async (start: NodeState): Promise<'clean' | 'still-changing' | 'failed'> => {
    for (let state = start; ; ) {
      if (isClean(planNodeCleanup(state))) return 'clean';
      if (rounds >= MAX_ATTEMPTS) return 'still-changing';
      rounds++;
      try {
        state = await writeCleanup(writer, state, result);
      } catch (error) {
        if (error instanceof WriteConflictError) throw error;
        result.error = error instanceof Error ? error.message : String(error);
        return 'failed';
      }
    }
  };
  // Every round may lose a race: the rounds, not the conflicts, are what is bounded.
  const outcome = await retryOnConflict(initial, 'cleanup', clean, { retries: MAX_ATTEMPTS, reread: (lost) => writer.readNode(lost.metadata.name) });
  // Deleted meanwhile (undefined): nothing of ours is left on it.
  if (outcome === undefined || outcome === 'clean') result.clean = true;
  if (outcome === 'still-changing') result.error = `node ${result.node} still changing after ${MAX_ATTEMPTS} attempts (conflicts)`;
  return result;
}

/** One round of cleanup writes from `state` (labels, taints, cordon), recorded in `result`; the node as written. */
async function writeCleanup(writer: CleanupWriter, start: NodeState, result: NodeCleanupResult): Promise<NodeState> {
  let state = start;
  let plan = planNodeCleanup(state);
  if (plan.applyEmptyLabels) {
    state = await writer.applyLabels(plan.node, {});
    result.labelsRemoved.push(...plan.labels.filter((key) => !(key in (state.metadata.labels ?? {}))));
    plan = planNodeCleanup(state);
  }
  if (plan.taints.length > 0) {
    state = await writer.patchTaints(plan.node, state.spec?.taints, plan.keepTaints);
    result.taintsRemoved.push(...plan.taints.map((taint) => taint.key));
  }
  if (plan.uncordonFor !== undefined || plan.loadBalancerExclusion) {
    state = await writer.release(state);
    if (plan.uncordonFor !== undefined) result.uncordoned = true;
    if (plan.loadBalancerExclusion && state.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === undefined) result.labelsRemoved.push(EXCLUDE_FROM_LOAD_BALANCERS_LABEL);
  }
  return state;
}

export interface CleanupSummary {
  nodes: number;
  changed: number;
  failed: NodeCleanupResult[];
  labelsRemoved: number;
  taintsRemoved: number;
  uncordoned: number;
}

/** Cleans every node given, one at a time (the uninstall is not in a hurry; the API server is shared). */
export async function cleanNodes(writer: CleanupWriter, nodes: readonly NodeState[], logger: Logger): Promise<CleanupSummary> {
  const summary: CleanupSummary = { nodes: nodes.length, changed: 0, failed: [], labelsRemoved: 0, taintsRemoved: 0, uncordoned: 0 };
  for (const node of nodes) {
    let result: NodeCleanupResult;
    try {
      result = await cleanNode(writer, node);
    } catch (error) {
      // The re-read after a conflict failed: this node is reported, the others still get cleaned.
      const message = error instanceof Error ? error.message : String(error);
      result = { node: node.metadata.name, labelsRemoved: [], taintsRemoved: [], uncordoned: false, clean: false, error: message };
    }
    const changed = result.labelsRemoved.length > 0 || result.taintsRemoved.length > 0 || result.uncordoned;
    if (changed) summary.changed++;
    summary.labelsRemoved += result.labelsRemoved.length;
    summary.taintsRemoved += result.taintsRemoved.length;
    if (result.uncordoned) summary.uncordoned++;
    const fields = { node: result.node, labelsRemoved: result.labelsRemoved, taintsRemoved: result.taintsRemoved, uncordoned: result.uncordoned };
    if (!result.clean) {
      summary.failed.push(result);
      logger.error('cleanup: node not clean', { ...fields, error: result.error ?? 'unknown' });
    } else {
      logger.info(changed ? 'cleanup: node cleaned' : 'cleanup: node already clean', fields);
    }
  }
  return summary;
}

export function summaryLine(summary: CleanupSummary): string {
  const head = `nodemeta cleanup: ${summary.nodes} node(s), ${summary.changed} changed (${summary.labelsRemoved} label(s) removed, ${summary.taintsRemoved} taint(s) removed, ${summary.uncordoned} uncordoned)`;
  if (summary.failed.length === 0) return `${head}, every node clean`;
  return `${head}, ${summary.failed.length} NOT clean: ${summary.failed.map((r) => `${r.node} (${r.error ?? 'unknown'})`).join('; ')}`;
}

export interface CleanupOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  renewDeadlineMs: number;
  /** Only nodes matching this label selector (default: all). */
  nodeSelector?: string;
  clock?: Clock;
  signal?: AbortSignal;
  /** Client-side rate limit (--kube-api-qps, --kube-api-burst). */
  rateLimit?: { qps: number; burst: number };
}

/** The Lease the cleanup holds: long enough for the uninstall to delete the replicas first. */
export const CLEANUP_LEASE_SECONDS = 300;

export async function runCleanup(options: CleanupOptions): Promise<CleanupSummary> {
  // Not the controller's unrefSystemClock: here the wait for the renew deadline is all that runs,
  // and an unref'd timer would end the process.
  const clock = options.clock ?? systemClock;
  if (options.leaderElect) {
    await takeLease({
      store: kubeLeaseStore(options.kubeConfig, options.leaseNamespace, options.leaseName),
      identity: options.identity,
      clock,
      logger: options.logger,
      leaseDurationSeconds: CLEANUP_LEASE_SECONDS,
      renewDeadlineMs: options.renewDeadlineMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }
  const clients = makeApiClients(options.kubeConfig, { limiter: new RequestLimiter({ ...(options.rateLimit ?? DEFAULT_RATE_LIMIT), clock }), userAgent: 'nodemeta-controller-cleanup' });
  const list = await clients.core.listNode(options.nodeSelector === undefined ? {} : { labelSelector: options.nodeSelector });
  // Cleanup holds the Lease (or runs with leader election off): its writes are never refused.
  const writer = kubeNodeWriter({ clients, isLeading: () => true });
  return cleanNodes(writer, list.items.map(nodeStateOf), options.logger);
}
