// The Alibaba client against the emulator over real HTTP on 127.0.0.1: hardened and normal modes,
// token renewal, tags, spot termination, system events, every fault kind.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { MetadataError } from '../../src/agent/http/errors.js';
import { systemClock } from '../../src/time/clock.js';
import { DEFAULT_RETRY_POLICY } from '../../src/agent/http/retry.js';
import { observeOnce } from '../../src/agent/observe.js';
import { ManualClock } from '../../src/emulator/clock.js';
import { caught, FAST_RETRY, Harness, itKeepsTheRetryContract, stringsIn } from './imds-harness.js';


// Every request goes through the agent's real budget (2/s): a test with a dozen requests takes seconds.
jest.setTimeout(60_000);
// meta-data/all is the whole tree, RAM credentials included.
const FORBIDDEN = /ram\/security-credentials|public-keys|user-data|meta-data\/all/;
const TOKEN = 'x-aliyun-ecs-metadata-token';

/** The normalised instance the client must make of the emulator's meta-data items. */
function instanceFromItems(items: Record<string, string>) {
  return { id: items['instance-id'], region: items['region-id'], zone: items['zone-id'], instanceType: items['instance/instance-type'], name: items['instance/instance-name'], hostname: items.hostname };
}

describe('Alibaba ECS metadata client against the emulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start('alibaba');
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(async () => {
    await h.clearFaults();
    await h.clearRequests();
    await h.control('PATCH', `/vms/${h.vm}`, { hardenedOnly: false, tagsEnabled: false, spot: { terminationTime: null } });
  });

  it('reads the instance in hardened mode: one token, sent on every GET, never an X-Forwarded-For', async () => {
    const client = h.alibaba();
    try {
      const { instance, tags } = await client.readInstance();
      await client.readEvents();
      const items = (await h.state()).instance as Record<string, string>;
      expect(instance).toEqual(instanceFromItems(items));
      expect(tags).toBeUndefined(); // not asked for
      const log = await h.requests();
      const puts = log.filter((r) => r.method === 'PUT');
      expect(puts).toHaveLength(1);
      expect(puts[0]!.path).toBe('/latest/api/token');
      expect(Number(puts[0]!.headers['x-aliyun-ecs-metadata-token-ttl-seconds'])).toBeGreaterThan(0);
      for (const r of log) {
        expect(r.headers['x-forwarded-for']).toBeUndefined();
        expect(r.path).not.toMatch(FORBIDDEN);
        if (r.method === 'GET') expect(r.headers[TOKEN]).toBeDefined();
      }
    } finally {
      await client.close();
    }
  });

  it('prints no secret the instance holds (RAM credentials, keys, user data)', async () => {
    const client = h.alibaba({ readTags: true });
    await h.control('PATCH', `/vms/${h.vm}`, { tagsEnabled: true });
    try {
      const text = JSON.stringify(await observeOnce(client, systemClock));
      const items = (await h.state()).instance as Record<string, unknown>;
      const secrets = Object.entries(items)
        .filter(([path]) => FORBIDDEN.test(path))
        .flatMap(([, value]) => stringsIn(value))
        .filter((s) => s.length > 8);
      expect(secrets.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/secret|AccessKey|SecurityToken/i);
      for (const r of await h.requests()) expect(r.path).not.toMatch(FORBIDDEN);
    } finally {
      await client.close();
    }
  });

  it('normal mode: plain GETs, no token', async () => {
    const client = h.alibaba({ mode: 'normal' });
    try {
      await client.readInstance();
      const log = await h.requests();
      expect(log.filter((r) => r.method === 'PUT')).toHaveLength(0);
      for (const r of log) expect(r.headers[TOKEN]).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('normal mode on a hardened-only instance: a clear 403 saying what to change', async () => {
    await h.control('PATCH', `/vms/${h.vm}`, { hardenedOnly: true });
    const client = h.alibaba({ mode: 'normal' });
    try {
      const err = await caught(client.readInstance());
      expect(err).toBeInstanceOf(MetadataError);
      expect(err.message).toMatch(/HTTP 403.*--alibaba-mode hardened/);
      expect(await h.requests()).toHaveLength(1);
    } finally {
      await client.close();
    }
    const hardened = h.alibaba();
    try {
      await expect(hardened.readInstance()).resolves.toBeDefined();
    } finally {
      await hardened.close();
    }
  });

  it('reads tags when the owner exposes them (";" and ":" intact), and treats 404 as "not exposed"', async () => {
    const client = h.alibaba({ readTags: true });
    try {
      expect((await client.readInstance()).tags).toBeUndefined();
      const tags = [
        { name: 'team', value: 'payments' },
        { name: 'window', value: 'sat 02:00-04:00;sun 02:00-04:00' },
      ];
      await h.control('PATCH', `/vms/${h.vm}`, { tagsEnabled: true, tags });
      const read = (await client.readInstance()).tags;
      expect(read).toEqual(expect.arrayContaining(tags));
      expect(read).toHaveLength(2);
    } finally {
      await client.close();
    }
  });

  it('reads a tag key holding "/" (ACK\'s ack.alibabacloud.com/nodepool-id) whole, through its directory', async () => {
    const client = h.alibaba({ readTags: true });
    try {
      const tags = [
        { name: 'ack.aliyun.com', value: 'c5f3a0e1' },
        { name: 'ack.alibabacloud.com/nodepool-id', value: 'np1a2b3c' },
        { name: 'k8s.io/cluster-autoscaler/node-template/label/pool', value: 'spot' },
      ];
      await h.control('PATCH', `/vms/${h.vm}`, { tagsEnabled: true, tags });
      await h.clearRequests();
      const snapshot = await client.readInstance();
      expect(snapshot.tags).toEqual(expect.arrayContaining(tags));
      expect(snapshot.tags).toHaveLength(tags.length);
      expect(snapshot.warnings).toBeUndefined();
      const paths = (await h.requests()).filter((r) => r.method === 'GET').map((r) => r.path.replace('/latest/meta-data/tags/instance/', 'T/'));
      expect(paths.filter((p) => p.startsWith('T/'))).toEqual([
        'T/',
        'T/ack.alibabacloud.com/',
        'T/k8s.io/',
        'T/k8s.io/cluster-autoscaler/',
        'T/k8s.io/cluster-autoscaler/node-template/',
        'T/k8s.io/cluster-autoscaler/node-template/label/',
        'T/ack.aliyun.com',
        'T/ack.alibabacloud.com/nodepool-id',
        'T/k8s.io/cluster-autoscaler/node-template/label/pool',
      ]);
    } finally {
      await client.close();
    }
  });

  it('reads the spot termination time, and its absence (404) as no termination', async () => {
    const client = h.alibaba();
    try {
      expect((await client.readEvents()).spot).toBeUndefined();
      await h.control('PATCH', `/vms/${h.vm}`, { spot: { terminationTime: '2026-11-22T10:05:00Z' } });
      expect((await client.readEvents()).spot).toEqual({ terminationTime: '2026-11-22T10:05:00.000Z' });
    } finally {
      await client.close();
    }
  });

  it('reads active system events, maps known codes, keeps unknown ones and the raw text', async () => {
    const reboot = await h.addEvent({ type: 'SystemMaintenance.Reboot', resources: [h.vm], notBefore: '+24h', lifecycle: 'manual' });
    const odd = await h.addEvent({ type: 'SystemMaintenance.IsolateErrorDisk', resources: [h.vm], notBefore: '+48h', lifecycle: 'manual' });
    const elsewhere = await h.addEvent({ type: 'SystemMaintenance.Redeploy', resources: [h.emu.vms[1]], lifecycle: 'manual' });
    const client = h.alibaba();
    try {
      const snapshot = await client.readEvents();
      const byId = new Map(snapshot.events.map((e) => [e.id, e]));
      expect(byId.get(reboot.id)).toMatchObject({ type: 'Reboot', rawType: 'SystemMaintenance.Reboot', status: 'Scheduled' });
      expect(byId.get(odd.id)).toMatchObject({ type: 'Unknown', rawType: 'SystemMaintenance.IsolateErrorDisk' });
      expect(byId.has(elsewhere.id)).toBe(false);
      expect(Date.parse(byId.get(reboot.id)!.notBefore!)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
      expect(snapshot.rawSystemEvents).toContain('SystemMaintenance.Reboot');
    } finally {
      await client.close();
      for (const e of [reboot, odd, elsewhere]) await h.control('DELETE', `/events/${e.id}`);
    }
  });

  it('has no way to approve an event, and says so', async () => {
    const client = h.alibaba();
    try {
      const err = await caught(client.approve('e-123'));
      expect(err).toBeInstanceOf(MetadataError);
      expect(err.kind).toBe('unsupported');
    } finally {
      await client.close();
    }
  });

  describe('faults', () => {
    // Statuses and faults both providers' clients handle alike (imds-harness.ts); 404 on the events is
    // an answer here (no events), and 403 is final.
    itKeepsTheRetryContract(() => h, [400, 403, 405]);

    it('renews the token once on 401 and recovers', async () => {
      const r = await h.eventsAfterFault({ kind: 'status', status: 401, count: 1 });
      expect(r.error).toBeUndefined();
      expect(r.log.map((x) => x.status)).toEqual([401, 200]);
      expect((await h.requests()).filter((x) => x.method === 'PUT')).toHaveLength(1);
    });

    it('reports a persistent 401 clearly, without the token', async () => {
      const r = await h.eventsAfterFault({ kind: 'status', status: 401 });
      expect(r.error!.status).toBe(401);
      expect(r.error!.message).toMatch(/HTTP 401.*even with a fresh token/);
      expect(r.log).toHaveLength(2);
    });

    it('treats 404 on active-system-events as no events', async () => {
      const r = await h.eventsAfterFault({ kind: 'status', status: 404, count: 1 });
      expect(r.value!.events).toEqual([]);
    });

    it('delivers the events whole after a truncated answer; reports a persistent one as malformed', async () => {
      await h.addEvent({ type: 'SystemMaintenance.Reboot', resources: [h.vm], lifecycle: 'manual', id: 'e-truncation' });
      try {
        const ok = await h.eventsAfterFault({ kind: 'malformed', count: 1 });
        expect(ok.error).toBeUndefined();
        expect(ok.value!.events.map((e) => e.id)).toEqual(['e-truncation']);
        await h.clearFaults();
        const bad = await h.eventsAfterFault({ kind: 'malformed' });
        expect(bad.error!.kind).toBe('malformed');
        expect(bad.error!.message).toMatch(/not valid JSON/);
      } finally {
        await h.control('DELETE', '/events/e-truncation');
      }
    });
  });
});

describe('Alibaba token lifetime', () => {
  it('gets a new token when the service says the old one expired (401), then goes on', async () => {
    const clock = new ManualClock(Date.now());
    const h = await Harness.start('alibaba', { clock, settings: { rateLimitPerSecond: 0 } });
    const client = h.alibaba({ tokenTtlSeconds: 3_600 });
    try {
      await client.readEvents();
      clock.advance(3_601_000); // the emulator's token expires; the client's clock has not moved
      await client.readEvents();
      const log = await h.requests();
      expect(log.filter((r) => r.method === 'PUT')).toHaveLength(2);
      expect(log.filter((r) => r.status === 401)).toHaveLength(1);
    } finally {
      await client.close();
      await h.close();
    }
  });

  it('renews the token before it runs out, without a 401', async () => {
    const h = await Harness.start('alibaba');
    const client = h.alibaba({ tokenTtlSeconds: 1 });
    try {
      await client.readEvents();
      await new Promise((r) => setTimeout(r, 1_100));
      await client.readEvents();
      const log = await h.requests();
      expect(log.filter((r) => r.method === 'PUT')).toHaveLength(2);
      expect(log.filter((r) => r.status === 401)).toHaveLength(0);
    } finally {
      await client.close();
      await h.close();
    }
  });
});

describe('Alibaba client under a throttle (Alibaba publishes no figure: correct at any limit)', () => {
  it('reads the whole instance, tags and events under a throttle below its budget (3/s against 8/s): every 429 retried, nothing lost', async () => {
    const h = await Harness.start('alibaba', { settings: { rateLimitPerSecond: 3 } });
    const client = h.alibaba({ readTags: true, retry: DEFAULT_RETRY_POLICY });
    try {
      const tags = [{ name: 'team', value: 'payments' }, { name: 'maintenance-window', value: 'sat 02:00-04:00;sun 02:00-04:00' }];
      await h.control('PATCH', `/vms/${h.vm}`, { tags, tagsEnabled: true, spot: { terminationTime: '+5m' } });
      const snapshot = await client.readInstance();
      const events = await client.readEvents();
      const state = await h.state();
      const items = state.instance as Record<string, string>;
      expect(snapshot.instance).toEqual(instanceFromItems(items));
      expect(snapshot.tags).toEqual(expect.arrayContaining(tags));
      expect(snapshot.tags).toHaveLength(tags.length);
      expect(snapshot.warnings).toBeUndefined();
      expect(Date.parse(events.spot?.terminationTime ?? '')).toBe(Date.parse((state.spot as { terminationTime: string }).terminationTime));
      // The throttle did bite.
      expect((await h.requests()).filter((r) => r.status === 429).length).toBeGreaterThan(0);
    } finally {
      await client.close();
      await h.close();
    }
  });

  it('fails with the 429 rather than answer a partial instance when the throttle outlasts its retries', async () => {
    const h = await Harness.start('alibaba', { settings: { rateLimitPerSecond: 1 } });
    const client = h.alibaba({ retry: { ...FAST_RETRY, maxAttempts: 2 } });
    try {
      const err = await caught(client.readInstance());
      expect(err).toBeInstanceOf(MetadataError);
      expect(err).toMatchObject({ kind: 'http', status: 429 });
    } finally {
      await client.close();
      await h.close();
    }
  });
});
