// A fleet on one port: each VM under /vm/<name>, the first also at the root, per-VM rate limits,
// tokens and metadata.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AZURE_HEADERS, type Harness, startHarness } from './harness.js';

const NAME = '/metadata/instance/compute/name?api-version=2021-02-01&format=text';

describe('multi-VM fleet', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ provider: 'azure', vms: 4, settings: { rateLimitPerSecond: 5 } });
  });
  afterEach(() => h.close());

  it('serves each VM under its own prefix, the first one at the root too', async () => {
    expect(h.emulator.vms).toEqual(['aks-pool1-12345678-vmss000000', 'aks-pool1-12345678-vmss000001', 'aks-pool1-12345678-vmss000002', 'aks-pool1-12345678-vmss000003']);
    for (const [i, vm] of h.emulator.vms.entries()) {
      const a = await h.call(`/vm/${vm}${NAME}`, { headers: AZURE_HEADERS });
      expect(a.text).toBe(`aks-pool1-12345678-vmss_${i}`);
    }
    expect((await h.call(NAME, { headers: AZURE_HEADERS })).text).toBe('aks-pool1-12345678-vmss_0');
    expect(h.emulator.endpoint('x')).toBe(`${h.url}/vm/x`);
  });

  it('spreads zones and fault/update domains across the default VMs', async () => {
    const facts = [];
    for (const vm of h.emulator.vms) {
      const compute = (await h.call(`/vm/${vm}/metadata/instance/compute?api-version=2021-02-01`, { headers: AZURE_HEADERS })).json<Record<string, string>>();
      facts.push([compute.zone, compute.platformFaultDomain, compute.platformUpdateDomain]);
    }
    expect(facts).toEqual([
      ['1', '0', '0'],
      ['2', '0', '1'],
      ['3', '0', '2'],
      ['1', '1', '3'],
    ]);
  });

  it('rate-limits each VM on its own', async () => {
    const [a, b] = h.emulator.vms as [string, string];
    const burst = async (vm: string, n: number) => {
      const statuses: number[] = [];
      for (let i = 0; i < n; i++) statuses.push((await h.call(`/vm/${vm}${NAME}`, { headers: AZURE_HEADERS })).status);
      return statuses;
    };
    expect(await burst(a, 6)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await burst(b, 5)).toEqual([200, 200, 200, 200, 200]);
    h.clock.advance(1000);
    expect(await burst(a, 1)).toEqual([200]);
  });

  it('does not count control-API requests against a VM', async () => {
    for (let i = 0; i < 10; i++) await h.control('GET', `/vms/${h.emulator.vms[0]}`);
    expect((await h.call(NAME, { headers: AZURE_HEADERS })).status).toBe(200);
  });
});
