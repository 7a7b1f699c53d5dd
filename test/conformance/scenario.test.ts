// Scenario files (docs/emulator.md, "Scenario files"): the fleet, initial events, settings and a
// timeline driven by the clock; invalid scenarios are refused naming the wrong field.

import { afterEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseScenario, ScenarioError } from '../../src/emulator/scenario.js';
import { AZURE_HEADERS, type Harness, startHarness } from './harness.js';

const EVENTS = '/metadata/scheduledevents?api-version=2020-07-01';

const AZURE_SCENARIO = `
provider: azure
vms:
  - name: aks-pool1-12345678-vmss000000
    instance: {location: westeurope, zone: "1", platformFaultDomain: "0", platformUpdateDomain: "0"}
    tags: [{name: team, value: payments}]
  - name: aks-pool1-12345678-vmss000001
    instance: {zone: "2", platformFaultDomain: "1"}
events:
  - {id: early, type: Freeze, resources: [aks-pool1-12345678-vmss000001], notBefore: +1h, lifecycle: manual}
timeline:
  - at: 10s                 # after the emulator starts
    event: {id: rb, type: Reboot, resources: [aks-pool1-12345678-vmss000000], notBefore: +15m}
  - at: 60s
    patch: {vm: aks-pool1-12345678-vmss000000, tags: []}
  - at: 90s
    fault: {kind: status, status: 500, count: 1}
  - at: 2m
    removeEvent: early
`;

describe('scenarios', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('builds the fleet from the scenario and plays the timeline as the clock moves', async () => {
    h = await startHarness({ provider: 'azure', scenario: parseScenario(AZURE_SCENARIO) });
    const harness = h;
    expect(harness.emulator.vms).toEqual(['aks-pool1-12345678-vmss000000', 'aks-pool1-12345678-vmss000001']);
    const get = (path: string) => harness.call(path, { headers: AZURE_HEADERS });
    const compute = (await get('/vm/aks-pool1-12345678-vmss000001/metadata/instance/compute?api-version=2021-02-01')).json<Record<string, string>>();
    expect(compute).toMatchObject({ zone: '2', platformFaultDomain: '1', location: 'westeurope' });
    expect((await get('/metadata/instance/compute/tags?api-version=2021-02-01&format=text')).text).toBe('team:payments');
    const ids = async () => (await get(EVENTS)).json<{ Events: { EventId: string }[] }>().Events.map((e) => e.EventId);
    expect(await ids()).toEqual(['early']);

    harness.clock.advance(10_000);
    expect(await ids()).toEqual(['early', 'rb']);
    const rb = (await get(EVENTS)).json<{ Events: { NotBefore: string }[] }>().Events[1];
    // +15m counts from when the entry ran: 10:00:10 + 15 min.
    expect(rb?.NotBefore).toBe('Sun, 22 Nov 2026 10:15:10 GMT');

    harness.clock.advance(50_000);
    expect((await get('/metadata/instance/compute/tags?api-version=2021-02-01&format=text')).text).toBe('');

    harness.clock.advance(30_000);
    expect((await get(EVENTS)).status).toBe(500);
    expect((await get(EVENTS)).status).toBe(200);

    harness.clock.advance(30_000);
    expect(await ids()).toEqual(['rb']);
  });

  it('plays the example scenarios in fixtures/', async () => {
    const aks = parseScenario(readFileSync('test/conformance/fixtures/aks-maintenance.yaml', 'utf8'));
    h = await startHarness({ provider: 'azure', scenario: aks });
    const harness = h;
    expect(harness.emulator.vms).toHaveLength(3);
    harness.clock.advance(31_000);
    const doc = (await harness.call(EVENTS, { headers: AZURE_HEADERS })).json<{ Events: { EventId: string }[] }>();
    expect(doc.Events.map((e) => e.EventId)).toEqual(['reboot-1', 'freeze-1']);
    await harness.close();

    const ack = parseScenario(readFileSync('test/conformance/fixtures/ack-maintenance.yaml', 'utf8'));
    h = await startHarness({ provider: 'alibaba', scenario: ack });
    expect((await h.call('/vm/cn-hangzhou.192.168.0.11/latest/meta-data/instance-id')).status).toBe(403);
    expect((await h.call('/latest/maintenance/active-system-events')).json<{ Id: string }[]>()[0]?.Id).toBe('e-bp1maintenance00001');
  });

  it('takes settings from the scenario (YAML text is accepted as is)', async () => {
    const { startEmulator } = await import('../../src/emulator/emulator.js');
    const emu = await startEmulator({ provider: 'alibaba', scenario: 'settings: {rateLimitPerSecond: 2, firstEventsCallDelayMs: 10}\n' });
    try {
      expect(emu.fleet.settings).toEqual({ rateLimitPerSecond: 2, firstEventsCallDelayMs: 10 });
      expect(emu.vms).toEqual(['cn-hangzhou.192.168.0.10']);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${emu.url}/latest/meta-data/region-id`)).status);
      // Two a second; the third within the same second is throttled (a slow machine may let a second pass).
      expect(statuses.slice(0, 2)).toEqual([200, 200]);
    } finally {
      await emu.close();
    }
  });

  it('serves Alibaba scenario items, hardened-only mode and spot times', async () => {
    const scenario = parseScenario(`
provider: alibaba
vms:
  - name: cn-hangzhou.192.168.0.21
    instance: {zone-id: cn-hangzhou-j}
    hardenedOnly: true
    tagsEnabled: false
timeline:
  - at: 30s
    patch: {vm: cn-hangzhou.192.168.0.21, spot: {terminationTime: "2026-11-22T10:05:30Z"}}
`);
    h = await startHarness({ provider: 'alibaba', scenario });
    const harness = h;
    expect((await harness.call('/latest/meta-data/zone-id')).status).toBe(403);
    const token = (await harness.call('/latest/api/token', { method: 'PUT', headers: { 'X-aliyun-ecs-metadata-token-ttl-seconds': '600' } })).text;
    const get = (item: string) => harness.call(`/latest/meta-data/${item}`, { headers: { 'X-aliyun-ecs-metadata-token': token } });
    expect((await get('zone-id')).text).toBe('cn-hangzhou-j');
    expect((await get('private-ipv4')).text).toBe('192.168.0.21');
    expect((await get('tags/instance/')).status).toBe(404);
    expect((await get('instance/spot/termination-time')).status).toBe(404);
    harness.clock.advance(30_000);
    expect((await get('instance/spot/termination-time')).text).toBe('2026-11-22T10:05:30Z');
  });

  it('refuses a malformed scenario document, naming the field', () => {
    const cases: [string, RegExp][] = [
      ['provider: gcp', /^provider: must be one of azure, alibaba/],
      ['vms: {name: a}', /^vms: must be a list/],
      ['settings: {rateLimitPerSecond: fast}', /^settings\.rateLimitPerSecond: must be an integer/],
      ['timeline:\n  - at: soon\n    removeEvent: x', /^timeline\[0\]\.at: must be a duration/],
      ['timeline:\n  - at: 1s', /^timeline\[0\]: needs exactly one of/],
      ['timeline:\n  - at: 1s\n    explode: true', /^timeline\[0\]\.explode: unknown field/],
      ['colour: blue', /^colour: unknown field/],
      ['vms: [', /^not valid YAML/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseScenario(text)).toThrow(ScenarioError);
      expect(() => parseScenario(text)).toThrow(message);
    }
  });

  it('refuses a scenario whose VMs, events or later timeline entries are wrong, before serving anything', async () => {
    const cases: [string, RegExp][] = [
      ['vms:\n  - name: a\n    tags: [{name: t, value: 3}]', /vms\[0\]\.tags\[0\]\.value: must be a string/],
      ['vms:\n  - name: a\n    instance: {zone: 1}', /vms\[0\]\.instance\.zone: must be a string/],
      ['timeline:\n  - at: 1s\n    event: {type: Nap}', /timeline\[0\]\.event\.type: must be one of Freeze/],
      ['timeline:\n  - at: 1s\n    removeEvent: nothing', /timeline\[0\]\.removeEvent: no event with id "nothing"/],
      ['timeline:\n  - at: 1s\n    patch: {vm: ghost, tags: []}', /timeline\[0\]\.patch\.vm: no VM named "ghost"/],
      ['provider: alibaba', /provider "alibaba"/],
    ];
    for (const [text, message] of cases) {
      await expect(startHarness({ provider: 'azure', scenario: parseScenario(text) })).rejects.toThrow(message);
    }
  });
});
