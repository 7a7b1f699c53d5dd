// The control API (docs/emulator.md, "Control API"): every endpoint, and 400 on bad input with the
// state unchanged.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AZURE_HEADERS, type Harness, startHarness } from './harness.js';

const V = 'api-version=2023-11-15';

describe('control API (Azure fleet)', () => {
  let h: Harness;
  let vm: string;
  const state = async (name = vm) => (await h.control('GET', `/vms/${name}`)).json<Record<string, unknown>>();

  beforeEach(async () => {
    h = await startHarness({ provider: 'azure', vms: 2 });
    vm = h.emulator.vms[0] as string;
  });
  afterEach(() => h.close());

  it('GET /_emulator/healthz names the provider', async () => {
    const a = await h.control('GET', '/healthz');
    expect(a.status).toBe(200);
    expect(a.json()).toEqual({ provider: 'azure' });
  });

  it('GET /_emulator/vms lists the VMs with their prefixes', async () => {
    expect((await h.control('GET', '/vms')).json()).toEqual([
      { name: 'aks-pool1-12345678-vmss000000', prefix: '/vm/aks-pool1-12345678-vmss000000' },
      { name: 'aks-pool1-12345678-vmss000001', prefix: '/vm/aks-pool1-12345678-vmss000001' },
    ]);
  });

  it('GET /_emulator/vms/{vm} returns the whole state', async () => {
    const s = await state();
    expect(Object.keys(s).sort()).toEqual(['approvals', 'faults', 'hardenedOnly', 'instance', 'name', 'network', 'prefix', 'spot', 'tags', 'tagsEnabled']);
    expect(s).toMatchObject({ name: vm, spot: { terminationTime: null }, approvals: [], faults: [] });
    expect((s.instance as Record<string, unknown>).vmSize).toBe('Standard_D4s_v5');
  });

  it('POST /_emulator/vms adds a VM with defaults derived from its name, then the given fields', async () => {
    const a = await h.control('POST', '/vms', {
      name: 'aks-pool1-12345678-vmss00000a',
      instance: { zone: '', priority: 'Spot', evictionPolicy: 'Delete' },
      tags: [{ name: 'team', value: 'search' }],
    });
    expect(a.status).toBe(201);
    const compute = (await h.call(`/vm/aks-pool1-12345678-vmss00000a/metadata/instance/compute?${V}`, { headers: AZURE_HEADERS })).json<Record<string, unknown>>();
    expect(compute).toMatchObject({ name: 'aks-pool1-12345678-vmss_10', zone: '', priority: 'Spot', evictionPolicy: 'Delete', tags: 'team:search', tagsList: [{ name: 'team', value: 'search' }] });
    expect((await h.control('GET', '/vms')).json<unknown[]>()).toHaveLength(3);
    expect((await h.control('POST', '/vms', { name: 'aks-pool1-12345678-vmss00000a' })).status).toBe(409);
  });

  it('POST /_emulator/vms refuses bad input with 400 and adds nothing', async () => {
    for (const body of [{}, { name: 'has/slash' }, { name: 'ok-name', instance: { platformFaultDomain: 3 } }, { name: 'ok-name', tags: [{ name: 'x' }] }, { name: 'ok-name', color: 'blue' }]) {
      const a = await h.control('POST', '/vms', body);
      expect(a.status).toBe(400);
      expect(typeof a.json<{ error: string }>().error).toBe('string');
    }
    expect((await h.control('POST', '/vms', 'not json')).status).toBe(400);
    expect((await h.control('GET', '/vms')).json<unknown[]>()).toHaveLength(2);
  });

  it('PATCH /_emulator/vms/{vm} merges instance fields and replaces tags', async () => {
    const a = await h.control('PATCH', `/vms/${vm}`, {
      instance: { platformFaultDomain: '2', securityProfile: { securityType: 'TrustedLaunch' } },
      tags: [{ name: 'a', value: 'x:y;z' }],
    });
    expect(a.status).toBe(200);
    const s = a.json<{ instance: Record<string, Record<string, string>>; tags: unknown }>();
    expect(s.instance.platformFaultDomain).toBe('2');
    expect(s.instance.securityProfile).toEqual({ secureBootEnabled: 'false', virtualTpmEnabled: 'false', encryptionAtHost: 'false', securityType: 'TrustedLaunch' });
    expect(s.tags).toEqual([{ name: 'a', value: 'x:y;z' }]);
    const fd = await h.call(`/metadata/instance/compute/platformFaultDomain?${V}&format=text`, { headers: AZURE_HEADERS });
    expect(fd.text).toBe('2');
    expect((await h.call(`/metadata/instance/compute/tags?${V}&format=text`, { headers: AZURE_HEADERS })).text).toBe('a:x:y;z');
  });

  it('PATCH /_emulator/vms/{vm} refuses bad input with 400 and changes nothing', async () => {
    const before = await state();
    const bad = [
      { instance: { platformFaultDomain: 1 } },
      { instance: { tagsList: [] } },
      { instance: 'zone 1' },
      { tags: 'team:payments' },
      { tags: [{ name: 'a', value: 'b' }, { name: 'a', value: 'c' }] },
      { spot: { terminationTime: 'tomorrow' } },
      { hardenedOnly: 'yes' },
      { instance: { zone: '3' }, tags: [{ name: 'ok', value: 1 }] },
      { unknownField: true },
    ];
    for (const body of bad) {
      const a = await h.control('PATCH', `/vms/${vm}`, body);
      expect(a.status).toBe(400);
      expect(a.json<{ error: string }>().error).toEqual(expect.any(String));
    }
    expect(await state()).toEqual(before);
  });

  it('answers 404 for an unknown VM or event and for unknown endpoints', async () => {
    expect((await h.control('GET', '/vms/nope')).status).toBe(404);
    expect((await h.control('PATCH', '/vms/nope', { tags: [] })).status).toBe(404);
    expect((await h.control('DELETE', '/vms/nope')).status).toBe(404);
    expect((await h.control('POST', '/events/nope/start')).status).toBe(404);
    expect((await h.control('DELETE', '/events/nope')).status).toBe(404);
    expect((await h.control('DELETE', '/faults/nope')).status).toBe(404);
    expect((await h.control('GET', '/nothing')).status).toBe(404);
    expect((await h.call('/vm/nope/metadata/instance?' + V, { headers: AZURE_HEADERS })).status).toBe(404);
  });

  it('DELETE /_emulator/vms/{vm} removes a VM; the root then serves the next one', async () => {
    const a = await h.control('DELETE', `/vms/${vm}`);
    expect(a.status).toBe(200);
    expect((await h.control('GET', '/vms')).json<unknown[]>()).toHaveLength(1);
    expect((await h.call(`/vm/${vm}/metadata/instance?${V}`, { headers: AZURE_HEADERS })).status).toBe(404);
    const name = await h.call(`/metadata/instance/compute/name?${V}&format=text`, { headers: AZURE_HEADERS });
    expect(name.text).toBe('aks-pool1-12345678-vmss_1');
  });

  it('GET/POST /_emulator/events, POST start, DELETE', async () => {
    const added = await h.control('POST', '/events', { type: 'Freeze', notBefore: '2026-11-22T10:30:00Z', resources: [vm], description: 'live migration' });
    expect(added.status).toBe(201);
    const event = added.json<Record<string, unknown>>();
    expect(event).toMatchObject({ EventType: 'Freeze', EventStatus: 'Scheduled', NotBefore: 'Sun, 22 Nov 2026 10:30:00 GMT', Description: 'live migration', approved: false, lifecycle: 'auto' });
    expect(event.EventId).toMatch(/^[0-9a-f-]{36}$/);
    const id = event.EventId as string;
    expect((await h.control('GET', '/events')).json()).toEqual([event]);
    const started = await h.control('POST', `/events/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.json()).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
    expect((await h.control('DELETE', `/events/${id}`)).status).toBe(200);
    expect((await h.control('GET', '/events')).json()).toEqual([]);
  });

  it('uses the type\'s minimum notice when notBefore is not given', async () => {
    const preempt = (await h.control('POST', '/events', { type: 'Preempt' })).json<Record<string, unknown>>();
    expect(preempt.NotBefore).toBe('Sun, 22 Nov 2026 10:00:30 GMT');
    const reboot = (await h.control('POST', '/events', { type: 'Reboot' })).json<Record<string, unknown>>();
    expect(reboot.NotBefore).toBe('Sun, 22 Nov 2026 10:15:00 GMT');
  });

  it('POST /_emulator/events refuses bad input with 400 and adds nothing', async () => {
    const incarnation = async () =>
      (await h.call('/metadata/scheduledevents?api-version=2020-07-01', { headers: AZURE_HEADERS })).json<{ DocumentIncarnation: number }>().DocumentIncarnation;
    const before = await incarnation();
    for (const body of [{}, { type: 'Nap' }, { type: 'Reboot', notBefore: 'soon' }, { type: 'Reboot', status: 'Completed' }, { type: 'Reboot', resources: 'vm' }, { type: 'Reboot', durationSeconds: -2 }, { type: 'Reboot', lifecycle: 'sometimes' }, { type: 'Reboot', source: 'Me' }]) {
      expect((await h.control('POST', '/events', body)).status).toBe(400);
    }
    expect((await h.control('GET', '/events')).json()).toEqual([]);
    expect(await incarnation()).toBe(before);
    await h.control('POST', '/events', { type: 'Reboot', id: 'dup' });
    expect((await h.control('POST', '/events', { type: 'Reboot', id: 'dup' })).status).toBe(409);
  });

  it('GET and DELETE /_emulator/vms/{vm}/requests: the request log, token values redacted', async () => {
    await h.call(`/vm/${vm}/metadata/instance/compute/zone?${V}&format=text`, { headers: { ...AZURE_HEADERS, 'X-Custom': 'A' } });
    await h.call(`/vm/${vm}/metadata/nothing?${V}`, { headers: AZURE_HEADERS });
    const log = (await h.control('GET', `/vms/${vm}/requests`)).json<Record<string, unknown>[]>();
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ time: '2026-11-22T10:00:00.000Z', method: 'GET', path: '/metadata/instance/compute/zone', query: `${V}&format=text`, status: 200 });
    expect((log[0]?.headers as Record<string, string>).metadata).toBe('true');
    expect((log[0]?.headers as Record<string, string>)['x-custom']).toBe('A');
    expect(log[1]).toMatchObject({ path: '/metadata/nothing', status: 404 });
    // Root requests are the first VM's.
    await h.call(`/metadata/versions`, { headers: AZURE_HEADERS });
    expect((await h.control('GET', `/vms/${vm}/requests`)).json<unknown[]>()).toHaveLength(3);
    expect((await h.control('GET', `/vms/${h.emulator.vms[1]}/requests`)).json<unknown[]>()).toHaveLength(0);
    expect((await h.control('DELETE', `/vms/${vm}/requests`)).status).toBe(200);
    expect((await h.control('GET', `/vms/${vm}/requests`)).json()).toEqual([]);
  });

  it('GET/PATCH /_emulator/settings, refusing bad values', async () => {
    expect((await h.control('GET', '/settings')).json()).toEqual({ rateLimitPerSecond: 0, firstEventsCallDelayMs: 0 });
    expect((await h.control('PATCH', '/settings', { rateLimitPerSecond: -1 })).status).toBe(400);
    expect((await h.control('PATCH', '/settings', { speed: 1 })).status).toBe(400);
    expect((await h.control('PATCH', '/settings', { rateLimitPerSecond: 5 })).json()).toEqual({ rateLimitPerSecond: 5, firstEventsCallDelayMs: 0 });
  });

  it('answers 405 to a wrong method on a control endpoint', async () => {
    expect((await h.control('PUT', '/healthz')).status).toBe(405);
    expect((await h.control('POST', `/vms/${vm}`)).status).toBe(405);
  });
});

describe('control API (Alibaba fleet)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ provider: 'alibaba' });
  });
  afterEach(() => h.close());

  it('patches items by their paths, removes them with null, refuses clashes and reserved items', async () => {
    const vm = h.emulator.vms[0] as string;
    const a = await h.control('PATCH', `/vms/${vm}`, { instance: { 'zone-id': 'cn-hangzhou-k', 'instance/instance-type': 'ecs.g8i.2xlarge', 'image-id': null } });
    expect(a.status).toBe(200);
    expect((await h.call('/latest/meta-data/zone-id')).text).toBe('cn-hangzhou-k');
    expect((await h.call('/latest/meta-data/instance/instance-type')).text).toBe('ecs.g8i.2xlarge');
    expect((await h.call('/latest/meta-data/image-id')).status).toBe(404);
    const before = (await h.control('GET', `/vms/${vm}`)).json();
    for (const instance of [{ instance: 'x' }, { 'tags/instance/a': 'b' }, { 'instance/spot/termination-time': 'x' }, { 'zone-id': 5 }, { '../etc': 'x' }, { all: 'x' }, { 'all/x': 'y' }]) {
      expect((await h.control('PATCH', `/vms/${vm}`, { instance })).status).toBe(400);
    }
    expect((await h.control('PATCH', `/vms/${vm}`, { network: {} })).status).toBe(400);
    expect((await h.control('GET', `/vms/${vm}`)).json()).toEqual(before);
  });

  it('shows events in Alibaba shape with their resources', async () => {
    const vm = h.emulator.vms[0] as string;
    const a = await h.control('POST', '/events', { type: 'SystemMaintenance.Reboot', notBefore: '+48h', resources: [vm] });
    expect(a.status).toBe(201);
    expect(a.json()).toMatchObject({ Code: 'SystemMaintenance.Reboot', Id: expect.stringMatching(/^e-bp1/), NotBefore: '2026-11-24T10:00:00Z', Status: 'Scheduled', Resources: [vm], approved: false });
  });
});
