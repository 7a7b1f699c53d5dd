// The Azure client against the emulator over real HTTP on 127.0.0.1: normalisation of what the
// service serves, filtering and approval of scheduled events, api-version fallback, every fault kind.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { MetadataError } from '../../src/agent/http/errors.js';
import { observeOnce } from '../../src/agent/observe.js';
import { systemClock } from '../../src/time/clock.js';
import { caught, FAST_RETRY, Harness, stringsIn } from './imds-harness.js';


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
    const EVENTS = '/metadata/scheduledevents';

    /** A warmed-up client (past the slow first scheduled-events call), then the fault, then a read. */
    async function eventsAfterFault(fault: Record<string, unknown>, options = {}) {
      const client = h.azure(options);
      await client.readEvents();
      await h.clearRequests();
      await h.fault({ path: EVENTS, ...fault });
      try {
        const result = await client.readEvents().then(
          (value) => ({ value, error: undefined }),
          (error: unknown) => ({ value: undefined, error: error as MetadataError }),
        );
        const log = (await h.requests()).filter((r) => r.path === EVENTS);
        return { ...result, log };
      } finally {
        await client.close();
      }
    }

    it.each([429, 500, 503])('retries HTTP %i and recovers', async (status) => {
      const r = await eventsAfterFault({ kind: 'status', status, count: 2 });
      expect(r.error).toBeUndefined();
      expect(r.log.map((x) => x.status)).toEqual([status, status, 200]);
    });

    it('retries 410 across a fault window and recovers', async () => {
      const r = await eventsAfterFault({ kind: 'status', status: 410, durationMs: 1_500 });
      expect(r.error).toBeUndefined();
      expect(r.log.filter((x) => x.status === 410).length).toBeGreaterThanOrEqual(2);
      expect(r.log.at(-1)!.status).toBe(200);
    });

    it('gives up on 410 once its window has passed, with a clear error', async () => {
      const r = await eventsAfterFault({ kind: 'status', status: 410 }, { retry: { ...FAST_RETRY, goneWindowMs: 1_200 } });
      expect(r.error).toBeInstanceOf(MetadataError);
      expect(r.error!.status).toBe(410);
      expect(r.error!.message).toMatch(/GET \/metadata\/scheduledevents\?api-version=2020-07-01: HTTP 410/);
      expect(r.error!.message).toMatch(/still gone: the 1\.2 s retry window after the first 410 is used up/);
      expect(r.log.length).toBeGreaterThan(2);
    });

    it('gives up on a persistent 500 after maxAttempts', async () => {
      const r = await eventsAfterFault({ kind: 'status', status: 500 });
      expect(r.error!.kind).toBe('http');
      expect(r.error!.message).toMatch(/HTTP 500.*6 attempts/);
      expect(r.log).toHaveLength(FAST_RETRY.maxAttempts);
    });

    it.each([400, 404, 405])('does not retry HTTP %i', async (status) => {
      const r = await eventsAfterFault({ kind: 'status', status, count: 1 });
      expect(r.error!.status).toBe(status);
      expect(r.log).toHaveLength(1);
    });

    it('retries a reset connection and recovers', async () => {
      const r = await eventsAfterFault({ kind: 'reset', count: 2 });
      expect(r.error).toBeUndefined();
      expect(r.log).toHaveLength(3);
    });

    it('reports a persistent reset as a connection error', async () => {
      const r = await eventsAfterFault({ kind: 'reset' });
      expect(r.error!.kind).toBe('connection');
      expect(r.error!.message).toMatch(/connection reset/);
    });

    it('times out a slow answer, retries, and recovers', async () => {
      const r = await eventsAfterFault({ kind: 'delay', delayMs: 1_500, count: 1 }, { requestTimeoutMs: 400 });
      expect(r.error).toBeUndefined();
      expect(r.value!.events).toBeDefined();
    });

    it('reports a persistently slow service as a timeout', async () => {
      const r = await eventsAfterFault({ kind: 'delay', delayMs: 1_000 }, { requestTimeoutMs: 300, operationTimeoutMs: 2_000 });
      expect(r.error!.kind).toBe('timeout');
      expect(r.error!.message).toMatch(/no answer within/);
    });

    it('retries a truncated body and recovers', async () => {
      const r = await eventsAfterFault({ kind: 'malformed', count: 1 });
      expect(r.error).toBeUndefined();
      // Normally 2 requests (the truncated one, then the good one). Once, under heavy machine load,
      // a third was seen with no fault left to explain it: still within the policy's 3 attempts for
      // malformed answers, but the cause is not understood yet (see the closing note of 2026-11-22).
      expect(r.log.length).toBeGreaterThanOrEqual(2);
      expect(r.log.length).toBeLessThanOrEqual(3);
      expect(r.log.at(-1)?.status).toBe(200);
    });

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
