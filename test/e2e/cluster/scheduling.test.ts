// The real kube-scheduler places pods on the simulated nodes by their labels, and kwok (standing in
// for the kubelets) makes them Running/Ready, which the real Deployment controller then counts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { createTestNamespace, deleteTestNamespace, kubeConfig, simulatedNodes, waitFor } from '../lib/cluster.js';

describe('scheduling on simulated AKS nodes', () => {
  let ns = '';
  const kc = kubeConfig();
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);

  beforeAll(async () => {
    ns = await createTestNamespace('e2e-spread');
  });
  afterAll(async () => {
    if (ns) await deleteTestNamespace(ns);
  });

  test('a Deployment with topologySpreadConstraints spreads over nodes and zones, and its pods become Running/Ready', async () => {
    // Other e2e tests share the cluster and may cordon or taint nodes: spread over those that are free now.
    const nodes = (await simulatedNodes()).filter(
      (n) => !n.spec?.unschedulable && !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute'),
    );
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    const replicas = Math.min(nodes.length, 6);
    const selector = { matchLabels: { app: 'spread' } };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'spread' },
        spec: {
          replicas,
          selector,
          template: {
            metadata: { labels: { app: 'spread' } },
            spec: {
              containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
              affinity: {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [
                      { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: nodes.map((n) => n.metadata?.name ?? '') }] },
                    ],
                  },
                },
              },
              // nodeTaintsPolicy Honor: tainted nodes that other tests may add are not domains.
              topologySpreadConstraints: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
                maxSkew: 1,
                topologyKey,
                whenUnsatisfiable: 'DoNotSchedule',
                nodeTaintsPolicy: 'Honor',
                labelSelector: selector,
              })),
            },
          },
        },
      },
    });

    // The Deployment controller reports availability only once the pods are Ready.
    await waitFor(
      `Deployment ${ns}/spread to have ${replicas} ready replicas`,
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'spread', namespace: ns });
        return d.status?.readyReplicas === replicas && d.status?.availableReplicas === replicas && d.status?.updatedReplicas === replicas;
      },
      { timeoutMs: 120_000 },
    );

    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=spread' })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    expect(pods).toHaveLength(replicas);
    const nodeNames = new Set(nodes.map((n) => n.metadata?.name));
    const zoneOf = new Map(nodes.map((n) => [n.metadata?.name, n.metadata?.labels?.['topology.kubernetes.io/zone']]));
    const perNode = new Map<string, number>([...nodeNames].map((n) => [n ?? '', 0]));
    const perZone = new Map<string, number>([...new Set(zoneOf.values())].map((z) => [z ?? '', 0]));
    for (const pod of pods) {
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.status?.podIP).toMatch(/^10\.244\./);
      const node = pod.spec?.nodeName ?? '';
      expect(nodeNames.has(node)).toBe(true);
      perNode.set(node, (perNode.get(node) ?? 0) + 1);
      const zone = zoneOf.get(node) ?? '';
      perZone.set(zone, (perZone.get(zone) ?? 0) + 1);
    }
    // maxSkew 1 over every eligible node and zone (counts of 0 included).
    const skew = (m: Map<string, number>) => Math.max(...m.values()) - Math.min(...m.values());
    expect(skew(perNode)).toBeLessThanOrEqual(1);
    expect(Math.max(...perNode.values())).toBe(1); // replicas <= nodes: never two on one node
    expect(skew(perZone)).toBeLessThanOrEqual(1);

    // Placed by the real scheduler: each pod has a Scheduled event from default-scheduler.
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=Scheduled' });
    const scheduled = new Set(
      events.items
        .filter((e) => (e.reportingComponent || e.source?.component) === 'default-scheduler')
        .map((e) => e.involvedObject.name),
    );
    for (const pod of pods) expect(scheduled.has(pod.metadata?.name)).toBe(true);
  });

  test('a pod whose nodeSelector matches no node stays Pending, unschedulable', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'nowhere' },
        spec: {
          nodeSelector: { 'topology.kubernetes.io/zone': 'westeurope-9' },
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    });
    const cond = await waitFor('the scheduler to mark the pod unschedulable', async () => {
      const p = await core.readNamespacedPod({ name: 'nowhere', namespace: ns });
      const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
      return c?.status === 'False' ? { c, p } : undefined;
    });
    expect(cond.c.reason).toBe('Unschedulable');
    expect(cond.p.spec?.nodeName).toBeUndefined();
    expect(cond.p.status?.phase).toBe('Pending');
  });
});
