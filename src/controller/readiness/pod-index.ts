// Every pod of the cluster as drain readiness reads it, by node and by namespace, with the ready
// replicas of each workload counted: what the verdict of any node needs without a request
// (docs/maintenance.md, "Drain readiness"). Fed by a cluster-wide pods informer's add/update/delete
// events; each change says which nodes' verdicts it may change.
//
// Memory follows the fleet (150,000 pods at 5,000 × 30), so a pod is kept as one small object
// (IndexedPod), never as a V1Pod: the informer's transform (indexedPodOf) builds it, and the
// informer's cache and this index then hold that same object. The index makes the pods share what
// they have in common: one frozen labels object per distinct label set (the pods of a ReplicaSet
// all carry the same labels), one string per node, namespace, workload and owner kind list.

import type { V1Pod } from '@kubernetes/client-node';
import { drainPodOf } from '../cache/cluster-state.js';
import { DEFAULT_GRACE_PERIOD_SECONDS, type DrainPod } from '../maintenance/drain-plan.js';
import { countsAsReadyReplica, type ReadinessPod } from './verdict.js';

/** The label the ReplicaSet controller of a Deployment puts on its pods, and at the end of the ReplicaSet's name. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

type Labels = Readonly<Record<string, string>>;

/**
 * A pod as the index keeps it. Also a KubernetesObject (`metadata` is computed, so it costs no
 * memory per pod): the pods informer's cache can hold it, and client-node's ListWatch compares
 * `metadata.resourceVersion` to skip unchanged objects on a relist.
 */
/** What few pods have: one field for the four of them, not four empty fields in every pod. */
interface RarePodFields {
  deletionTimestamp?: string;
  annotations?: Readonly<Record<string, string>>;
  volumes?: readonly { name: string; emptyDir: boolean }[];
  /** spec.terminationGracePeriodSeconds, kept only when it is not Kubernetes' default (30). */
  terminationGracePeriodSeconds?: number;
}

export class IndexedPod implements ReadinessPod, DrainPod {
  /** metadata.resourceVersion, as a number when it is one (etcd's are): 8 bytes instead of a string. */
  private readonly version: number | string | undefined;
  private readonly rare: RarePodFields | undefined;

  constructor(
    public namespace: string,
    readonly name: string,
    /** metadata.uid: the drain's eviction precondition (drain-pods.ts serves the drain from this index). */
    readonly uid: string,
    resourceVersion: string | undefined,
    /** spec.nodeName; '' while unscheduled. */
    public nodeName: string,
    public labels: Labels,
    public ownerKinds: readonly string[],
    public workload: string | undefined,
    readonly ready: boolean,
    public phase: string | undefined,
    rare: RarePodFields,
    readonly priority: number | undefined,
    public priorityClassName: string | undefined,
  ) {
    this.version = resourceVersion !== undefined && /^[1-9][0-9]{0,14}$/.test(resourceVersion) ? Number(resourceVersion) : resourceVersion;
    this.rare = rare.deletionTimestamp === undefined && rare.annotations === undefined && rare.volumes === undefined && rare.terminationGracePeriodSeconds === undefined ? undefined : rare;
  }

  /** A terminating pod's metadata.deletionTimestamp. */
  get deletionTimestamp(): string | undefined {
    return this.rare?.deletionTimestamp;
  }

  /** The mirror-pod annotation, when the pod has it (the only annotation a drain reads). */
  get annotations(): Readonly<Record<string, string>> | undefined {
    return this.rare?.annotations;
  }

  /** The emptyDir volumes, if any (no other volume matters to the verdict). */
  get volumes(): readonly { name: string; emptyDir: boolean }[] | undefined {
    return this.rare?.volumes;
  }

  /** The pod's own grace period; undefined means Kubernetes' default, as in drain-plan.ts gracePeriodSeconds. */
  get terminationGracePeriodSeconds(): number | undefined {
    return this.rare?.terminationGracePeriodSeconds;
  }

  get resourceVersion(): string | undefined {
    return this.version === undefined ? undefined : String(this.version);
  }

  get metadata(): { namespace: string; name: string; resourceVersion?: string } {
    const resourceVersion = this.resourceVersion;
    return resourceVersion === undefined ? { namespace: this.namespace, name: this.name } : { namespace: this.namespace, name: this.name, resourceVersion };
  }
}

/**
 * The pods informer's transform: a V1Pod (from a list page or a watch event) reduced to what the
 * verdict and the drain read. The drain's own reduction (drainPodOf) plus labels, readiness, node and
 * workload; of the volumes only the emptyDirs (all a drain reads of them: drain-plan.ts emptyDirVolumes).
 */
export function indexedPodOf(pod: V1Pod): IndexedPod {
  const drainPod = drainPodOf(pod);
  const labels = pod.metadata?.labels ?? {};
  const owner = (pod.metadata?.ownerReferences ?? []).find((reference) => reference.controller === true);
  const emptyDirs = drainPod.volumes?.filter((volume) => volume.emptyDir);
  const ready = (pod.status?.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True');
  return new IndexedPod(
    drainPod.namespace,
    drainPod.name,
    drainPod.uid,
    pod.metadata?.resourceVersion,
    pod.spec?.nodeName ?? '',
    labels,
    drainPod.ownerKinds,
    owner === undefined ? undefined : workloadOf(drainPod.namespace, owner.kind, owner.name, labels),
    ready,
    drainPod.phase,
    {
      ...(drainPod.deletionTimestamp === undefined ? {} : { deletionTimestamp: drainPod.deletionTimestamp }),
      ...(drainPod.annotations === undefined ? {} : { annotations: drainPod.annotations }),
      ...(emptyDirs === undefined || emptyDirs.length === 0 ? {} : { volumes: emptyDirs }),
      ...(drainPod.terminationGracePeriodSeconds === undefined || drainPod.terminationGracePeriodSeconds === DEFAULT_GRACE_PERIOD_SECONDS ? {} : { terminationGracePeriodSeconds: drainPod.terminationGracePeriodSeconds }),
    },
    drainPod.priority,
    drainPod.priorityClassName,
  );
}

/**
 * The workload a SingleReplica warning names: `<Kind>/<namespace>/<name>` of a StatefulSet, a
 * ReplicaSet, or the Deployment behind a ReplicaSet. The Deployment controller names a ReplicaSet
 * `<deployment>-<pod-template-hash>` and puts the hash on its pods, so the Deployment is known
 * without watching ReplicaSets. Other owners (Job, DaemonSet, custom controllers): none.
 */
export function workloadOf(namespace: string, ownerKind: string, ownerName: string, labels: Labels): string | undefined {
  if (ownerKind === 'StatefulSet') return `StatefulSet/${namespace}/${ownerName}`;
  if (ownerKind !== 'ReplicaSet') return undefined;
  const hash = labels[POD_TEMPLATE_HASH_LABEL];
  if (hash !== undefined && hash !== '' && ownerName.endsWith(`-${hash}`) && ownerName.length > hash.length + 1) {
    return `Deployment/${namespace}/${ownerName.slice(0, -hash.length - 1)}`;
  }
  return `ReplicaSet/${namespace}/${ownerName}`;
}

/**
 * The ready replicas of one workload, and enough of where they are to tell whether one node holds
 * them all: an anchor node holding some of them, with its exact count. All are on one node only if
 * it is the anchor and holds `ready` of them (a node map per workload would cost a map entry per pod).
 */
interface WorkloadReplicas {
  ready: number;
  anchor: string | undefined;
  onAnchor: number;
}

/** One shared, frozen copy of each distinct value, counted so that the last release frees it. */
class Interned<T> {
  private readonly table = new Map<string, { value: T; refs: number }>();

  constructor(private readonly keyOf: (value: T) => string, private readonly freeze: (value: T) => T) {}

  acquire(value: T): T {
    const key = this.keyOf(value);
    const entry = this.table.get(key);
    if (entry !== undefined) {
      entry.refs++;
      return entry.value;
    }
    const frozen = this.freeze(value);
    this.table.set(key, { value: frozen, refs: 1 });
    return frozen;
  }

  release(value: T): void {
    const key = this.keyOf(value);
    const entry = this.table.get(key);
    if (entry === undefined) return;
    if (--entry.refs === 0) this.table.delete(key);
  }

  get size(): number {
    return this.table.size;
  }
}

/**
 * One shared, frozen copy of each distinct label set, found by a hash of its content (a key string
 * per set would cost as much as the labels). The values are shared across sets too: the pods of a
 * StatefulSet each have their own set (statefulset.kubernetes.io/pod-name), but all the other values.
 */
class SharedLabels {
  private readonly sets = new Map<number, { labels: Labels; refs: number }[]>();
  private readonly values = new Interned<string>((value) => value, (value) => value);
  private count = 0;

  acquire(labels: Labels): Labels {
    const hash = labelsHash(labels);
    const bucket = this.sets.get(hash);
    for (const set of bucket ?? []) {
      if (sameLabels(set.labels, labels)) {
        set.refs++;
        return set.labels;
      }
    }
    const copy: Record<string, string> = {};
    for (const key in labels) copy[key] = this.values.acquire(labels[key]!);
    const set = { labels: Object.freeze(copy), refs: 1 };
    if (bucket === undefined) this.sets.set(hash, [set]);
    else bucket.push(set);
    this.count++;
    return set.labels;
  }

  release(labels: Labels): void {
    const hash = labelsHash(labels);
    const bucket = this.sets.get(hash);
    const at = bucket?.findIndex((set) => set.labels === labels) ?? -1;
    if (at < 0) return;
    if (--bucket![at]!.refs > 0) return;
    bucket!.splice(at, 1);
    if (bucket!.length === 0) this.sets.delete(hash);
    for (const key in labels) this.values.release(labels[key]!);
    this.count--;
  }

  get size(): number {
    return this.count;
  }
}

/** FNV-1a over the keys and values, in order. */
function labelsHash(labels: Labels): number {
  let hash = 0x811c9dc5;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    hash = Math.imul(hash ^ 0, 0x01000193);
  };
  for (const key in labels) {
    mix(key);
    mix(labels[key]!);
  }
  return hash >>> 0;
}

function sameLabels(a: Labels, b: Labels): boolean {
  let count = 0;
  for (const key in b) {
    if (a[key] !== b[key] || !Object.prototype.hasOwnProperty.call(a, key)) return false;
    count++;
  }
  for (const _key in a) count--;
  return count === 0;
}

export class PodIndex {
  private readonly byNamespace = new Map<string, Map<string, IndexedPod>>();
  private readonly byNode = new Map<string, Set<IndexedPod>>();
  private readonly workloads = new Map<string, WorkloadReplicas>();
  private readonly labels = new SharedLabels();
  private readonly ownerKinds = new Interned<readonly string[]>((kinds) => kinds.join('/'), (kinds) => Object.freeze([...kinds]));
  /** Namespaces, node names and workload keys: one string for all the pods that name it. */
  private readonly names = new Interned<string>((name) => name, (name) => name);
  /** Phases and priority class names: a handful of values, kept for good. */
  private readonly words = new Map<string, string>();
  private count = 0;

  /**
   * Adds or replaces a pod (informer add and update). Returns the nodes whose verdict may have
   * changed: the pod's node (old and new), and when its workload's ready replicas changed, the
   * node that held all of them before or holds all of them now (SingleReplica).
   */
  upsert(pod: IndexedPod): Set<string> {
    const old = this.byNamespace.get(pod.namespace)?.get(pod.name);
    if (pod.nodeName === '') return old === undefined ? new Set() : this.remove(pod.namespace, pod.name);
    this.share(pod);
    const affected = new Set<string>();
    if (old !== undefined) this.take(old, affected);
    this.put(pod, affected);
    // Nothing the verdict reads changed (a status heartbeat, an annotation): no node to evaluate.
    // The new object still replaces the old one: the informer's cache holds the new one only.
    return old !== undefined && sameForReadiness(old, pod) ? new Set() : affected;
  }

  /** Removes a pod (informer delete). Returns the nodes whose verdict may have changed. */
  remove(namespace: string, name: string): Set<string> {
    const old = this.byNamespace.get(namespace)?.get(name);
    const affected = new Set<string>();
    if (old !== undefined) this.take(old, affected);
    return affected;
  }

  /** The pods bound to a node. */
  podsOn(nodeName: string): IndexedPod[] {
    const pods = this.byNode.get(nodeName);
    return pods === undefined ? [] : [...pods];
  }

  /** The pods of a namespace that are bound to a node. */
  podsIn(namespace: string): Iterable<IndexedPod> {
    return this.byNamespace.get(namespace)?.values() ?? [];
  }

  /** Pods of the workload, cluster-wide, that count as a ready replica (verdict.ts countsAsReadyReplica). */
  readyReplicas = (workload: string): number => this.workloads.get(workload)?.ready ?? 0;

  /** Nodes holding at least one pod. */
  nodes(): Iterable<string> {
    return this.byNode.keys();
  }

  get size(): number {
    return this.count;
  }

  /** Distinct label sets held (how much the pods share). */
  get labelSets(): number {
    return this.labels.size;
  }

  private put(pod: IndexedPod, affected: Set<string>): void {
    let namespace = this.byNamespace.get(pod.namespace);
    if (namespace === undefined) this.byNamespace.set(pod.namespace, (namespace = new Map()));
    namespace.set(pod.name, pod);
    let onNode = this.byNode.get(pod.nodeName);
    if (onNode === undefined) this.byNode.set(pod.nodeName, (onNode = new Set()));
    onNode.add(pod);
    this.count++;
    affected.add(pod.nodeName);
    if (countsAsReadyReplica(pod)) this.countReady(pod, +1, affected);
  }

  private take(pod: IndexedPod, affected: Set<string>): void {
    const namespace = this.byNamespace.get(pod.namespace);
    namespace?.delete(pod.name);
    if (namespace?.size === 0) this.byNamespace.delete(pod.namespace);
    const onNode = this.byNode.get(pod.nodeName);
    onNode?.delete(pod);
    if (onNode?.size === 0) this.byNode.delete(pod.nodeName);
    this.count--;
    affected.add(pod.nodeName);
    if (countsAsReadyReplica(pod)) this.countReady(pod, -1, affected);
    this.unshare(pod);
  }

  /** Adds or takes one ready replica; the node holding all of them before or after may flip SingleReplica. */
  private countReady(pod: IndexedPod, delta: 1 | -1, affected: Set<string>): void {
    const key = pod.workload!;
    let workload = this.workloads.get(key);
    if (workload === undefined) this.workloads.set(key, (workload = { ready: 0, anchor: undefined, onAnchor: 0 }));
    const before = soleNode(workload);
    if (before !== undefined) affected.add(before);
    workload.ready += delta;
    if (delta > 0 && workload.onAnchor === 0) {
      workload.anchor = pod.nodeName;
      workload.onAnchor = 1;
    } else if (workload.anchor === pod.nodeName) {
      workload.onAnchor += delta;
      if (workload.onAnchor === 0 && workload.ready > 0) this.reanchor(pod.namespace, key, workload);
    }
    const after = soleNode(workload);
    if (after !== undefined) affected.add(after);
    if (workload.ready === 0) this.workloads.delete(key);
  }

  /** The anchor lost its last replica: any node still holding one becomes the anchor, counted afresh. */
  private reanchor(namespace: string, key: string, workload: WorkloadReplicas): void {
    workload.anchor = undefined;
    workload.onAnchor = 0;
    for (const other of this.podsIn(namespace)) {
      if (other.workload !== key || !countsAsReadyReplica(other)) continue;
      workload.anchor ??= other.nodeName;
      if (other.nodeName === workload.anchor) workload.onAnchor++;
    }
  }

  /** Points the pod's labels, owner kinds and small strings at the shared copies. */
  private share(pod: IndexedPod): void {
    pod.namespace = this.names.acquire(pod.namespace);
    pod.nodeName = this.names.acquire(pod.nodeName);
    if (pod.workload !== undefined) pod.workload = this.names.acquire(pod.workload);
    pod.labels = this.labels.acquire(pod.labels);
    pod.ownerKinds = this.ownerKinds.acquire(pod.ownerKinds);
    if (pod.phase !== undefined) pod.phase = this.word(pod.phase);
    if (pod.priorityClassName !== undefined) pod.priorityClassName = this.word(pod.priorityClassName);
  }

  private unshare(pod: IndexedPod): void {
    this.names.release(pod.namespace);
    this.names.release(pod.nodeName);
    if (pod.workload !== undefined) this.names.release(pod.workload);
    this.labels.release(pod.labels);
    this.ownerKinds.release(pod.ownerKinds);
  }

  private word(value: string): string {
    const known = this.words.get(value);
    if (known !== undefined) return known;
    this.words.set(value, value);
    return value;
  }
}

/** The node holding every ready replica of the workload, if one does. */
function soleNode(workload: WorkloadReplicas): string | undefined {
  return workload.ready > 0 && workload.onAnchor === workload.ready ? workload.anchor : undefined;
}

/** Everything the verdict, the drain and the index read is the same (labels compared as shared objects). */
function sameForReadiness(a: IndexedPod, b: IndexedPod): boolean {
  return (
    a.nodeName === b.nodeName &&
    // A pod replaced under the same name (a relist after a missed delete): the drain's uid changed.
    a.uid === b.uid &&
    a.labels === b.labels &&
    a.ownerKinds === b.ownerKinds &&
    a.workload === b.workload &&
    a.ready === b.ready &&
    a.phase === b.phase &&
    a.deletionTimestamp === b.deletionTimestamp &&
    a.priority === b.priority &&
    a.priorityClassName === b.priorityClassName &&
    (a.annotations === undefined) === (b.annotations === undefined) &&
    volumesKey(a) === volumesKey(b)
  );
}

function volumesKey(pod: IndexedPod): string {
  return (pod.volumes ?? []).map((volume) => volume.name).join('/');
}
