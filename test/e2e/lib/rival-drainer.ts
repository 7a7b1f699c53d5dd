// A small rival controller for the e2e tests of docs/maintenance.md, "Other controllers on the node":
// it plays AKS's node auto-drain, Karpenter, the cluster autoscaler, kured or a person with kubectl,
// with the same marks they put on a Node (taints, annotations, a bare cordon), its own evictions
// through the Eviction API, and the node's deletion. Its writes go through its own client (the
// admin kubeconfig), never through nodemeta's code.

import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { OtherDrainerMarks } from '../../../src/api/names.js';
import { apiStatus, kubeConfig } from './cluster.js';

export type RivalKind = 'aks-remediator' | 'karpenter' | 'cluster-autoscaler' | 'kured';
/** A person (or a tool) with kubectl: cordons and uncordons, puts no mark. */
export type Rival = RivalKind | 'kubectl';

/** The taint (key, effect) or annotation each rival puts on the node it acts on. */
const MARKS: Record<RivalKind, { taint: string; effect: 'NoSchedule' } | { annotation: string }> = {
  'aks-remediator': { taint: OtherDrainerMarks.aksRemediatorTaint, effect: 'NoSchedule' },
  karpenter: { taint: OtherDrainerMarks.karpenterDisruptedTaint, effect: 'NoSchedule' },
  'cluster-autoscaler': { taint: OtherDrainerMarks.clusterAutoscalerDeletionTaint, effect: 'NoSchedule' },
  kured: { annotation: OtherDrainerMarks.kuredRebootInProgressAnnotation },
};

const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class RivalDrainer {
  private readonly core = kubeConfig().makeApiClient(CoreV1Api);

  constructor(
    readonly kind: Rival,
    readonly node: string,
  ) {}

  /** Puts its mark on the node (a taint appended with a `test` of the list it read, or an annotation). */
  async mark(): Promise<void> {
    if (this.kind === 'kubectl') throw new Error('kubectl puts no mark on a node');
    const mark = MARKS[this.kind];
    if ('annotation' in mark) {
      await this.core.patchNode({ name: this.node, body: { metadata: { annotations: { [mark.annotation]: new Date().toISOString() } } } }, MERGE_PATCH);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const current = (await this.core.readNode({ name: this.node })).spec?.taints ?? [];
      const wire = current.map(({ key, value, effect, timeAdded }) => ({ key, effect, ...(value === undefined ? {} : { value }), ...(timeAdded === undefined ? {} : { timeAdded: new Date(timeAdded as unknown as string).toISOString().replace(/\.\d{3}Z$/, 'Z') }) }));
      const next = [...wire, { key: mark.taint, effect: mark.effect }];
      const body = [{ op: 'test', path: '/spec/taints', value: wire.length === 0 ? null : wire }, { op: wire.length === 0 ? 'add' : 'replace', path: '/spec/taints', value: next }];
      try {
        await this.core.patchNode({ name: this.node, body }, JSON_PATCH);
        return;
      } catch (error) {
        // A lost race (the test failed: 422): read again, as nodemeta's own writes do.
        if (apiStatus(error) !== 422 || attempt >= 10) throw error;
      }
    }
  }

  /** `kubectl cordon`: spec.unschedulable=true, nothing else. */
  async cordon(): Promise<void> {
    await this.core.patchNode({ name: this.node, body: { spec: { unschedulable: true } } }, MERGE_PATCH);
  }

  /** `kubectl uncordon`: spec.unschedulable=false, nothing else (annotations stay as they are). */
  async uncordon(): Promise<void> {
    await this.core.patchNode({ name: this.node, body: { spec: { unschedulable: false } } }, MERGE_PATCH);
  }

  /** Evicts every pod of `namespace` on the node through the Eviction API; returns the names evicted. */
  async evictPods(namespace: string): Promise<string[]> {
    const pods = await this.podsOn(namespace);
    const evicted: string[] = [];
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      try {
        await this.core.createNamespacedPodEviction({ name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } });
        evicted.push(name);
      } catch (error) {
        if (apiStatus(error) !== 404 && apiStatus(error) !== 429) throw error;
      }
    }
    return evicted;
  }

  /** The pods of `namespace` bound to the node and not yet terminating. */
  async podsOn(namespace: string): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${this.node}` });
    return list.items.filter((pod) => pod.metadata?.deletionTimestamp === undefined || pod.metadata.deletionTimestamp === null);
  }

  /** Deletes the Node, as the autoscaler does once it has drained it. */
  async deleteNode(): Promise<void> {
    await this.core.deleteNode({ name: this.node }).catch((error: unknown) => {
      if (apiStatus(error) !== 404) throw error;
    });
  }
}
