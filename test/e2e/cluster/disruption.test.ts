// PodDisruptionBudgets are real: the disruption controller (kube-controller-manager) computes their
// status, and the API server's Eviction subresource refuses an eviction that would violate one (429).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CoreV1Api, PolicyV1Api, type V1Pod } from '@kubernetes/client-node';
import { apiStatus, createTestNamespace, deleteTestNamespace, expectApiError, kubeConfig, waitFor } from '../lib/cluster.js';

describe('PodDisruptionBudget and the Eviction API', () => {
  let ns = '';
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const names = ['web-0', 'web-1', 'web-2'];

  beforeAll(async () => {
    ns = await createTestNamespace('e2e-pdb');
  });
  afterAll(async () => {
    if (ns) await deleteTestNamespace(ns);
  });

  const evict = (name: string) =>
    core.createNamespacedPodEviction({
      name,
      namespace: ns,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } },
    });

  test('the controller-manager fills in PDB status; an eviction within budget is accepted, one beyond it gets 429', async () => {
    // Bare pods (no ReplicaSet), so an evicted pod is not replaced and the budget stays spent.
    for (const name of names) {
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name, labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }], terminationGracePeriodSeconds: 1 },
        },
      });
    }
    const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    await waitFor('3 pods Running/Ready', async () => {
      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items;
      return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running' && ready(p));
    });

    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } } },
    });
    const status = await waitFor('the disruption controller to compute the PDB status', async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: ns });
      const s = pdb.status;
      return s && s.observedGeneration === pdb.metadata?.generation && s.expectedPods === 3 && s.currentHealthy === 3 ? s : undefined;
    });
    expect(status.desiredHealthy).toBe(2);
    expect(status.disruptionsAllowed).toBe(1);
    expect(status.conditions?.find((c) => c.type === 'DisruptionAllowed')?.status).toBe('True');

    // Within budget: accepted, and the API server spends the budget with it.
    await evict('web-0');
    const after = await policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: ns });
    expect(after.status?.disruptionsAllowed).toBe(0);

    // Beyond budget: refused with 429 Too Many Requests, and the pod stays.
    const refused = await expectApiError(evict('web-1'));
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('disruption budget');
    const web1 = await core.readNamespacedPod({ name: 'web-1', namespace: ns });
    expect(web1.metadata?.deletionTimestamp).toBeUndefined();

    // The evicted pod goes away (kwok plays the kubelet confirming termination), and the controller
    // settles on 2 healthy pods with no disruption allowed.
    await waitFor('web-0 to be deleted', async () => {
      try {
        await core.readNamespacedPod({ name: 'web-0', namespace: ns });
        return false;
      } catch (err) {
        if (apiStatus(err) === 404) return true;
        throw err;
      }
    });
    const settled = await waitFor('the PDB status to show 2 healthy pods', async () => {
      const s = (await policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: ns })).status;
      return s?.currentHealthy === 2 && s.expectedPods === 2 ? s : undefined;
    });
    expect(settled.disruptionsAllowed).toBe(0);
    expect(settled.conditions?.find((c) => c.type === 'DisruptionAllowed')?.status).toBe('False');
    expect((await expectApiError(evict('web-2'))).status).toBe(429);
  });
});
