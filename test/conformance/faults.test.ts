// Fault injection (docs/emulator.md, "Faults"): status for the next N requests or a time window,
// delay, connection reset, malformed body; scoped by VM and path.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AZURE_HEADERS, type Harness, startHarness } from './harness.js';

const INSTANCE = '/metadata/instance?api-version=2021-02-01';
const EVENTS = '/metadata/scheduledevents?api-version=2020-07-01';

describe('faults', () => {
  let h: Harness;
  let vms: string[];
  const get = (path = INSTANCE, vm?: string) => h.call(`${vm ? `/vm/${vm}` : ''}${path}`, { headers: AZURE_HEADERS });

  beforeEach(async () => {
    h = await startHarness({ provider: 'azure', vms: 2 });
    vms = h.emulator.vms;
  });
  afterEach(() => h.close());

  it('answers with the given status for the next N matching requests, in IMDS error style', async () => {
    const a = await h.control('POST', '/faults', { kind: 'status', status: 410, count: 2 });
    expect(a.status).toBe(201);
    expect(a.json<{ id: string }>().id).toEqual(expect.any(String));
    const first = await get();
    expect(first.status).toBe(410);
    expect(first.json<{ error: string }>().error).toMatch(/70 seconds/);
    expect((await get()).status).toBe(410);
    expect((await get()).status).toBe(200);
  });

  it('answers 429 and 500 the same way', async () => {
    await h.control('POST', '/faults', { kind: 'status', status: 429, count: 1 });
    await h.control('POST', '/faults', { kind: 'status', status: 500, count: 1 });
    expect((await get()).status).toBe(429);
    expect((await get()).status).toBe(500);
    expect((await get()).status).toBe(200);
  });

  it('applies for a time window, by the clock', async () => {
    await h.control('POST', '/faults', { kind: 'status', status: 500, durationMs: 5000 });
    expect((await get()).status).toBe(500);
    h.clock.advance(4999);
    expect((await get()).status).toBe(500);
    h.clock.advance(1);
    expect((await get()).status).toBe(200);
  });

  it('lasts until cleared when neither count nor durationMs is given; DELETE clears one or all', async () => {
    const one = (await h.control('POST', '/faults', { kind: 'status', status: 500, path: 'scheduledevents' })).json<{ id: string }>().id;
    await h.control('POST', '/faults', { kind: 'status', status: 410, path: '/compute' });
    for (let i = 0; i < 3; i++) expect((await get(EVENTS)).status).toBe(500);
    expect((await get()).status).toBe(200);
    expect((await get('/metadata/instance/compute?api-version=2021-02-01')).status).toBe(410);
    expect((await h.control('GET', '/faults')).json<unknown[]>()).toHaveLength(2);
    expect((await h.control('DELETE', `/faults/${one}`)).status).toBe(200);
    expect((await get(EVENTS)).status).toBe(200);
    expect((await h.control('DELETE', '/faults')).status).toBe(200);
    expect((await get('/metadata/instance/compute?api-version=2021-02-01')).status).toBe(200);
  });

  it('hits only the named VM', async () => {
    await h.control('POST', '/faults', { kind: 'status', status: 500, vm: vms[1] });
    expect((await get(INSTANCE, vms[0])).status).toBe(200);
    expect((await get(INSTANCE, vms[1])).status).toBe(500);
    expect((await h.control('GET', `/vms/${vms[1]}`)).json<{ faults: unknown[] }>().faults).toHaveLength(1);
    expect((await h.control('GET', `/vms/${vms[0]}`)).json<{ faults: unknown[] }>().faults).toHaveLength(0);
  });

  it('delays the answer by delayMs', async () => {
    await h.control('POST', '/faults', { kind: 'delay', delayMs: 300, count: 1 });
    const t = Date.now();
    const a = await get();
    expect(a.status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(280);
  });

  it('resets the connection: the client sees a socket error, the log status 0', async () => {
    await h.control('POST', '/faults', { kind: 'reset', count: 1 });
    await expect(get()).rejects.toThrow();
    expect((await get()).status).toBe(200);
    const log = (await h.control('GET', `/vms/${vms[0]}/requests`)).json<{ status: number }[]>();
    expect(log.map((e) => e.status)).toEqual([0, 200]);
  });

  it('cuts the body short with a 200 (malformed)', async () => {
    await h.control('POST', '/faults', { kind: 'malformed', count: 1 });
    const a = await get();
    expect(a.status).toBe(200);
    expect(() => JSON.parse(a.text)).toThrow();
    expect(JSON.parse((await get()).text)).toHaveProperty('compute');
  });

  it('refuses bad fault bodies with 400 and adds nothing; an unknown VM gets 404', async () => {
    for (const body of [{}, { kind: 'explode' }, { kind: 'status' }, { kind: 'status', status: 200 }, { kind: 'delay' }, { kind: 'status', status: 500, count: 0 }, { kind: 'reset', delayMs: 5 }, { kind: 'reset', extra: 1 }]) {
      expect((await h.control('POST', '/faults', body)).status).toBe(400);
    }
    expect((await h.control('POST', '/faults', { kind: 'reset', vm: 'nope' })).status).toBe(404);
    expect((await h.control('GET', '/faults')).json()).toEqual([]);
    expect((await get()).status).toBe(200);
  });

  it('answers Alibaba faults in its own style', async () => {
    const a = await startHarness({ provider: 'alibaba' });
    try {
      await a.control('POST', '/faults', { kind: 'status', status: 500, count: 1 });
      const r = await a.call('/latest/meta-data/instance-id');
      expect(r.status).toBe(500);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
      expect((await a.call('/latest/meta-data/instance-id')).status).toBe(200);
    } finally {
      await a.close();
    }
  });
});
