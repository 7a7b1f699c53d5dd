// The agent's API-server client against the real kube-apiserver of the run's local cluster:
// kubeconfig credentials (client certificate), reads, create, merge patch, and a watch streamed over
// node:https. (It lived with the unit tests and was skipped there whenever no cluster was up, i.e.
// always in CI; the e2e global setup always brings one up.)
import { afterAll, describe, expect, it } from '@jest/globals';
import { kubeconfigCredentials } from '../../src/kube/credentials.js';
import { KubeApiError } from '../../src/api/kube-errors.js';
import { KubeRestClient, type WatchEvent } from '../../src/kube/rest-client.js';
import { kubeconfigPath, kubectl } from './lib/cluster.js';

interface ConfigMap {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

describe('KubeRestClient against the local kube-apiserver', () => {
  let client: KubeRestClient | undefined;
  let namespace: string | undefined;

  afterAll(async () => {
    await client?.close();
    if (namespace) await kubectl(['delete', 'namespace', namespace, '--wait=false']);
  }, 60_000);

  it('reads, creates, patches, and watches its changes arrive as events', async () => {
    client = new KubeRestClient(await kubeconfigCredentials(kubeconfigPath()), { userAgent: 'nodemeta-agent/test' });
    expect(client.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const nodes = await client.get<{ items: { metadata: { name: string } }[] }>('/api/v1/nodes');
    expect(nodes.items.length).toBeGreaterThan(0);
    const missing = await client.get('/api/v1/nodes/no-such-node').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(KubeApiError);
    expect((missing as KubeApiError).status).toBe(404);

    namespace = `rest-client-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'nodemeta.io/e2e': 'true' } } });
    const base = `/api/v1/namespaces/${namespace}/configmaps`;
    const created = await client.create<ConfigMap>(base, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' }, data: { a: '1' } });

    const controller = new AbortController();
    const events: WatchEvent<ConfigMap>[] = [];
    const watching = client
      .watch<ConfigMap>(base, { fieldSelector: 'metadata.name=watched', resourceVersion: created.metadata.resourceVersion }, (e) => {
        events.push(e);
        if (e.type === 'MODIFIED' && e.object.data?.a === '3') controller.abort();
      }, controller.signal)
      .catch((e: unknown) => e);
    await client.mergePatch(`${base}/watched`, { data: { a: '2' } });
    await client.apply(`${base}/watched`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' }, data: { a: '3' } }, 'nodemeta-test', { force: true });
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([watching, new Promise((resolve) => (timer = setTimeout(() => resolve('no MODIFIED a=3 within 20 s'), 20_000)))]);
    clearTimeout(timer);
    expect((ended as Error).name).toBe('AbortError');
    expect(events.filter((e) => e.type === 'MODIFIED').map((e) => e.object.data?.a)).toEqual(['2', '3']);
  }, 60_000);
});
