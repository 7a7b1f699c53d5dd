// The edge that writes: the NodeWriter the reconciler uses, over client-node.
// - Labels: server-side apply on the Node, field manager nodemeta-controller, force=false
//   (labels.ts explains why this entry must hold labels only). A 409 means another manager owns
//   a key we want: WriteConflictError, re-planned from a fresh read, never forced.
// - Taints: a JSON patch guarded by a `test` of the list we planned from (taints.ts). 409 or 422
//   (the `test` failed) → WriteConflictError. The patch is an Update operation, so it never enters
//   the labels' Apply entry.
// - NodeMetadata status: server-side apply on /status, field manager nodemeta-controller,
//   force=true: those fields are the controller's alone (the agent applies its own).
// - Cordon and release (uncordon, load-balancer exclusion removed): JSON patches guarded by `test`
//   ops (cordon.ts), 409 or 422 → WriteConflictError.
// - Evictions: POST pods/eviction (policy/v1) with the pod's uid as precondition, never a delete,
//   so PodDisruptionBudgets hold. 429 (a PDB allows no disruption now) and the API server's 500 for a
//   pod under several PDBs are "blocked" with the server's reason; 404 and a failed uid precondition
//   mean the pod is gone.
// - Deletions at the deadline (atDeadline: Delete, docs/maintenance.md): DELETE of the pod with its
//   grace period and uid precondition; 404 and a failed precondition mean gone, 403 that the chart
//   did not grant `delete` on pods (no rule says Delete), which the caller reports and waits.
// Every write first checks that this replica still leads; a write after a lost lease could undo
// what the new leader just did.

import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { API_VERSION, FIELD_MANAGER_CONTROLLER, GROUP, KIND, PLURAL, VERSION } from '../../api/names.js';
import type { ControllerStatus, NodeMetadata } from '../../api/nodemetadata.js';
import { NotLeaderError, WriteConflictError, nodeStateOf, type DeletionResult, type EvictionResult, type NodeWriter } from '../cache/cluster-state.js';
import type { ApiClients } from '../../kube/client-node/api-clients.js';
import { fromClientNodeError, isConflict, isForbidden, isInternalError, isNotFound, isTooManyRequests, KubeApiError } from '../../api/kube-errors.js';
import { cordonPatch, releasePatch } from '../decide/cordon.js';
import { labelApplyBody } from '../decide/labels.js';
import { outOfServicePatch } from '../decide/out-of-service.js';
import type { ApiResource, ApiVerb } from '../metrics.js';
import { protectionPatch } from '../decide/protection.js';
import { taintsPatch } from '../decide/taints.js';
import type { PodToEvict } from '../maintenance/drain-plan.js';

export interface KubeNodeWriterOptions {
  /** Rate-limited clients (kube/client-node/api-clients.ts); cordons and taints go through `urgentCore`. */
  clients: Pick<ApiClients, 'core' | 'custom' | 'urgentCore' | 'lowCustom'>;
  /** False once leadership is lost: every write is refused from then on. */
  isLeading: () => boolean;
  /** Counts each write request sent (nodemeta_controller_api_writes_total). */
  onWrite?: (resource: ApiResource, verb: ApiVerb) => void;
}

export function kubeNodeWriter(options: KubeNodeWriterOptions): NodeWriter {
  const { core, custom, urgentCore, lowCustom } = options.clients;
  const beforeWrite = (resource: ApiResource, verb: ApiVerb) => {
    if (!options.isLeading()) throw new NotLeaderError('not the leader: refusing to write');
    options.onWrite?.(resource, verb);
  };

  return {
    async applyLabels(nodeName, labels) {
      beforeWrite('nodes', 'apply');
      try {
        const node = await core.patchNode(
          { name: nodeName, body: labelApplyBody(nodeName, labels), fieldManager: FIELD_MANAGER_CONTROLLER, force: false },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        );
        return nodeStateOf(node);
      } catch (error) {
        throw classify(error, [409], `apply labels of node ${nodeName}`, 'PATCH', `/api/v1/nodes/${nodeName}`);
      }
    },

    async patchTaints(nodeName, current, next) {
      return patchNodeGuarded(nodeName, taintsPatch(current, next), `patch taints of node ${nodeName}`);
    },

    async applyControllerStatus(name, status: ControllerStatus, { report = false } = {}) {
      beforeWrite('nodemetadatas', 'apply');
      const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name }, status };
      try {
        return (await (report ? lowCustom : custom).patchClusterCustomObjectStatus(
          { group: GROUP, version: VERSION, plural: PLURAL, name, body, fieldManager: FIELD_MANAGER_CONTROLLER, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        )) as NodeMetadata;
      } catch (error) {
        throw classify(error, [], `apply status of NodeMetadata ${name}`, 'PATCH', `/apis/${GROUP}/${VERSION}/${PLURAL}/${name}/status`);
      }
    },

    async readNode(nodeName) {
      try {
        return nodeStateOf(await core.readNode({ name: nodeName }));
      } catch (error) {
        const path = `/api/v1/nodes/${nodeName}`;
        if (isNotFound(fromClientNodeError(error, 'GET', path))) return undefined;
        throw classify(error, [], `read node ${nodeName}`, 'GET', path);
      }
    },

    async protect(node, protection) {
      return patchNodeGuarded(node.metadata.name, protectionPatch(node, protection), `taint and cordon node ${node.metadata.name}`, urgentCore);
    },

    async cordon(node, eventId, cordonOptions) {
      return patchNodeGuarded(node.metadata.name, cordonPatch(node, eventId, cordonOptions), `cordon node ${node.metadata.name}`, urgentCore);
    },

    async setOutOfService(node, wantedFor) {
      const patch = outOfServicePatch(node, wantedFor);
      if (patch === undefined) return node;
      return patchNodeGuarded(node.metadata.name, patch, `${wantedFor === undefined ? 'remove the out-of-service taint from' : 'taint out-of-service'} node ${node.metadata.name}`, urgentCore);
    },

    async release(node) {
      const patch = releasePatch(node);
      if (patch === undefined) return node;
      return patchNodeGuarded(node.metadata.name, patch, `uncordon node ${node.metadata.name}`);
    },

    async evictPod(pod): Promise<EvictionResult> {
      beforeWrite('pods/eviction', 'create');
      return evictPod(core, pod);
    },

    async deletePod(pod): Promise<DeletionResult> {
      beforeWrite('pods', 'delete');
      return deletePod(core, pod);
    },
  };

  async function patchNodeGuarded(nodeName: string, body: object, what: string, client: CoreV1Api = core) {
    beforeWrite('nodes', 'patch');
    try {
      const node = await client.patchNode({ name: nodeName, body, fieldManager: FIELD_MANAGER_CONTROLLER }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
      return nodeStateOf(node);
    } catch (error) {
      // 422: a `test` op failed (what we based the patch on changed since we read it).
      throw classify(error, [409, 422], what, 'PATCH', `/api/v1/nodes/${nodeName}`);
    }
  }
}

/** One Eviction API call (policy/v1), the pod's uid as precondition: what it came to. */
async function evictPod(core: CoreV1Api, pod: PodToEvict): Promise<EvictionResult> {
  const body = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: pod.name, namespace: pod.namespace },
    deleteOptions: { gracePeriodSeconds: pod.gracePeriodSeconds, preconditions: { uid: pod.uid } },
  };
  try {
    await core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body });
    return { kind: 'evicted' };
  } catch (error) {
    const path = `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}/eviction`;
    const refusal = fromClientNodeError(error, 'POST', path);
    const reason = evictionRefusal(refusal);
    if (podGone(refusal)) return { kind: 'gone' };
    // 429: a PDB allows no disruption now. 409: the PDB changed under the eviction (retry).
    // 500 "more than one PodDisruptionBudget": the API server cannot evict it until an admin fixes the PDBs.
    if (isTooManyRequests(refusal) || isConflict(refusal) || (isInternalError(refusal) && /PodDisruptionBudget/i.test(reason))) return { kind: 'blocked', reason };
    throw classify(error, [], `evict pod ${pod.namespace}/${pod.name}`, 'POST', path);
  }
}

/** One DELETE of a pod (atDeadline: Delete), its grace period and uid as preconditions: what it came to. */
async function deletePod(core: CoreV1Api, pod: PodToEvict): Promise<DeletionResult> {
  const path = `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`;
  try {
    await core.deleteNamespacedPod({ name: pod.name, namespace: pod.namespace, gracePeriodSeconds: pod.gracePeriodSeconds, body: { gracePeriodSeconds: pod.gracePeriodSeconds, preconditions: { uid: pod.uid } } });
    return { kind: 'deleted' };
  } catch (error) {
    const refusal = fromClientNodeError(error, 'DELETE', path);
    if (podGone(refusal)) return { kind: 'gone' };
    if (isForbidden(refusal)) return { kind: 'forbidden', reason: evictionRefusal(refusal) };
    throw classify(error, [], `delete pod ${pod.namespace}/${pod.name}`, 'DELETE', path);
  }
}

/** 404, or the name now belongs to another pod (the uid precondition failed): ours is gone. */
function podGone(refusal: unknown): boolean {
  return isNotFound(refusal) || (isConflict(refusal) && /precondition/i.test(evictionRefusal(refusal)));
}

/** The API server's reason for refusing an eviction: its message and causes, e.g. the PDB that blocks. */
function evictionRefusal(error: unknown): string {
  if (!(error instanceof KubeApiError)) return error instanceof Error ? error.message : String(error);
  const body = error.body as { message?: unknown; details?: { causes?: { message?: unknown }[] } } | undefined;
  const causes = (body?.details?.causes ?? []).map((cause) => cause.message).filter((message): message is string => typeof message === 'string');
  const message = typeof body?.message === 'string' ? body.message : error.message;
  return [message, ...causes].join(': ').slice(0, 300);
}

/**
 * A client-node error as a WriteConflictError (for the given statuses) or an Error that says, in one
 * line, what failed: `cordon node n1: PATCH /api/v1/nodes/n1: 403 Forbidden: <the server's message>`.
 */
function classify(error: unknown, conflictStatuses: number[], what: string, method: string, path: string): Error {
  if (error instanceof NotLeaderError) return error;
  const classified = fromClientNodeError(error, method, path);
  const detail = classified instanceof Error ? classified.message : String(classified);
  if (classified instanceof KubeApiError && conflictStatuses.includes(classified.status)) return new WriteConflictError(`${what}: ${detail}`);
  return new Error(`${what}: ${detail}`, { cause: error });
}
