// The edge that writes: the NodeWriter the reconciler uses, over client-node.
// - Labels: server-side apply on the Node, field manager nodemeta-controller, force=false
//   (labels.ts explains why this entry must hold labels only). A 409 means another manager owns
//   a key we want: WriteConflictError, re-planned from a fresh read, never forced.
// - Taints: a JSON patch guarded by a `test` of the list we planned from (taints.ts). 409 or 422
//   (the `test` failed) → WriteConflictError. The patch is an Update operation, so it never enters
//   the labels' Apply entry.
// - NodeMetadata status: server-side apply on /status, field manager nodemeta-controller,
//   force=true: those fields are the controller's alone (the agent applies its own).
// - Cordon and uncordon: JSON patches guarded by `test` ops (cordon.ts), 409 or 422 →
//   WriteConflictError.
// - Evictions: POST pods/eviction (policy/v1) with the pod's uid as precondition, never a delete,
//   so PodDisruptionBudgets hold. 429 (a PDB allows no disruption now) and the API server's 500 for a
//   pod under several PDBs are "blocked" with the server's reason; 404 and a failed uid precondition
//   mean the pod is gone.
// Every write first checks that this replica still leads; a write after a lost lease could undo
// what the new leader just did.

import { ApiException, PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { API_VERSION, FIELD_MANAGER_CONTROLLER, GROUP, KIND, PLURAL, VERSION } from '../api/names.js';
import type { ControllerStatus, NodeMetadata } from '../api/nodemetadata.js';
import { NotLeaderError, WriteConflictError, nodeStateOf, type EvictionResult, type NodeWriter } from './cluster-state.js';
import type { ApiClients } from '../kube/api-clients.js';
import { cordonPatch, uncordonPatch } from './cordon.js';
import { labelApplyBody } from './labels.js';
import type { ApiResource, ApiVerb } from './metrics.js';
import { protectionPatch } from './protection.js';
import { taintsPatch } from './taints.js';

export interface KubeNodeWriterOptions {
  /** Rate-limited clients (kube/api-clients.ts); the fast path's writes go through `urgentCore`. */
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
        throw classify(error, [409], `apply labels of node ${nodeName}`);
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
        throw classify(error, [], `apply status of NodeMetadata ${name}`);
      }
    },

    async readNode(nodeName) {
      try {
        return nodeStateOf(await core.readNode({ name: nodeName }));
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw classify(error, [], `read node ${nodeName}`);
      }
    },

    async protect(node, protection) {
      return patchNodeGuarded(node.metadata.name, protectionPatch(node, protection), `taint and cordon node ${node.metadata.name}`, urgentCore);
    },

    async cordon(node, eventId) {
      return patchNodeGuarded(node.metadata.name, cordonPatch(node, eventId), `cordon node ${node.metadata.name}`);
    },

    async uncordon(nodeName, cordonedFor) {
      return patchNodeGuarded(nodeName, uncordonPatch(cordonedFor), `uncordon node ${nodeName}`);
    },

    async evictPod(pod): Promise<EvictionResult> {
      beforeWrite('pods/eviction', 'create');
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
        const status = statusOf(error);
        const reason = evictionRefusal(error);
        if (status === 404) return { kind: 'gone' };
        // The name now belongs to another pod (the uid precondition failed): ours is gone.
        if (status === 409 && /precondition/i.test(reason)) return { kind: 'gone' };
        // 429: a PDB allows no disruption now. 409: the PDB changed under the eviction (retry).
        // 500 "more than one PodDisruptionBudget": the API server cannot evict it until an admin fixes the PDBs.
        if (status === 429 || status === 409 || (status === 500 && /PodDisruptionBudget/i.test(reason))) return { kind: 'blocked', reason };
        throw classify(error, [], `evict pod ${pod.namespace}/${pod.name}`);
      }
    },
  };

  async function patchNodeGuarded(nodeName: string, body: object, what: string, client: CoreV1Api = core) {
    beforeWrite('nodes', 'patch');
    try {
      const node = await client.patchNode({ name: nodeName, body, fieldManager: FIELD_MANAGER_CONTROLLER }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
      return nodeStateOf(node);
    } catch (error) {
      // 422: a `test` op failed (what we based the patch on changed since we read it).
      throw classify(error, [409, 422], what);
    }
  }
}

/** The API server's reason for refusing an eviction: its message and causes, e.g. the PDB that blocks. */
function evictionRefusal(error: unknown): string {
  const causes = (statusBody(error)?.details?.causes ?? []).map((cause) => cause.message).filter((message): message is string => typeof message === 'string');
  return [messageOf(error), ...causes].join(': ').slice(0, 300);
}

/** The metav1.Status an ApiException carries (its body, parsed when it came as text). */
function statusBody(error: unknown): { message?: unknown; details?: { causes?: { message?: unknown }[] } } | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body = error.body as unknown;
  return (typeof body === 'string' ? safeParse(body) : body) as ReturnType<typeof statusBody>;
}

/** A client-node error as a WriteConflictError (for the given statuses) or an Error that says what failed. */
function classify(error: unknown, conflictStatuses: number[], what: string): Error {
  const status = statusOf(error);
  const detail = messageOf(error);
  if (status !== undefined && conflictStatuses.includes(status)) return new WriteConflictError(`${what}: ${status}: ${detail}`);
  if (error instanceof NotLeaderError) return error;
  return new Error(`${what}: ${status ?? 'request failed'}: ${detail}`, { cause: error });
}

export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof ApiException) {
    const message = statusBody(error)?.message;
    return typeof message === 'string' ? message : String(error.body).slice(0, 300);
  }
  return error instanceof Error ? error.message : String(error);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

