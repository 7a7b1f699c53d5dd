// Azure IMDS request rules and the instance document (seeds 000/001, IMDS.md).

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AZURE_HEADERS, type Harness, startHarness } from './harness.js';

const V = 'api-version=2021-02-01';
const NEWEST = ['2023-11-15', '2023-07-01', '2021-12-13'];

describe('Azure IMDS: request rules', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ provider: 'azure' });
  });
  afterAll(() => h.close());

  it('answers 400 without the Metadata: true header', async () => {
    const a = await h.call(`/metadata/instance?${V}`);
    expect(a.status).toBe(400);
    expect(a.json<{ error: string }>().error).toMatch(/metadata header/i);
    const wrong = await h.call(`/metadata/instance?${V}`, { headers: { Metadata: 'false' } });
    expect(wrong.status).toBe(400);
  });

  it('answers 400 to a request carrying X-Forwarded-For', async () => {
    const a = await h.call(`/metadata/instance?${V}`, { headers: { ...AZURE_HEADERS, 'X-Forwarded-For': '10.0.0.1' } });
    expect(a.status).toBe(400);
    expect(a.json<{ error: string }>().error).toMatch(/X-Forwarded-For/);
  });

  it('answers 400 with newest-versions when api-version is missing', async () => {
    const a = await h.call('/metadata/instance', { headers: AZURE_HEADERS });
    expect(a.status).toBe(400);
    expect(a.json()).toEqual({
      error: 'Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds',
      'newest-versions': NEWEST,
    });
  });

  it('answers 400 with newest-versions for an unknown api-version', async () => {
    for (const version of ['2099-01-01', 'latest', '13-12-2021']) {
      const a = await h.call(`/metadata/instance?api-version=${version}`, { headers: AZURE_HEADERS });
      expect(a.status).toBe(400);
      const body = a.json<{ error: string; 'newest-versions': string[] }>();
      expect(body.error).toMatch(/api-version/);
      expect(body['newest-versions']).toEqual(NEWEST);
    }
  });

  it('rejects a repeated query parameter name with 400', async () => {
    const a = await h.call(`/metadata/instance?${V}&${V}`, { headers: AZURE_HEADERS });
    expect(a.status).toBe(400);
    const b = await h.call(`/metadata/instance/compute/zone?${V}&format=text&format=json`, { headers: AZURE_HEADERS });
    expect(b.status).toBe(400);
  });

  it('serves /metadata/versions without api-version, oldest first', async () => {
    const a = await h.call('/metadata/versions', { headers: AZURE_HEADERS });
    expect(a.status).toBe(200);
    const versions = a.json<{ apiVersions: string[] }>().apiVersions;
    expect(versions[0]).toBe('2017-03-01');
    expect(versions.at(-1)).toBe('2023-11-15');
    expect(versions).toContain('2021-12-13');
    expect(versions).toContain('2021-11-15');
    expect(versions).toHaveLength(32);
    // The header rule holds here too.
    expect((await h.call('/metadata/versions')).status).toBe(400);
  });

  it('answers 404 for unknown paths and unknown route segments', async () => {
    for (const path of [`/metadata/nothing?${V}`, `/metadata/instance/compute/noSuchField?${V}&format=text`, `/metadata/instance/network/interface/7?${V}`, `/other?${V}`]) {
      const a = await h.call(path, { headers: AZURE_HEADERS });
      expect(a.status).toBe(404);
      expect(a.json<{ error: string }>().error).toBe('Not found');
    }
  });

  it('answers 405 to POST on /metadata/instance and /metadata/versions', async () => {
    const a = await h.call(`/metadata/instance?${V}`, { method: 'POST', headers: AZURE_HEADERS, body: '{}' });
    expect(a.status).toBe(405);
    expect(a.headers.get('allow')).toBe('GET');
    const b = await h.call('/metadata/versions', { method: 'PUT', headers: AZURE_HEADERS });
    expect(b.status).toBe(405);
    const c = await h.call(`/metadata/scheduledevents?api-version=2020-07-01`, { method: 'DELETE', headers: AZURE_HEADERS });
    expect(c.status).toBe(405);
    expect(c.headers.get('allow')).toBe('GET, POST');
  });

  it('answers 429 past 5 requests a second per VM, and lets requests through again a second later', async () => {
    const r = await startHarness({ provider: 'azure', settings: { rateLimitPerSecond: 5 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await r.call(`/metadata/instance/compute/vmSize?${V}&format=text`, { headers: AZURE_HEADERS })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const limited = await r.call(`/metadata/instance?${V}`, { headers: AZURE_HEADERS });
      expect(limited.json()).toEqual({ error: 'Too many requests' });
      r.clock.advance(1000);
      expect((await r.call(`/metadata/instance?${V}`, { headers: AZURE_HEADERS })).status).toBe(200);
    } finally {
      await r.close();
    }
  });
});

describe('Azure IMDS: instance document', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ provider: 'azure' });
  });
  afterAll(() => h.close());

  const get = (path: string, version = '2023-11-15') =>
    h.call(`/metadata/instance${path}${path.includes('?') ? '&' : '?'}api-version=${version}`, { headers: AZURE_HEADERS });

  it('serves compute and network, every primitive a string, with realistic AKS defaults', async () => {
    const a = await get('');
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = a.json<{ compute: Record<string, unknown>; network: { interface: unknown[] } }>();
    const c = doc.compute;
    expect(c).toMatchObject({
      location: 'westeurope',
      zone: '1',
      vmSize: 'Standard_D4s_v5',
      priority: 'Regular',
      evictionPolicy: '',
      osType: 'Linux',
      name: 'aks-pool1-12345678-vmss_0',
      vmScaleSetName: 'aks-pool1-12345678-vmss',
      platformFaultDomain: '0',
      platformUpdateDomain: '0',
      platformSubFaultDomain: '',
      physicalZone: 'westeurope-AZ01',
      azEnvironment: 'AzurePublicCloud',
    });
    expect((c.osProfile as Record<string, string>).computerName).toBe('aks-pool1-12345678-vmss000000');
    // The secret-bearing fields exist (with fake values) so clients can be shown not to read them.
    expect(typeof c.userData).toBe('string');
    expect(typeof c.customData).toBe('string');
    expect(Array.isArray(c.publicKeys)).toBe(true);
    const strings = (v: unknown): boolean =>
      Array.isArray(v) ? v.every(strings) : typeof v === 'object' && v !== null ? Object.values(v).every(strings) : typeof v === 'string';
    expect(strings(doc)).toBe(true);
    expect(doc.network.interface).toHaveLength(1);
  });

  it('filters the response by route: compute, network/interface/0', async () => {
    const compute = await get('/compute');
    expect(compute.status).toBe(200);
    expect(compute.json<Record<string, unknown>>().vmSize).toBe('Standard_D4s_v5');
    const nic = await get('/network/interface/0');
    expect(nic.status).toBe(200);
    const body = nic.json<{ ipv4: { ipAddress: { privateIpAddress: string }[] }; ipv6: { ipAddress: unknown[] }; macAddress: string }>();
    expect(body.ipv4.ipAddress[0]?.privateIpAddress).toMatch(/^10\.224\.0\.\d+$/);
    expect(body.ipv6.ipAddress).toEqual([]);
    expect(body.macAddress).toMatch(/^[0-9A-F]{12}$/);
    const deep = await get('/network/interface/0/ipv4/ipAddress/0/publicIpAddress?format=text');
    expect(deep.status).toBe(200);
    expect(deep.text).toBe('');
  });

  it('serves a leaf with format=text as its bare value', async () => {
    const fd = await get('/compute/platformFaultDomain?format=text');
    expect(fd.status).toBe(200);
    expect(fd.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(fd.text).toBe('0');
    expect((await get('/compute/vmSize?format=text')).text).toBe('Standard_D4s_v5');
  });

  it('answers 400 to JSON on a leaf, whether format=json is explicit or the default', async () => {
    for (const path of ['/compute/zone', '/compute/zone?format=json']) {
      const a = await get(path);
      expect(a.status).toBe(400);
      expect(a.json<{ error: string }>().error).toMatch(/format=text/);
    }
  });

  it('answers 400 to an unknown format', async () => {
    expect((await get('/compute?format=xml')).status).toBe(400);
  });

  it('lists the entries of an object with format=text', async () => {
    const a = await get('?format=text');
    expect(a.status).toBe(200);
    expect(a.text.split('\n')).toEqual(['compute/', 'network/']);
  });

  it('serves tags as "k:v;k:v" and tagsList as [{name, value}], values with ":" and ";" intact', async () => {
    const tags = await get('/compute/tags?format=text');
    expect(tags.text).toContain('aks-managed-orchestrator:Kubernetes:1.31.2');
    expect(tags.text).toContain('maintenance-window:sat 02:00-04:00;sun 02:00-04:00');
    const list = await get('/compute/tagsList');
    expect(list.status).toBe(200);
    expect(list.json()).toEqual(
      expect.arrayContaining([
        { name: 'aks-managed-orchestrator', value: 'Kubernetes:1.31.2' },
        { name: 'maintenance-window', value: 'sat 02:00-04:00;sun 02:00-04:00' },
      ]),
    );
  });

  it('shows only the fields the api-version had: tagsList from 2019-06-04, priority from 2020-12-01', async () => {
    const old = (await get('/compute', '2019-06-01')).json<Record<string, unknown>>();
    expect(old.tagsList).toBeUndefined();
    expect(old.tags).toBeDefined();
    expect(old.priority).toBeUndefined();
    expect(old.vmScaleSetName).toBe('aks-pool1-12345678-vmss');
    const mid = (await get('/compute', '2019-06-04')).json<Record<string, unknown>>();
    expect(mid.tagsList).toBeDefined();
    expect(mid.priority).toBeUndefined();
    expect((await get('/compute/tagsList', '2019-06-01')).status).toBe(404);
    const recent = (await get('/compute', '2020-12-01')).json<Record<string, unknown>>();
    expect(recent.priority).toBe('Regular');
    expect(recent.evictionPolicy).toBe('');
    expect(recent.platformSubFaultDomain).toBeUndefined();
    expect(recent.physicalZone).toBeUndefined();
    const newest = (await get('/compute', '2023-11-15')).json<Record<string, unknown>>();
    expect(newest.platformSubFaultDomain).toBe('');
    expect(newest.physicalZone).toBe('westeurope-AZ01');
    // zone appeared with 2017-12-01.
    expect((await get('/compute', '2017-10-01')).json<Record<string, unknown>>().zone).toBeUndefined();
  });

  it('serves zone as "" on a non-zonal VM', async () => {
    const name = h.emulator.vms[0] as string;
    const patched = await h.control('PATCH', `/vms/${name}`, { instance: { zone: '', physicalZone: '' } });
    expect(patched.status).toBe(200);
    const zone = await get('/compute/zone?format=text');
    expect(zone.status).toBe(200);
    expect(zone.text).toBe('');
    expect((await get('/compute')).json<Record<string, unknown>>().zone).toBe('');
  });

  it('does not serve extended=true (the seeds do not describe it): the ordinary document, no "extended" part', async () => {
    // cloud-init asks /metadata/instance?api-version=2021-08-01&extended=true and reads
    // extended.compute.* only when present.
    const plain = await get('', '2021-08-01');
    const extended = await get('?extended=true', '2021-08-01');
    expect(extended.status).toBe(200);
    expect(extended.json()).toEqual(plain.json());
    expect(extended.json()).not.toHaveProperty('extended');
    expect((await get('/compute?extended=true', '2021-08-01')).json()).toEqual((await get('/compute', '2021-08-01')).json());
    expect((await get('/extended?extended=true', '2021-08-01')).status).toBe(404);
    // The request rules still hold: a repeated name is refused.
    expect((await get('?extended=true&extended=false', '2021-08-01')).status).toBe(400);
  });

  it('answers 404 to a route followed by "#..." in the raw request target (not a fragment to strip)', async () => {
    for (const target of ['/metadata/instance/compute/vmSize#x?api-version=2021-02-01&format=text', '/metadata/instance#x?api-version=2021-02-01']) {
      const a = await h.callRaw(target, AZURE_HEADERS);
      expect([target, a.status]).toEqual([target, 404]);
      expect(a.json()).toEqual({ error: 'Not found' });
    }
    expect((await h.callRaw('/metadata/instance/compute/vmSize?api-version=2021-02-01&format=text', AZURE_HEADERS)).text).toBe('Standard_D4s_v5');
  });

  it('answers the scheduled-events api-versions from before the seeds (2020-07-01)', async () => {
    const a = await h.call('/metadata/scheduledevents?api-version=2020-07-01', { headers: AZURE_HEADERS });
    expect(a.status).toBe(200);
    // ...but /metadata/instance does not know it.
    expect((await get('', '2020-07-01')).status).toBe(400);
  });
});
