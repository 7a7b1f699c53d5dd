// The notification webhooks' egress proxy (controller.proxy): HTTPS_PROXY, HTTP_PROXY and NO_PROXY
// on the controller's container, and on nothing else: the agents must never reach the metadata
// service through a proxy (docs/notifications.md, "Proxies").
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { parseManifests, renderChart, type Manifest } from './helm.js';

const PROXY = { httpsProxy: 'http://user:pass@proxy.corp.example:3128', httpProxy: 'http://proxy.corp.example:3128', noProxy: '.svc,.cluster.local,10.0.0.1' };

function valuesFile(values: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'nodemeta-values-')), 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

/** Every container's name of a proxy variable, by workload. */
function proxyVariables(manifests: Manifest[]): Record<string, { name: string; value?: string }[]> {
  const found: Record<string, { name: string; value?: string }[]> = {};
  for (const m of manifests.filter((x) => ['Deployment', 'DaemonSet', 'Job'].includes(x.kind))) {
    const containers = [...(m.spec.template.spec.containers ?? []), ...(m.spec.template.spec.initContainers ?? [])] as { env?: { name: string; value?: string }[] }[];
    found[`${m.kind}/${m.metadata.name}`] = containers.flatMap((c) => (c.env ?? []).filter((e) => /_proxy$/i.test(e.name)));
  }
  return found;
}

describe('controller.proxy', () => {
  test("sets the controller's HTTPS_PROXY, HTTP_PROXY and NO_PROXY, and no other workload's", async () => {
    const manifests = parseManifests(await renderChart([valuesFile({ controller: { proxy: PROXY } })]));
    const variables = proxyVariables(manifests);
    expect(variables['Deployment/nodemeta-controller']).toEqual([
      { name: 'HTTPS_PROXY', value: PROXY.httpsProxy },
      { name: 'HTTP_PROXY', value: PROXY.httpProxy },
      { name: 'NO_PROXY', value: PROXY.noProxy },
    ]);
    expect(variables['DaemonSet/nodemeta-agent']).toEqual([]);
    for (const [owner, env] of Object.entries(variables)) if (owner !== 'Deployment/nodemeta-controller') expect({ owner, env }).toEqual({ owner, env: [] });
  });

  test('by default no workload gets a proxy variable', async () => {
    const variables = proxyVariables(parseManifests(await renderChart()));
    expect(Object.values(variables).flat()).toEqual([]);
  });

  test.each([
    ['a proxy that is not a URL', { httpsProxy: 'proxy.corp.example:3128' }],
    ['a NO_PROXY with spaces', { noProxy: '.svc, .cluster.local' }],
    ['an unknown key', { socksProxy: 'socks5://x' }],
  ])('the values schema rejects %s', async (_what, proxy) => {
    await expect(renderChart([valuesFile({ controller: { proxy } })])).rejects.toThrow(/proxy/);
  });
});
