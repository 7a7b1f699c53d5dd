// The Azure client against the emulator over real HTTP on 127.0.0.1: normalisation of what the
// service serves, filtering and approval of scheduled events, api-version fallback, every fault kind.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { MetadataError } from '../../src/agent/http/errors.js';
import { observeOnce } from '../../src/agent/observe.js';
import { systemClock } from '../../src/time/clock.js';
import { caught, Harness, itKeepsTheRetryContract, stringsIn } from './imds-harness.js';


// Every request goes through the agent's real budget (2/s): a test with a dozen requests takes seconds.
jest.setTimeout(60_000);
const FORBIDDEN = /userData|customData|publicKeys|osProfile|\/identity|\/attested|\/loadbalancer/i;

describe('Azure IMDS client against the emulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start('azure');
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(async () => {
    await h.clearFaults();
    await h.clearRequests();
  });

  it('reads the instance as the emulator serves it, zone as <location>-<zone>, tags from tagsList', async () => {
    const client = h.azure();
    try {
      const { instance, tags } = await client.readInstance();
      const state = await h.state();
      const compute = state.instance as Record<string, string>;
      expect(instance).toMatchObject({
        id: compute.vmId,
        name: compute.name,
        region: compute.location,
        zone: `${compute.location}-${compute.zone}`,
        faultDomain: compute.platformFaultDomain,
        updateDomain: compute.platformUpdateDomain,
        instanceType: compute.vmSize,
        priority: 'regular',
        scaleSet: compute.vmScaleSetName,
      });
      expect(tags).toEqual(state.tags);
      // A tag value with ";" and ":" survives intact.
      expect(tags?.some((t) => t.value.includes(';') && t.value.includes(':'))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('gives AKS\'s topology label values for a mixed-case location, as real VMs\' documents have it (SwedenCentral)', async () => {
    const before = (await h.state()).instance as Record<string, string>;
    const client = h.azure();
    try {
      expect((await h.control('PATCH', `/vms/${h.vm}`, { instance: { location: 'SwedenCentral', zone: '2' } })).status).toBe(200);
      const { instance } = await client.readInstance();
      expect(instance.region).toBe('swedencentral');
      expect(instance.zone).toBe('swedencentral-2');
    } finally {
      await client.close();
      await h.control('PATCH', `/vms/${h.vm}`, { instance: { location: before.location, zone: before.zone } });
    }
  });

  it('observes without touching any secret: no forbidden path, Metadata: true, no X-Forwarded-For, no secret value printed', async () => {
    const client = h.azure();
    try {
      const observation = await observeOnce(client, systemClock);
      const text = JSON.stringify(observation);
      const compute = (await h.state()).instance as Record<string, unknown>;
      const secrets = [compute.userData, compute.customData, ...stringsIn(compute.publicKeys), ...stringsIn(compute.osProfile)].filter(
        (s): s is string => typeof s === 'string' && s.length > 8,
      );
      expect(secrets.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/nodemeta-emulator-secret|FAKE/);
      const log = await h.requests();
      expect(log.length).toBeGreaterThanOrEqual(2);
      for (const r of log) {
        expect(r.path).not.toMatch(FORBIDDEN);
        expect(r.headers.metadata).toBe('true');
        expect(r.headers['x-forwarded-for']).toBeUndefined();
        expect(r.query).toMatch(/^api-version=\d{4}-\d{2}-\d{2}/);
        expect(r.status).toBe(200);
      }
    } finally {
      await client.close();
    }
  });

  it('keeps only the scheduled events whose Resources name this VM, with ISO times, and follows them to Started', async () => {
    const [me, other] = h.emu.vms as [string, string];
    const mine = await h.addEvent({ type: 'Reboot', resources: [me], notBefore: '+15m', lifecycle: 'manual', durationSeconds: 7 });
    const theirs = await h.addEvent({ type: 'Freeze', resources: [other], notBefore: '+15m', lifecycle: 'manual' });
    const client = h.azure();
    try {
      const before = Date.now();
      const snapshot = await client.readEvents();
      expect(snapshot.events.map((e) => e.id)).toEqual([mine.id]);
      const event = snapshot.events[0]!;
      expect(event).toMatchObject({ type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', source: 'Platform', durationSeconds: 7 });
      const notBefore = Date.parse(event.notBefore!);
      expect(notBefore).toBeGreaterThan(before + 14 * 60_000);
      expect(notBefore).toBeLessThan(before + 16 * 60_000);
      expect(typeof snapshot.incarnation).toBe('number');

      await h.control('POST', `/events/${mine.id}/start`);
      const started = await client.readEvents();
      expect(started.events[0]).toMatchObject({ id: mine.id, status: 'Started' });
      expect(started.events[0]!.notBefore).toBeUndefined();
      expect(started.incarnation!).toBeGreaterThan(snapshot.incarnation!);
    } finally {
      await client.close();
      await h.control('DELETE', `/events/${mine.id}`);
      await h.control('DELETE', `/events/${theirs.id}`);
    }
  });

  it('approves an event with StartRequests', async () => {
    const event = await h.addEvent({ type: 'Redeploy', resources: [h.vm], notBefore: '+10m', lifecycle: 'manual' });
    const client = h.azure();
    try {
      await client.readEvents();
      await client.approve(event.id);
      const events = (await h.control('GET', '/events')).json as { EventId?: string; id?: string; approved: boolean }[];
      const approved = events.find((e) => (e.EventId ?? e.id) === event.id);
      expect(approved?.approved).toBe(true);
      const post = (await h.requests()).find((r) => r.method === 'POST');
      expect(post?.path).toBe('/metadata/scheduledevents');
    } finally {
      await client.close();
      await h.control('DELETE', `/events/${event.id}`);
    }
  });

  it('refuses to approve an unknown event with a clear, unretried 400', async () => {
    const client = h.azure();
    try {
      const err = await caught(client.approve('00000000-0000-0000-0000-000000000000'));
      expect(err).toBeInstanceOf(MetadataError);
      expect(err.message).toMatch(/POST \/metadata\/scheduledevents.*HTTP 400/);
      expect((await h.requests()).filter((r) => r.method === 'POST')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  // The emulator, like IMDS, serves every primitive as a string (it refuses a number in a PATCH); an
  // object where a string belongs is what it can serve, and the corpus covers the rest.
  it('bounds a huge tag list and drops values of the wrong type, with warnings, without failing', async () => {
    const original = await h.state();
    const tags = Array.from({ length: 100 }, (_, i) => ({ name: `tag-${i}`, value: `a:${i};b` }));
    await h.control('PATCH', `/vms/${h.vm}`, { tags, instance: { vmSize: { sku: 'x' } } });
    const client = h.azure();
    try {
      const snapshot = await client.readInstance();
      expect(snapshot.tags).toHaveLength(64);
      expect(snapshot.tags![0]).toEqual({ name: 'tag-0', value: 'a:0;b' });
      expect(snapshot.instance.instanceType).toBeUndefined();
      expect(snapshot.instance.region).toBe('westeurope');
      expect(snapshot.warnings).toEqual(
        expect.arrayContaining([
          'compute.vmSize: expected a string, got an object; ignored',
          '36 tags beyond the first 64 dropped',
        ]),
      );
    } finally {
      await client.close();
      const compute = original.instance as Record<string, unknown>;
      await h.control('PATCH', `/vms/${h.vm}`, { tags: original.tags, instance: { vmSize: compute.vmSize } });
    }
  });

  it('falls back to a version the service lists when it refuses the pinned one (400 newest-versions)', async () => {
    const client = h.azure({ apiVersions: { instance: '2099-01-01' } });
    try {
      const { instance } = await client.readInstance();
      expect(instance.name).toBeDefined();
      expect(client.apiVersions().instance).not.toBe('2099-01-01');
      const log = await h.requests();
      expect(log.map((r) => r.status)).toEqual([400, 200]);
    } finally {
      await client.close();
    }
  });

  describe('faults', () => {
    // Statuses and faults both providers' clients handle alike (imds-harness.ts); 404 is final here.
    itKeepsTheRetryContract(() => h, [400, 404, 405]);

    it('reports a persistently truncated body as malformed, without quoting it', async () => {
      await h.fault({ kind: 'malformed', path: '/metadata/instance' });
      const client = h.azure();
      try {
        const err = await caught(client.readInstance());
        expect(err).toBeInstanceOf(MetadataError);
        expect(err.kind).toBe('malformed');
        expect(err.message).toMatch(/not valid JSON/);
        expect(err.message).not.toMatch(/userData|keyData|westeurope/);
      } finally {
        await client.close();
      }
    });
  });

  it('keeps under the emulator rate limit (5/s per VM) with the default budget, even with concurrent callers', async () => {
    const client = h.azure();
    try {
      await client.readInstance();
      await Promise.all(Array.from({ length: 9 }, () => client.readEvents()));
      const log = await h.requests();
      expect(log).toHaveLength(10);
      expect(log.filter((r) => r.status === 429)).toHaveLength(0);
    } finally {
      await client.close();
    }
  });
});
