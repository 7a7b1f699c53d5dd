// The NodeWriter's edge to client-node: every failure becomes one line a person can act on
// (what nodemeta was doing, the verb and path, the status, the server's message), conflicts become
// WriteConflictError, and an eviction refused by a PDB is "blocked" with the server's reason.
import { describe, expect, it } from '@jest/globals';
import { WriteConflictError } from '../../../src/controller/cache/cluster-state.js';
import { kubeNodeWriter } from '../../../src/controller/write/node-writer.js';
import type { ApiClients } from '../../../src/kube/client-node/api-clients.js';

/** What client-node throws for an answer with an error status: an ApiException (code, body as text). */
function apiException(code: number, status: Record<string, unknown>): Error {
  const error = new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ${JSON.stringify(status)}\nHeaders: {}`) as Error & { code: number; body: string };
  error.code = code;
  error.body = JSON.stringify(status);
  return error;
}

function writerFailingWith(error: unknown) {
  const fail = async () => {
    throw error;
  };
  const core = { patchNode: fail, readNode: fail, createNamespacedPodEviction: fail };
  const clients = { core, urgentCore: core, custom: { patchClusterCustomObjectStatus: fail }, lowCustom: { patchClusterCustomObjectStatus: fail } } as unknown as Pick<ApiClients, 'core' | 'custom' | 'urgentCore' | 'lowCustom'>;
  return kubeNodeWriter({ clients, isLeading: () => true });
}

const node = { metadata: { name: 'n1' }, spec: {} };
const pod = { namespace: 'default', name: 'web-1', uid: 'u1', gracePeriodSeconds: 30 };

describe('kubeNodeWriter errors', () => {
  it('says in one line what failed, without client-node\'s dump', async () => {
    const writer = writerFailingWith(apiException(403, { kind: 'Status', reason: 'Forbidden', message: 'nodes "n1" is forbidden: User "x" cannot patch resource "nodes"' }));
    const error = (await writer.cordon(node, 'ev-1', { excludeFromLoadBalancers: true }).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(WriteConflictError);
    expect(error.message).toBe('cordon node n1: PATCH /api/v1/nodes/n1: 403 Forbidden: nodes "n1" is forbidden: User "x" cannot patch resource "nodes"');
    expect(error.message).not.toMatch(/HTTP-Code|\n/);
  });

  it('turns a failed `test` (422) and a 409 into WriteConflictError', async () => {
    const failedTest = apiException(422, { kind: 'Status', reason: 'Invalid', message: 'the server rejected our request due to an error in our request' });
    await expect(writerFailingWith(failedTest).cordon(node, 'ev-1', { excludeFromLoadBalancers: false })).rejects.toBeInstanceOf(WriteConflictError);
    const conflict = apiException(409, { kind: 'Status', reason: 'Conflict', message: 'Apply failed with 1 conflict' });
    await expect(writerFailingWith(conflict).applyLabels('n1', { a: 'b' })).rejects.toThrow(/^apply labels of node n1: PATCH \/api\/v1\/nodes\/n1: 409 Conflict: Apply failed with 1 conflict$/);
  });

  it('reads a missing node as undefined', async () => {
    await expect(writerFailingWith(apiException(404, { kind: 'Status', reason: 'NotFound', message: 'nodes "n1" not found' })).readNode('n1')).resolves.toBeUndefined();
  });

  it('keeps an error that never reached the server as it is', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    await expect(writerFailingWith(reset).readNode('n1')).rejects.toThrow(/^read node n1: socket hang up$/);
  });

  it('reports an eviction refused by a PodDisruptionBudget as blocked, with the server\'s reason and causes', async () => {
    const refused = apiException(429, {
      kind: 'Status',
      reason: 'TooManyRequests',
      message: 'Cannot evict pod as it would violate the pod\'s disruption budget.',
      details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 2 currently' }] },
    });
    await expect(writerFailingWith(refused).evictPod(pod)).resolves.toEqual({
      kind: 'blocked',
      reason: "Cannot evict pod as it would violate the pod's disruption budget.: The disruption budget web needs 2 healthy pods and has 2 currently",
    });
    await expect(writerFailingWith(apiException(404, { kind: 'Status', reason: 'NotFound', message: 'pods "web-1" not found' })).evictPod(pod)).resolves.toEqual({ kind: 'gone' });
    const otherPod = apiException(409, { kind: 'Status', reason: 'Conflict', message: 'Precondition failed: UID in precondition: u1, UID in object meta: u2' });
    await expect(writerFailingWith(otherPod).evictPod(pod)).resolves.toEqual({ kind: 'gone' });
  });
});
