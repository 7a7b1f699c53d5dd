// Azure scheduled events (IMDS.md "Scheduled events", outside the seeds): document shape,
// DocumentIncarnation, Resources, StartRequests approval, NotBefore "" once started, disappearance.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AZURE_HEADERS, type Harness, startHarness } from './harness.js';

const URL_2020 = '/metadata/scheduledevents?api-version=2020-07-01';

interface EventsDoc {
  DocumentIncarnation: number;
  Events: Record<string, unknown>[];
}

describe('Azure scheduled events', () => {
  let h: Harness;
  let vms: string[];
  const events = async (vm?: string, version = '2020-07-01') => {
    const prefix = vm ? `/vm/${vm}` : '';
    const a = await h.call(`${prefix}/metadata/scheduledevents?api-version=${version}`, { headers: AZURE_HEADERS });
    expect(a.status).toBe(200);
    return a.json<EventsDoc>();
  };
  const approve = (body: string, vm?: string) =>
    h.call(`${vm ? `/vm/${vm}` : ''}${URL_2020}`, { method: 'POST', headers: { ...AZURE_HEADERS, 'Content-Type': 'application/json' }, body });

  beforeEach(async () => {
    h = await startHarness({ provider: 'azure', vms: 3 });
    vms = h.emulator.vms;
  });
  afterEach(() => h.close());

  it('serves an empty list with a DocumentIncarnation when nothing is scheduled', async () => {
    const doc = await events();
    expect(doc).toEqual({ DocumentIncarnation: expect.any(Number), Events: [] });
  });

  it('serves an event in the documented shape, NotBefore in RFC 1123', async () => {
    const added = await h.control('POST', '/events', { type: 'Reboot', resources: [vms[0], vms[1]], notBefore: '+15m', durationSeconds: 7, id: 'ev-1' });
    expect(added.status).toBe(201);
    const doc = await events();
    expect(doc.Events).toEqual([
      {
        EventId: 'ev-1',
        EventType: 'Reboot',
        ResourceType: 'VirtualMachine',
        Resources: ['aks-pool1-12345678-vmss_0', 'aks-pool1-12345678-vmss_1'],
        EventStatus: 'Scheduled',
        NotBefore: 'Sun, 22 Nov 2026 10:15:00 GMT',
        Description: expect.any(String),
        EventSource: 'Platform',
        DurationInSeconds: 7,
      },
    ]);
  });

  it('sends every event of the placement group to every VM, each naming its Resources', async () => {
    await h.control('POST', '/events', { type: 'Freeze', resources: [vms[2]] });
    for (const vm of vms) {
      const doc = await events(vm);
      expect(doc.Events).toHaveLength(1);
      expect(doc.Events[0]?.Resources).toEqual(['aks-pool1-12345678-vmss_2']);
    }
  });

  it('increments DocumentIncarnation on every change of the list, and only then', async () => {
    const first = (await events()).DocumentIncarnation;
    expect((await events()).DocumentIncarnation).toBe(first);
    await h.control('POST', '/events', { type: 'Reboot', id: 'a' });
    const second = (await events()).DocumentIncarnation;
    expect(second).toBeGreaterThan(first);
    await h.control('POST', '/events/a/start');
    const third = (await events()).DocumentIncarnation;
    expect(third).toBeGreaterThan(second);
    await h.control('DELETE', '/events/a');
    expect((await events()).DocumentIncarnation).toBeGreaterThan(third);
  });

  it('marks an event approved and starts it on POST StartRequests: Started, NotBefore ""', async () => {
    await h.control('POST', '/events', { type: 'Reboot', resources: [vms[0]], id: 'ev-approve', durationSeconds: 30 });
    const before = await events();
    const a = await approve(JSON.stringify({ StartRequests: [{ EventId: 'ev-approve' }] }));
    expect(a.status).toBe(200);
    const after = await events();
    expect(after.DocumentIncarnation).toBeGreaterThan(before.DocumentIncarnation);
    expect(after.Events[0]).toMatchObject({ EventId: 'ev-approve', EventStatus: 'Started', NotBefore: '' });
    const view = (await h.control('GET', '/events/ev-approve')).json<Record<string, unknown>>();
    expect(view.approved).toBe(true);
    expect(view.approvals).toEqual([{ vm: vms[0], time: '2026-11-22T10:00:00.000Z' }]);
    const state = (await h.control('GET', `/vms/${vms[0]}`)).json<{ approvals: unknown[] }>();
    expect(state.approvals).toEqual([{ eventId: 'ev-approve', time: '2026-11-22T10:00:00.000Z' }]);
  });

  it('approval by one VM releases the event for every VM in Resources', async () => {
    await h.control('POST', '/events', { type: 'Reboot', resources: [vms[0], vms[1]], id: 'shared' });
    expect((await approve(JSON.stringify({ StartRequests: [{ EventId: 'shared' }] }), vms[1])).status).toBe(200);
    expect((await events(vms[0])).Events[0]).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
  });

  it('starts an auto event at NotBefore and removes it DurationInSeconds later', async () => {
    await h.control('POST', '/events', { type: 'Reboot', notBefore: '+15m', durationSeconds: 60, id: 'timed' });
    h.clock.advance(15 * 60_000 - 1);
    expect((await events()).Events[0]).toMatchObject({ EventStatus: 'Scheduled' });
    h.clock.advance(1);
    expect((await events()).Events[0]).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
    h.clock.advance(59_999);
    expect((await events()).Events).toHaveLength(1);
    const before = (await events()).DocumentIncarnation;
    h.clock.advance(1);
    const gone = await events();
    expect(gone.Events).toEqual([]);
    expect(gone.DocumentIncarnation).toBeGreaterThan(before);
  });

  it('disappears when the control API ends it (there is no Completed status)', async () => {
    await h.control('POST', '/events', { type: 'Redeploy', id: 'bye', lifecycle: 'manual' });
    expect((await events()).Events).toHaveLength(1);
    expect((await h.control('DELETE', '/events/bye')).status).toBe(200);
    expect((await events()).Events).toEqual([]);
  });

  it('with lifecycle manual, approval is recorded but the event waits for the control API', async () => {
    await h.control('POST', '/events', { type: 'Reboot', id: 'man', lifecycle: 'manual', notBefore: '+1m' });
    expect((await approve(JSON.stringify({ StartRequests: [{ EventId: 'man' }] }))).status).toBe(200);
    h.clock.advance(3_600_000);
    expect((await events()).Events[0]).toMatchObject({ EventStatus: 'Scheduled' });
    expect((await h.control('GET', '/events/man')).json<Record<string, unknown>>().approved).toBe(true);
    await h.control('POST', '/events/man/start');
    expect((await events()).Events[0]).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
  });

  it('posts an event directly as Started (a hardware failure)', async () => {
    await h.control('POST', '/events', { type: 'Redeploy', status: 'Started', id: 'hw' });
    expect((await events()).Events[0]).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
  });

  it('rejects bad StartRequests bodies with 400 and changes nothing', async () => {
    await h.control('POST', '/events', { type: 'Reboot', id: 'keep' });
    const before = await events();
    for (const body of ['not json', '{}', '{"StartRequests": []}', '{"StartRequests": {"EventId": "keep"}}', '{"StartRequests": [{"Id": "keep"}]}', '{"StartRequests": [{"EventId": "unknown"}]}', '[]']) {
      const a = await approve(body);
      expect(a.status).toBe(400);
      expect(typeof a.json<{ error: string }>().error).toBe('string');
    }
    expect(await events()).toEqual(before);
    expect((await h.control('GET', '/events/keep')).json<Record<string, unknown>>().approved).toBe(false);
  });

  it('applies the header and api-version rules to scheduled events', async () => {
    expect((await h.call(URL_2020)).status).toBe(400);
    expect((await h.call('/metadata/scheduledevents', { headers: AZURE_HEADERS })).status).toBe(400);
    // Scheduled events came with 2017-08-01.
    expect((await h.call('/metadata/scheduledevents?api-version=2017-04-02', { headers: AZURE_HEADERS })).status).toBe(400);
  });

  it('leaves out fields and types older api-versions did not have', async () => {
    await h.control('POST', '/events', { type: 'Preempt', id: 'spot' });
    await h.control('POST', '/events', { type: 'Reboot', id: 'rb' });
    const old = await events(undefined, '2017-08-01');
    expect(old.Events.map((e) => e.EventId)).toEqual(['rb']);
    expect(old.Events[0]?.DurationInSeconds).toBeUndefined();
    expect(old.Events[0]?.EventSource).toBeUndefined();
    const v2019 = await events(undefined, '2019-08-01');
    expect(v2019.Events.map((e) => e.EventId)).toEqual(['spot', 'rb']);
    expect(v2019.Events[0]?.EventSource).toBe('Platform');
    expect(v2019.Events[0]?.DurationInSeconds).toBeUndefined();
  });

  it('delays the first call when firstEventsCallDelayMs is set (opt-in), not the next ones', async () => {
    expect((await h.control('PATCH', '/settings', { firstEventsCallDelayMs: 600 })).status).toBe(200);
    const timed = async () => {
      const t = Date.now();
      await events();
      return Date.now() - t;
    };
    expect(await timed()).toBeGreaterThanOrEqual(580);
    expect(await timed()).toBeLessThan(580);
    // The feature turns itself off after 24 h without requests.
    h.clock.advance(24 * 3_600_000);
    expect(await timed()).toBeGreaterThanOrEqual(580);
  });
});
