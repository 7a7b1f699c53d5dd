// The local control plane is the real thing: pinned version, AKS-like simulated nodes, RBAC that
// denies, ValidatingAdmissionPolicy that is enforced.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AdmissionregistrationV1Api, CoreV1Api, RbacAuthorizationV1Api, VersionApi } from '@kubernetes/client-node';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  expectApiError,
  kubeConfig,
  kubeConfigForToken,
  kubectl,
  kubectlOk,
  pinnedKubeVersion,
  simulatedNodes,
  waitFor,
} from '../lib/cluster.js';

describe('local control plane', () => {
  test('the API server (and kubectl) report the pinned Kubernetes version', async () => {
    const pinned = pinnedKubeVersion();
    const v = await kubeConfig().makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toBe(pinned);
    const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(pinned) ?? [];
    expect(v.major).toBe(major);
    expect(v.minor).toBe(minor);
    const both = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(both.clientVersion.gitVersion).toBe(pinned);
    expect(both.serverVersion.gitVersion).toBe(pinned);
  });

  test('the simulated nodes look like one AKS VMSS node pool and are Ready', async () => {
    const info = clusterInfo();
    const nodes = await simulatedNodes();
    expect(nodes).toHaveLength(info.nodes);
    const zones = new Set<string>();
    nodes.forEach((node, i) => {
      const name = node.metadata?.name ?? '';
      const labels = node.metadata?.labels ?? {};
      expect(name).toMatch(/^aks-pool1-12345678-vmss[0-9a-z]{6}$/);
      expect(node.spec?.providerID).toBe(
        'azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/MC_nodemeta-rg_nodemeta_eastus' +
          `/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool1-12345678-vmss/virtualMachines/${i}`,
      );
      expect(labels).toMatchObject({
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.azure.com/agentpool': 'pool1',
        'node.kubernetes.io/instance-type': 'Standard_D4s_v5',
        'topology.kubernetes.io/region': info.region,
      });
      expect(labels['topology.kubernetes.io/zone']).toMatch(new RegExp(`^${info.region}-[123]$`));
      zones.add(labels['topology.kubernetes.io/zone'] ?? '');
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status).toBe('True');
      expect(node.status?.nodeInfo?.kubeletVersion).toBe(info.kubeVersion);
    });
    expect(zones.size).toBe(Math.min(3, nodes.length));
  });
});

describe('RBAC and admission hold', () => {
  let ns = '';
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);

  beforeAll(async () => {
    ns = await createTestNamespace('e2e-rbac');
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody' } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'reader-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
  });
  afterAll(async () => {
    if (ns) await deleteTestNamespace(ns);
  });

  const canI = async (as: string, ...args: string[]) => {
    const r = await kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:${ns}:${as}`]);
    // kubectl auth can-i: exit 0 + "yes" when allowed, exit 1 + "no" when denied.
    return { code: r.code, answer: r.stdout.trim() };
  };

  test('kubectl auth can-i: a service account may do what its Role grants and nothing else', async () => {
    // RBAC's informers see the new binding within a moment.
    await waitFor('the RoleBinding to take effect', async () => (await canI('reader', 'list', 'pods', '-n', ns)).code === 0);
    expect(await canI('reader', 'get', 'pods', '-n', ns)).toEqual({ code: 0, answer: 'yes' });
    expect(await canI('reader', 'delete', 'pods', '-n', ns)).toEqual({ code: 1, answer: 'no' });
    expect(await canI('reader', 'create', 'pods', '--subresource=eviction', '-n', ns)).toEqual({ code: 1, answer: 'no' });
    expect(await canI('reader', 'get', 'secrets', '-n', ns)).toEqual({ code: 1, answer: 'no' });
    expect(await canI('reader', 'list', 'pods', '-n', 'default')).toEqual({ code: 1, answer: 'no' });
    expect(await canI('reader', 'patch', 'nodes')).toEqual({ code: 1, answer: 'no' });
    expect(await canI('nobody', 'list', 'pods', '-n', ns)).toEqual({ code: 1, answer: 'no' });
  });

  test('a real service-account token is authenticated, then allowed or forbidden by RBAC', async () => {
    const token = (await kubectlOk(['create', 'token', 'reader', '-n', ns, '--duration=10m'])).trim();
    const asReader = kubeConfigForToken(token).makeApiClient(CoreV1Api);
    await waitFor('the reader to list pods', async () => (await asReader.listNamespacedPod({ namespace: ns })).items);
    expect((await expectApiError(asReader.listNamespacedSecret({ namespace: ns }))).status).toBe(403);
    expect((await expectApiError(asReader.listNode())).status).toBe(403);
    expect((await expectApiError(asReader.deleteNamespacedPod({ name: 'any', namespace: ns }))).status).toBe(403);
    const forged = kubeConfigForToken(`${token.slice(0, -4)}AAAA`).makeApiClient(CoreV1Api);
    expect((await expectApiError(forged.listNamespacedPod({ namespace: ns }))).status).toBe(401);
  });

  test('a ValidatingAdmissionPolicy is enforced by the API server', async () => {
    const adm = kc.makeApiClient(AdmissionregistrationV1Api);
    const name = `e2e-deny-forbidden-${ns}`.slice(0, 63);
    await adm.createValidatingAdmissionPolicy({
      body: {
        metadata: { name },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] }],
          },
          validations: [
            { expression: "!has(object.data) || !('forbidden' in object.data)", message: 'nodemeta-e2e: key forbidden is not allowed' },
          ],
        },
      },
    });
    try {
      await adm.createValidatingAdmissionPolicyBinding({
        body: {
          metadata: { name },
          spec: {
            policyName: name,
            validationActions: ['Deny'],
            matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
          },
        },
      });
      let n = 0;
      const denied = await waitFor('the policy to deny a ConfigMap', async () => {
        const cmName = `probe-${n++}`;
        try {
          await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: cmName }, data: { forbidden: 'x' } } });
          await core.deleteNamespacedConfigMap({ name: cmName, namespace: ns });
          return undefined; // policy not active yet
        } catch (err) {
          return expectApiError(Promise.reject(err));
        }
      });
      expect(denied.status).toBe(422);
      expect(denied.text).toContain('nodemeta-e2e: key forbidden is not allowed');
      // The same object without the key is admitted; other namespaces are not bound by the policy.
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'allowed' }, data: { fine: 'x' } } });
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { forbidden: 'x' } } });
      await core.deleteNamespacedConfigMap({ name, namespace: 'default' });
    } finally {
      await adm.deleteValidatingAdmissionPolicyBinding({ name }).catch(() => undefined);
      await adm.deleteValidatingAdmissionPolicy({ name }).catch(() => undefined);
    }
  });
});
