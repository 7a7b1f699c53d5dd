// A service-account token bound to a pod carries the pod's node in its user info
// (authentication.kubernetes.io/node-name): nodemeta's ValidatingAdmissionPolicy ties an agent's
// writes to the NodeMetadata of its own node with it.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AuthenticationV1Api, CoreV1Api } from '@kubernetes/client-node';
import {
  apiStatus,
  createTestNamespace,
  deleteTestNamespace,
  expectApiError,
  kubeConfig,
  kubeConfigForToken,
  simulatedNodes,
  waitFor,
} from '../lib/cluster.js';

describe('pod-bound service-account tokens', () => {
  let ns = '';
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);

  beforeAll(async () => {
    ns = await createTestNamespace('e2e-token');
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'agent' } } });
  });
  afterAll(async () => {
    if (ns) await deleteTestNamespace(ns);
  });

  const whoAmI = async (token: string) =>
    (await kubeConfigForToken(token).makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} })).status?.userInfo;

  test('a TokenRequest bound to a pod on a simulated node yields user info with that node name', async () => {
    const nodes = await simulatedNodes();
    const node = nodes[nodes.length - 1];
    const nodeName = node?.metadata?.name ?? '';
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'agent' },
        spec: {
          serviceAccountName: 'agent',
          nodeSelector: { 'kubernetes.io/hostname': nodeName },
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    });
    const pod = await waitFor('the agent pod to run on its node', async () => {
      const p = await core.readNamespacedPod({ name: 'agent', namespace: ns });
      return p.status?.phase === 'Running' && p.spec?.nodeName === nodeName ? p : undefined;
    });

    const bound = await core.createNamespacedServiceAccountToken({
      name: 'agent',
      namespace: ns,
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'agent', uid: pod.metadata?.uid },
        },
      },
    });
    const token = bound.status?.token ?? '';
    expect(token).not.toBe('');
    const user = await whoAmI(token);
    expect(user?.username).toBe(`system:serviceaccount:${ns}:agent`);
    expect(user?.groups).toEqual(expect.arrayContaining(['system:serviceaccounts', `system:serviceaccounts:${ns}`]));
    expect(user?.extra?.['authentication.kubernetes.io/node-name']).toEqual([nodeName]);
    expect(user?.extra?.['authentication.kubernetes.io/node-uid']).toEqual([node?.metadata?.uid]);
    expect(user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['agent']);
    expect(user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([pod.metadata?.uid]);

    // A token not bound to a pod has no node in it.
    const unbound = await core.createNamespacedServiceAccountToken({
      name: 'agent',
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const plain = await whoAmI(unbound.status?.token ?? '');
    expect(plain?.username).toBe(`system:serviceaccount:${ns}:agent`);
    expect(plain?.extra?.['authentication.kubernetes.io/node-name']).toBeUndefined();

    // The binding is enforced: once the pod is gone, its token no longer authenticates.
    await core.deleteNamespacedPod({ name: 'agent', namespace: ns });
    await waitFor('the pod to be deleted', async () => {
      try {
        await core.readNamespacedPod({ name: 'agent', namespace: ns });
        return false;
      } catch (err) {
        if (apiStatus(err) === 404) return true;
        throw err;
      }
    });
    const rejected = await waitFor('the bound token to be rejected', async () => {
      const r = await expectApiError(whoAmI(token));
      return r.status === 401 ? r : undefined;
    });
    expect(rejected.status).toBe(401);
  });
});
