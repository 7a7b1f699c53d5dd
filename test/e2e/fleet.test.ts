// Issue 4 end to end with every real part: six kwok nodes across 2 zones and 3 fault domains, one
// emulated Azure VM and one real agent process per node, two controller processes electing a leader,
// the real scheduler spreading a Deployment over nodemeta's fault-domain label.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator.js';
import { startAgent, type AgentProcess } from './agent-harness.js';
import { createNode, deleteNode, FAST_LEASE, installCrd, nodemetaTaints, readNode, runId, startController, writeConfig, type ControllerProcess } from './controller-harness.js';
import { createTestNamespace, deleteTestNamespace, kubeConfig, kubeconfigPath, kubectlOk, waitFor } from './lib/cluster.js';

const id = runId();
const selector = { 'nodemeta-e2e-fleet': id };
const NODES = Array.from({ length: 6 }, (_, i) => `aks-fleet${id}-12345678-vmss00000${i}`);
const zoneOf = (i: number) => String((i % 2) + 1);
const faultDomainOf = (i: number) => String(i % 3);

let emulator: RunningEmulator;
const agents: AgentProcess[] = [];
const controllers: ControllerProcess[] = [];
let namespace: string;

/** The emulator's control API (docs/emulator.md), over HTTP like any user of it. */
async function control(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${emulator.url}/_emulator${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const core = () => kubeConfig().makeApiClient(CoreV1Api);
const labelsOf = async (name: string) => (await readNode(name)).metadata?.labels ?? {};

async function leader(): Promise<ControllerProcess> {
  return waitFor('a leader among the controllers', async () => {
    for (const c of controllers) if (await c.isLeader().catch(() => false)) return c;
    return undefined;
  });
}

/**
 * Writes to Nodes (not their status) and NodeMetadata, counted by the API server itself, by verb and
 * resource. Events are left out here: the scheduler and controller-manager write Events of their own
 * at times nobody controls; nodemeta's Events are in the controllers' own write counters.
 */
async function apiServerWrites(): Promise<Record<string, number>> {
  const text = await kubectlOk(['get', '--raw', '/metrics']);
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (!['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'].includes(labels.verb ?? '')) continue;
    const nodeSpec = labels.resource === 'nodes' && (labels.subresource ?? '') === '';
    if (!nodeSpec && labels.resource !== 'nodemetadatas') continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    counts[key] = (counts[key] ?? 0) + Number(m[2]);
  }
  return counts;
}

beforeAll(async () => {
  await installCrd();
  namespace = await createTestNamespace('fleet');
  for (const name of NODES) await createNode(name, selector);
  emulator = await startEmulator({
    provider: 'azure',
    scenario: stringify({
      provider: 'azure',
      vms: NODES.map((name, i) => ({
        name,
        instance: { location: 'westeurope', zone: zoneOf(i), platformFaultDomain: faultDomainOf(i), platformUpdateDomain: String(i % 5), vmSize: 'Standard_D4s_v5' },
        tags: [
          { name: 'team', value: 'payments' },
          { name: 'env', value: 'prod' },
        ],
      })),
    }),
  });
  for (const node of NODES) {
    agents.push(await startAgent({ node, endpoint: emulator.endpoint(node), kubeconfig: kubeconfigPath(), extraArgs: ['--instance-interval', '2s'] }));
  }
  const config = writeConfig('labels:\n  allowedTags: [team, env]\n');
  const selectorFlag = `nodemeta-e2e-fleet=${id}`;
  // Short Lease timings (a 6 s Lease): the takeover after the leader's kill fits in seconds.
  controllers.push(await startController(`fleet-a-${id}`, ['--config', config, '--node-selector', selectorFlag, '--lease-namespace', namespace, ...FAST_LEASE]));
  controllers.push(await startController(`fleet-b-${id}`, ['--config', config, '--node-selector', selectorFlag, '--lease-namespace', namespace, ...FAST_LEASE]));
}, 180_000);

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop()));
  await Promise.all(agents.map((a) => a.stop()));
  await emulator?.close();
  for (const name of NODES) await deleteNode(name).catch(() => undefined);
  if (namespace) await deleteTestNamespace(namespace).catch(() => undefined);
});

describe('a fleet of six nodes, their agents and two controllers', () => {
  it('labels every node from its own VM', async () => {
    for (const [i, name] of NODES.entries()) {
      const labels = await waitFor(`labels on ${name}`, async () => {
        const l = await labelsOf(name);
        return l['nodemeta.io/fault-domain'] !== undefined && l['tag.nodemeta.io/env'] !== undefined ? l : undefined;
      });
      expect(labels).toMatchObject({
        'nodemeta.io/provider': 'azure',
        'nodemeta.io/region': 'westeurope',
        'nodemeta.io/zone': `westeurope-${zoneOf(i)}`,
        'nodemeta.io/fault-domain': faultDomainOf(i),
        'nodemeta.io/update-domain': String(i % 5),
        'nodemeta.io/instance-type': 'Standard_D4s_v5',
        'nodemeta.io/priority': 'regular',
        'tag.nodemeta.io/team': 'payments',
        'tag.nodemeta.io/env': 'prod',
      });
    }
    const nmd = await kubectlOk(['get', 'nmd', NODES[0]!]);
    expect(nmd).toMatch(/azure\s+westeurope-1\s+0\s+0/);
  });

  it('lets the real scheduler spread a Deployment across nodemeta.io/fault-domain', async () => {
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'spread' },
        spec: {
          replicas: 6,
          selector: { matchLabels: { app: 'spread' } },
          template: {
            metadata: { labels: { app: 'spread' } },
            spec: {
              nodeSelector: selector,
              tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
              topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'nodemeta.io/fault-domain', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'spread' } } }],
              containers: [{ name: 'app', image: 'registry.example/app:1' }],
            },
          },
        },
      },
    });
    const pods = await waitFor('6 running pods', async () => {
      const list = await core().listNamespacedPod({ namespace, labelSelector: 'app=spread' });
      const running = list.items.filter((p) => p.status?.phase === 'Running' && p.spec?.nodeName);
      return running.length === 6 ? running : undefined;
    });
    const perDomain: Record<string, number> = {};
    for (const pod of pods) {
      const fd = (await labelsOf(pod.spec!.nodeName!))['nodemeta.io/fault-domain']!;
      perDomain[fd] = (perDomain[fd] ?? 0) + 1;
    }
    expect(perDomain).toEqual({ '0': 2, '1': 2, '2': 2 });
  });

  it('follows tag changes within seconds, removes a removed tag, and leaves a foreign label alone', async () => {
    const node = NODES[1]!;
    await kubectlOk(['label', 'node', node, 'nodemeta.io/custom=mine']);
    await control('PATCH', `/vms/${node}`, { tags: [{ name: 'team', value: 'search' }] });
    await waitFor('tag label to change', async () => {
      const l = await labelsOf(node);
      return l['tag.nodemeta.io/team'] === 'search' && l['tag.nodemeta.io/env'] === undefined;
    }, { timeoutMs: 30_000 });
    const labels = await labelsOf(node);
    expect(labels['nodemeta.io/custom']).toBe('mine');
    expect(labels['nodemeta.io/fault-domain']).toBe(faultDomainOf(1));
  });

  it('taints a node while a scheduled event concerns it, and removes the taint when the event goes', async () => {
    const node = NODES[2]!;
    const event = await control('POST', '/events', { type: 'Reboot', resources: [node], lifecycle: 'manual' });
    await waitFor('scheduled-event taint', async () => nodemetaTaints(await readNode(node)).some((t) => t.key === 'nodemeta.io/scheduled-event' && t.value === 'Reboot'), { timeoutMs: 30_000 });
    for (const other of NODES.filter((n) => n !== node)) expect(nodemetaTaints(await readNode(other))).toEqual([]);
    await control('DELETE', `/events/${String(event.EventId)}`);
    await waitFor('taint removed', async () => nodemetaTaints(await readNode(node)).length === 0, { timeoutMs: 30_000 });
  });

  it('keeps the labels of a node whose metadata service fails for a while', async () => {
    const node = NODES[3]!;
    const before = await labelsOf(node);
    // Longer than one poll's retries can last (6 attempts, full-jitter backoff of at most 0.25, 0.5,
    // 1, 2 and 4 s: under 8 s), so the poll surely fails; a shorter window can be ridden out by the
    // retries. 15 s leaves the condition False for 7 s at least, read here every half second or so.
    await control('POST', '/faults', { kind: 'status', status: 500, vm: node, durationMs: 15_000 });
    await waitFor('MetadataAvailable=False', async () => (await kubectlOk(['get', 'nmd', node, '-o', "jsonpath={.status.conditions[?(@.type=='MetadataAvailable')].status}"])) === 'False', { timeoutMs: 45_000 });
    expect(await labelsOf(node)).toEqual(before);
    await waitFor('MetadataAvailable=True again', async () => (await kubectlOk(['get', 'nmd', node, '-o', "jsonpath={.status.conditions[?(@.type=='MetadataAvailable')].status}"])) === 'True', { timeoutMs: 60_000 });
    expect(await labelsOf(node)).toEqual(before);
  });

  it('keeps reconciling after the leader is killed', async () => {
    const old = await leader();
    await old.stop('SIGKILL');
    controllers.splice(controllers.indexOf(old), 1);
    const next = await leader();
    expect(next).not.toBe(old);
    const node = NODES[4]!;
    await control('PATCH', `/vms/${node}`, { tags: [{ name: 'team', value: 'after-failover' }, { name: 'env', value: 'prod' }] });
    await waitFor('label from the new leader', async () => (await labelsOf(node))['tag.nodemeta.io/team'] === 'after-failover', { timeoutMs: 60_000 });
  });

  it('writes nothing to Nodes, NodeMetadata or Events during an idle minute (controllers and agents)', async () => {
    // Let the last changes settle, then count the API server's own write counters.
    await new Promise((r) => setTimeout(r, 10_000));
    const before = await apiServerWrites();
    const controllerBefore = await Promise.all(controllers.map((c) => c.apiWrites()));
    await new Promise((r) => setTimeout(r, 60_000));
    // nodemeta's own count first (Nodes, NodeMetadata and Events), then the API server's, which also
    // sees the agents' NodeMetadata writes.
    expect(await Promise.all(controllers.map((c) => c.apiWrites()))).toEqual(controllerBefore);
    expect(await apiServerWrites()).toEqual(before);
  }, 120_000);
});

