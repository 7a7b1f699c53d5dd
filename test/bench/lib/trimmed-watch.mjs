// A WatchedObjects that keeps only what a bench reads of each object: a fleet bench watches 5,000
// Nodes and up to 150,000 Pods, whose full objects would cost the bench process gigabytes.
import { WatchedObjects } from './kube-watch.mjs';

export class TrimmedWatch extends WatchedObjects {
  /** `trim(object)` returns the part to keep; it must keep metadata.name (and namespace). */
  constructor(kubeConfig, apiPath, params, trim) {
    super(kubeConfig, apiPath, params);
    this.trim = trim;
  }

  apply(type, object, arrivalMs) {
    super.apply(type, this.trim(object), arrivalMs);
  }
}

/** Of a Node: its name, whether it is Ready, carries `label`, spec.unschedulable, its taint keys. */
export const trimNode = (label) => (node) => ({
  metadata: { name: node.metadata?.name, resourceVersion: node.metadata?.resourceVersion },
  ready: (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  labelled: node.metadata?.labels?.[label] !== undefined,
  unschedulable: node.spec?.unschedulable === true,
  taintKeys: (node.spec?.taints ?? []).map((t) => t.key),
});

/** Of a Pod: name, namespace, creation and deletion time, node, phase. */
export const trimPod = (pod) => ({
  metadata: {
    name: pod.metadata?.name,
    namespace: pod.metadata?.namespace,
    resourceVersion: pod.metadata?.resourceVersion,
    creationTimestamp: pod.metadata?.creationTimestamp,
    deletionTimestamp: pod.metadata?.deletionTimestamp,
  },
  nodeName: pod.spec?.nodeName,
  phase: pod.status?.phase,
});
