// The PodDisruptionBudgets of the cluster as drain readiness reads them, by namespace, fed by a
// PDB informer's events (docs/maintenance.md, "Drain readiness"). A change says which nodes'
// verdicts it may change: the nodes holding pods of its namespace that the old or the new
// selector selects (a selector edit moves pods in or out; a status change re-decides the pods it
// selects).

import type { V1LabelSelector, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { PodIndex } from './pod-index.js';
import { selects, type LabelSelector, type ReadinessPdb } from './verdict.js';

/**
 * A V1PodDisruptionBudget reduced to what the verdict reads. A status not yet written by the
 * disruption controller reads as zeros and observedGeneration 0, which blocks (as the server does).
 */
export function readinessPdbOf(pdb: V1PodDisruptionBudget): ReadinessPdb {
  const status = pdb.status;
  const readiness: ReadinessPdb = {
    namespace: pdb.metadata?.namespace ?? 'default',
    name: pdb.metadata?.name ?? '',
    selector: selectorOf(pdb.spec?.selector),
    disruptionsAllowed: status?.disruptionsAllowed ?? 0,
    currentHealthy: status?.currentHealthy ?? 0,
    desiredHealthy: status?.desiredHealthy ?? 0,
    generation: pdb.metadata?.generation ?? 0,
    observedGeneration: status?.observedGeneration ?? 0,
  };
  const policy = pdb.spec?.unhealthyPodEvictionPolicy;
  if (policy !== undefined && policy !== null) readiness.unhealthyPodEvictionPolicy = policy;
  return readiness;
}

function selectorOf(selector: V1LabelSelector | undefined | null): LabelSelector | null {
  if (selector === undefined || selector === null) return null;
  const kept: LabelSelector = {};
  if (selector.matchLabels !== undefined && selector.matchLabels !== null) kept.matchLabels = selector.matchLabels;
  if (selector.matchExpressions !== undefined && selector.matchExpressions !== null) {
    kept.matchExpressions = selector.matchExpressions.map((requirement) => ({ key: requirement.key, operator: requirement.operator, ...(requirement.values === undefined || requirement.values === null ? {} : { values: requirement.values }) }));
  }
  return kept;
}

export class PdbIndex {
  private readonly byNamespace = new Map<string, Map<string, ReadinessPdb>>();
  /** inNamespace's answers, built once per change of the namespace (the verdict asks once a pod). */
  private readonly lists = new Map<string, readonly ReadinessPdb[]>();

  constructor(private readonly pods: PodIndex) {}

  /** Adds or replaces a budget (informer add and update); returns the nodes whose verdict may have changed. */
  upsert(pdb: ReadinessPdb): Set<string> {
    let namespace = this.byNamespace.get(pdb.namespace);
    if (namespace === undefined) this.byNamespace.set(pdb.namespace, (namespace = new Map()));
    const old = namespace.get(pdb.name);
    namespace.set(pdb.name, pdb);
    this.lists.delete(pdb.namespace);
    if (old !== undefined && sameForReadiness(old, pdb)) return new Set();
    return this.nodesSelectedBy(pdb.namespace, old?.selector ?? null, pdb.selector);
  }

  /** Removes a budget (informer delete); returns the nodes whose verdict may have changed. */
  remove(namespace: string, name: string): Set<string> {
    const pdbs = this.byNamespace.get(namespace);
    const old = pdbs?.get(name);
    if (old === undefined) return new Set();
    pdbs!.delete(name);
    if (pdbs!.size === 0) this.byNamespace.delete(namespace);
    this.lists.delete(namespace);
    return this.nodesSelectedBy(namespace, old.selector, null);
  }

  /** The budgets of one namespace (the verdict's pdbsIn). */
  inNamespace = (namespace: string): readonly ReadinessPdb[] => {
    let list = this.lists.get(namespace);
    if (list === undefined) {
      const pdbs = this.byNamespace.get(namespace);
      if (pdbs === undefined) return [];
      this.lists.set(namespace, (list = Object.freeze([...pdbs.values()])));
    }
    return list;
  };

  private nodesSelectedBy(namespace: string, before: LabelSelector | null, after: LabelSelector | null): Set<string> {
    const nodes = new Set<string>();
    // Pods share their labels object (pod-index.ts): decide once per distinct label set.
    const decided = new Map<object, boolean>();
    for (const pod of this.pods.podsIn(namespace)) {
      if (nodes.has(pod.nodeName)) continue;
      let selected = decided.get(pod.labels);
      if (selected === undefined) decided.set(pod.labels, (selected = selects(before, pod.labels) || selects(after, pod.labels)));
      if (selected) nodes.add(pod.nodeName);
    }
    return nodes;
  }
}

function sameForReadiness(a: ReadinessPdb, b: ReadinessPdb): boolean {
  return (
    a.disruptionsAllowed === b.disruptionsAllowed &&
    a.currentHealthy === b.currentHealthy &&
    a.desiredHealthy === b.desiredHealthy &&
    a.generation === b.generation &&
    a.observedGeneration === b.observedGeneration &&
    a.unhealthyPodEvictionPolicy === b.unhealthyPodEvictionPolicy &&
    JSON.stringify(a.selector) === JSON.stringify(b.selector)
  );
}
