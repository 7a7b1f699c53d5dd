// The garbage collector (kube-controller-manager) deletes objects whose owner is gone: nodemeta
// relies on it for NodeMetadata objects owned by their Node.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CoreV1Api, RbacAuthorizationV1Api, type V1OwnerReference } from '@kubernetes/client-node';
import { apiStatus, createTestNamespace, deleteTestNamespace, kubeConfig, waitFor } from '../lib/cluster.js';

describe('garbage collection of objects owned by a Node', () => {
  let ns = '';
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const suffix = Math.random().toString(36).slice(2, 8);
  const doomed = `aks-gcpool-${suffix}-vmss000000`;
  const kept = `aks-gcpool-${suffix}-vmss000001`;

  const createNode = async (name: string) =>
    core.createNode({
      body: {
        metadata: { name, labels: { 'nodemeta.io/e2e': 'gc' } },
        // Never a scheduling target for other tests.
        spec: { unschedulable: true, taints: [{ key: 'nodemeta.io/e2e-gc', value: 'true', effect: 'NoSchedule' }] },
      },
    });
  const ownedBy = (node: { metadata?: { name?: string; uid?: string } }): V1OwnerReference[] => [
    { apiVersion: 'v1', kind: 'Node', name: node.metadata?.name ?? '', uid: node.metadata?.uid ?? '', blockOwnerDeletion: false },
  ];
  const gone = async (read: () => Promise<unknown>) => {
    try {
      await read();
      return false;
    } catch (err) {
      if (apiStatus(err) === 404) return true;
      throw err;
    }
  };

  beforeAll(async () => {
    ns = await createTestNamespace('e2e-gc');
  });
  afterAll(async () => {
    for (const name of [doomed, kept]) await core.deleteNode({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: `e2e-gc-${suffix}` }).catch(() => undefined);
    if (ns) await deleteTestNamespace(ns);
  });

  test('deleting a Node deletes the namespaced and cluster-scoped objects it owns, and only those', async () => {
    const doomedNode = await createNode(doomed);
    const keptNode = await createNode(kept);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owned-by-doomed', ownerReferences: ownedBy(doomedNode) }, data: { node: doomed } },
    });
    await rbac.createClusterRole({
      body: { metadata: { name: `e2e-gc-${suffix}`, ownerReferences: ownedBy(doomedNode) }, rules: [] },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owned-by-kept', ownerReferences: ownedBy(keptNode) }, data: { node: kept } },
    });

    await core.deleteNode({ name: doomed });
    await waitFor('the garbage collector to delete the ConfigMap owned by the deleted Node', () =>
      gone(() => core.readNamespacedConfigMap({ name: 'owned-by-doomed', namespace: ns })),
    );
    await waitFor('the garbage collector to delete the ClusterRole owned by the deleted Node', () =>
      gone(() => rbac.readClusterRole({ name: `e2e-gc-${suffix}` })),
    );
    // The object whose owner still exists is untouched.
    const survivor = await core.readNamespacedConfigMap({ name: 'owned-by-kept', namespace: ns });
    expect(survivor.metadata?.deletionTimestamp).toBeUndefined();
    expect(survivor.metadata?.ownerReferences?.[0]?.uid).toBe(keptNode.metadata?.uid);
  });
});
