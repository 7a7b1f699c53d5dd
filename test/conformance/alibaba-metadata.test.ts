// Alibaba Cloud ECS metadata service (seeds 002/003, IMDS.md): items and list formatting, normal
// and hardened access, token TTL bounds and errors, spot termination time, system events, tags;
// and what real clients need beyond the seeds: meta-data/all (cloud-init), 404 for every path that
// is not an item (Ohai), no invented throttle.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type Harness, startHarness } from './harness.js';

const TTL = 'X-aliyun-ecs-metadata-token-ttl-seconds';
const TOKEN = 'X-aliyun-ecs-metadata-token';

describe('Alibaba ECS metadata', () => {
  let h: Harness;
  let vm: string;
  const md = (item: string, headers: Record<string, string> = {}) => h.call(`/latest/meta-data/${item}`, { headers });
  const token = (ttl: string, extra: Record<string, string> = {}, prefix = '') =>
    h.call(`${prefix}/latest/api/token`, { method: 'PUT', headers: { [TTL]: ttl, ...extra } });

  beforeEach(async () => {
    h = await startHarness({ provider: 'alibaba', vms: 2 });
    vm = h.emulator.vms[0] as string;
  });
  afterEach(() => h.close());

  it('serves ACK-like default items as plain text', async () => {
    expect(vm).toBe('cn-hangzhou.192.168.0.10');
    const expectations: Record<string, RegExp> = {
      'region-id': /^cn-hangzhou$/,
      'zone-id': /^cn-hangzhou-h$/,
      'instance-id': /^i-bp1[0-9a-z]{17}$/,
      'instance/instance-type': /^ecs\.g7\.xlarge$/,
      'instance/instance-name': /^worker-k8s-for-cs-/,
      hostname: /^iZbp1[0-9a-z]{17}Z$/,
      'private-ipv4': /^192\.168\.0\.10$/,
      'network-type': /^vpc$/,
      mac: /^00:16:3e(:[0-9a-f]{2}){3}$/,
    };
    for (const [item, pattern] of Object.entries(expectations)) {
      const a = await md(item);
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(a.text).toMatch(pattern);
    }
  });

  it('lists directories one entry a line, "/" after sub-directories', async () => {
    const root = await md('');
    expect(root.status).toBe(200);
    const entries = root.text.split('\n');
    expect(entries).toEqual([...entries].sort());
    expect(entries).toEqual(expect.arrayContaining(['instance-id', 'region-id', 'zone-id', 'instance/', 'network/', 'dns-conf/', 'ram/']));
    const instance = (await md('instance/')).text.split('\n');
    expect(instance).toEqual(expect.arrayContaining(['instance-type', 'instance-name']));
    expect((await md('instance')).text).toBe((await md('instance/')).text);
    expect((await h.call('/latest/')).text.split('\n')).toEqual(['dynamic/', 'maintenance/', 'meta-data/', 'user-data']);
  });

  it('formats lists as the seeds show: private-ipv4s as JSON, nameservers one a line', async () => {
    const mac = (await md('mac')).text;
    const macs = await md('network/interfaces/macs/');
    expect(macs.text).toBe(`${mac}/`);
    const ips = await md(`network/interfaces/macs/${mac}/private-ipv4s`);
    expect(ips.status).toBe(200);
    expect(JSON.parse(ips.text)).toEqual(['192.168.0.10']);
    expect(ips.text).toBe('["192.168.0.10"]');
    expect((await md('dns-conf/nameservers')).text).toBe('100.100.2.136\n100.100.2.138');
    expect((await md(`network/interfaces/macs/${mac}/vpc-id`)).text).toMatch(/^vpc-/);
    const disks = (await md('disks/')).text;
    expect(disks).toMatch(/^bp1[0-9a-z]{17}\/$/);
  });

  it('answers 404 for an unknown item', async () => {
    expect((await md('no-such-item')).status).toBe(404);
    expect((await md('instance-id/')).status).toBe(404);
    expect((await h.call('/latest/nothing')).status).toBe(404);
  });

  it('holds the secret items (RAM credentials, public keys, user-data) with fake values', async () => {
    const roles = await md('ram/security-credentials/');
    expect(roles.status).toBe(200);
    const creds = await md(`ram/security-credentials/${roles.text}`);
    expect(creds.json<Record<string, string>>()).toMatchObject({ Code: 'Success', AccessKeyId: expect.stringMatching(/^STS\./) });
    expect((await md('public-keys/')).status).toBe(200);
    const userData = await h.call('/latest/user-data');
    expect(userData.status).toBe(200);
    expect(userData.text).toContain('fake-user-data-secret');
  });

  it('issues a token for a TTL from 1 to 21600 and serves items with it', async () => {
    for (const ttl of ['1', '21600', '180']) {
      const t = await token(ttl);
      expect(t.status).toBe(200);
      expect(t.text.length).toBeGreaterThan(20);
      expect((await md('instance-id', { [TOKEN]: t.text })).status).toBe(200);
    }
  });

  it('answers 400 to a TTL out of range or missing (0, 21601, 21700, abc)', async () => {
    for (const ttl of ['0', '21601', '21700', 'abc', '-5', '']) expect((await token(ttl)).status).toBe(400);
    expect((await h.call('/latest/api/token', { method: 'PUT' })).status).toBe(400);
  });

  it('answers 403 to a token request with X-Forwarded-For', async () => {
    const a = await token('60', { 'X-Forwarded-For': 'www.example.com' });
    expect(a.status).toBe(403);
  });

  it('answers 405 to anything but PUT on the token path', async () => {
    expect((await h.call('/latest/api/token')).status).toBe(405);
  });

  it('answers 401 to an invalid token and to an expired one (clock-driven)', async () => {
    expect((await md('instance-id', { [TOKEN]: 'aaa' })).status).toBe(401);
    const t = (await token('60')).text;
    h.clock.advance(59_999);
    expect((await md('instance-id', { [TOKEN]: t })).status).toBe(200);
    h.clock.advance(1);
    expect((await md('instance-id', { [TOKEN]: t })).status).toBe(401);
  });

  it('accepts a token only on its own instance', async () => {
    const other = h.emulator.vms[1] as string;
    const t = (await token('60', {}, `/vm/${other}`)).text;
    expect((await h.call(`/vm/${other}/latest/meta-data/instance-id`, { headers: { [TOKEN]: t } })).status).toBe(200);
    expect((await md('instance-id', { [TOKEN]: t })).status).toBe(401);
  });

  it('serves plain GETs in normal mode, and refuses them with 403 once hardened mode is the only mode', async () => {
    expect((await md('instance-id')).status).toBe(200);
    expect((await h.control('PATCH', `/vms/${vm}`, { hardenedOnly: true })).status).toBe(200);
    const refused = await md('instance-id');
    expect(refused.status).toBe(403);
    const t = (await token('60')).text;
    expect((await md('instance-id', { [TOKEN]: t })).status).toBe(200);
    expect((await md('instance-id', { [TOKEN]: 'forged' })).status).toBe(401);
  });

  it('answers 404 for spot/termination-time while safe, then the UTC time once reclamation is scheduled', async () => {
    expect((await md('instance/spot/termination-time')).status).toBe(404);
    expect((await h.control('PATCH', `/vms/${vm}`, { spot: { terminationTime: '+5m' } })).status).toBe(200);
    const a = await md('instance/spot/termination-time');
    expect(a.status).toBe(200);
    expect(a.text).toBe('2026-11-22T10:05:00Z');
    expect(a.text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    await h.control('PATCH', `/vms/${vm}`, { spot: { terminationTime: null } });
    expect((await md('instance/spot/termination-time')).status).toBe(404);
  });

  it('serves active system events to the instances they name', async () => {
    const none = await h.call('/latest/maintenance/active-system-events');
    expect(none.status).toBe(200);
    expect(none.json()).toEqual([]);
    await h.control('POST', '/events', { type: 'SystemMaintenance.Reboot', resources: [vm], notBefore: '2026-11-23T10:00:00Z', id: 'e-1' });
    const mine = await h.call('/latest/maintenance/active-system-events');
    expect(mine.json()).toEqual([{ Code: 'SystemMaintenance.Reboot', Id: 'e-1', NotBefore: '2026-11-23T10:00:00Z', Status: 'Scheduled' }]);
    const other = await h.call(`/vm/${h.emulator.vms[1]}/latest/maintenance/active-system-events`);
    expect(other.json()).toEqual([]);
    // By instance id too, and the default notice is 24 h.
    const id = (await h.call(`/vm/${h.emulator.vms[1]}/latest/meta-data/instance-id`)).text;
    await h.control('POST', '/events', { type: 'SystemMaintenance.Redeploy', resources: [id], id: 'e-2' });
    expect((await h.call(`/vm/${h.emulator.vms[1]}/latest/maintenance/active-system-events`)).json()).toEqual([
      { Code: 'SystemMaintenance.Redeploy', Id: 'e-2', NotBefore: '2026-11-23T10:00:00Z', Status: 'Scheduled' },
    ]);
    await h.control('POST', '/events/e-1/start');
    expect((await h.call('/latest/maintenance/active-system-events')).json<{ Status: string }[]>()[0]?.Status).toBe('Executing');
  });

  it('serves tags under tags/instance/ when enabled, 404 when not', async () => {
    const keys = await md('tags/instance/');
    expect(keys.status).toBe(200);
    expect(keys.text.split('\n')).toEqual(expect.arrayContaining(['team', 'maintenance-window']));
    expect((await md('tags/instance/team')).text).toBe('payments');
    expect((await md('tags/instance/maintenance-window')).text).toBe('sat 02:00-04:00;sun 02:00-04:00');
    await h.control('PATCH', `/vms/${vm}`, { tagsEnabled: false });
    expect((await md('tags/instance/')).status).toBe(404);
    expect((await md('tags/instance/team')).status).toBe(404);
  });

  it('serves a tag key holding "/" under its path, also when percent-encoded', async () => {
    expect((await md('tags/instance/ack.alibabacloud.com/nodepool-id')).text).toMatch(/^np/);
    expect((await md('tags/instance/ack.alibabacloud.com%2Fnodepool-id')).text).toMatch(/^np/);
  });

  it('lists a tag key holding "/" as directories, like every path in the tree (seed 002: "disks/")', async () => {
    // The key is the path below tags/instance/: its first segment is a directory of the listing, and
    // that directory's listing holds the rest. Nothing lists the directory as a value.
    expect((await md('tags/instance/')).text.split('\n')).toEqual(['ack.alibabacloud.com/', 'ack.aliyun.com', 'maintenance-window', 'team']);
    expect((await md('tags/instance/ack.alibabacloud.com/')).text).toBe('nodepool-id');
    expect((await md('tags/instance/ack.alibabacloud.com')).text).toBe('nodepool-id');
    await h.control('PATCH', `/vms/${vm}`, { tags: [{ name: 'a/b/c', value: '1' }, { name: 'a/d', value: '2' }] });
    expect((await md('tags/instance/')).text).toBe('a/');
    expect((await md('tags/instance/a/')).text.split('\n')).toEqual(['b/', 'd']);
    expect((await md('tags/instance/a/b/')).text).toBe('c');
    expect((await md('tags/instance/a/b/c')).text).toBe('1');
    expect((await md('tags/instance/a/d/')).status).toBe(404);
  });

  it('takes only tag keys it can serve as paths: no empty, "." or ".." segment, no key that is another\'s directory', async () => {
    for (const names of [['a//b'], ['a/'], ['/a'], ['a/./b'], ['..'], ['a', 'a/b'], ['x/y', 'x/y/z']]) {
      const tags = names.map((name) => ({ name, value: 'v' }));
      const r = await h.control('PATCH', `/vms/${vm}`, { tags });
      expect([names, r.status]).toEqual([names, 400]);
      expect(r.json<{ error: string }>().error).toMatch(/^tags\[\d\]\.name: (must be a path below tags\/instance\/|clashes with tag)/);
    }
    // Refused whole: the VM keeps its tags.
    expect((await md('tags/instance/team')).text).toBe('payments');
    // Any other character is part of a segment: served percent-encoded.
    await h.control('PATCH', `/vms/${vm}`, { tags: [{ name: 'k8s.io/a b#c', value: 'v' }] });
    expect((await md('tags/instance/k8s.io/')).text).toBe('a b#c');
    expect((await md('tags/instance/k8s.io/a%20b%23c')).text).toBe('v');
  });

  it('logs requests with the token value redacted', async () => {
    const t = (await token('60')).text;
    await md('instance-id', { [TOKEN]: t });
    const log = (await h.control('GET', `/vms/${vm}/requests`)).json<{ method: string; path: string; status: number; headers: Record<string, string> }[]>();
    expect(log.map((e) => [e.method, e.path, e.status])).toEqual([
      ['PUT', '/latest/api/token', 200],
      ['GET', '/latest/meta-data/instance-id', 200],
    ]);
    expect(log[0]?.headers['x-aliyun-ecs-metadata-token-ttl-seconds']).toBe('60');
    expect(log[1]?.headers['x-aliyun-ecs-metadata-token']).toBe('<redacted>');
    expect(JSON.stringify(log)).not.toContain(t);
  });

  it('serves the instance identity document as JSON', async () => {
    const a = await h.call('/latest/dynamic/instance-identity/document');
    expect(a.status).toBe(200);
    expect(a.json()).toMatchObject({ 'region-id': 'cn-hangzhou', 'zone-id': 'cn-hangzhou-h', 'instance-type': 'ecs.g7.xlarge', 'instance-id': expect.stringMatching(/^i-bp1/) });
  });

  it('answers 405 to methods other than GET on items', async () => {
    expect((await h.call('/latest/meta-data/instance-id', { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('throttles frequent access per instance with 429 when a rate limit is set', async () => {
    await h.control('PATCH', '/settings', { rateLimitPerSecond: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await md('instance-id')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  describe('meta-data/all: the whole tree as one JSON document', () => {
    type Tree = { [key: string]: Tree | string | string[] };

    /** Every leaf item path, found the way a crawler finds them: listings, "/" after directories. */
    async function walkItems(dir = ''): Promise<string[]> {
      const listing = await md(dir);
      expect(listing.status).toBe(200);
      const paths: string[] = [];
      for (const entry of listing.text.split('\n')) {
        if (entry.endsWith('/')) paths.push(...(await walkItems(`${dir}${entry}`)));
        else paths.push(`${dir}${entry}`);
      }
      return paths;
    }

    function leavesOf(tree: Tree, prefix = ''): string[] {
      return Object.entries(tree).flatMap(([key, value]) =>
        typeof value === 'string' || Array.isArray(value) ? [`${prefix}${key}`] : leavesOf(value, `${prefix}${key}/`),
      );
    }

    function at(tree: Tree, path: string): Tree | string | string[] | undefined {
      let node: Tree | string | string[] | undefined = tree;
      for (const segment of path.split('/')) node = typeof node === 'object' && !Array.isArray(node) ? node[segment] : undefined;
      return node;
    }

    it('agrees with every item path: same leaves, same values, lists as lists, directories as objects', async () => {
      await h.control('PATCH', `/vms/${vm}`, { spot: { terminationTime: '+5m' } });
      const all = await md('all');
      expect(all.status).toBe(200);
      expect(all.headers.get('content-type')).toMatch(/^application\/json/);
      const tree = all.json<Tree>();

      const items = await walkItems();
      expect(items.length).toBeGreaterThan(40);
      expect(leavesOf(tree).sort()).toEqual([...items].sort());
      for (const item of items) {
        const text = (await md(item)).text;
        const value = at(tree, item);
        if (Array.isArray(value)) {
          // The item text of a list: one value a line, or a JSON list where the seeds show one.
          expect(value.every((v) => typeof v === 'string')).toBe(true);
          expect(item.endsWith('private-ipv4s') ? JSON.stringify(value) : value.join('\n')).toBe(text);
        } else {
          expect(value).toBe(text);
        }
      }
      // The shape cloud-init's AliYun datasource reads: nested objects keyed by path segments.
      const mac = (await md('mac')).text;
      expect(tree).toMatchObject({
        'instance-id': (await md('instance-id')).text,
        'region-id': 'cn-hangzhou',
        'zone-id': 'cn-hangzhou-h',
        instance: { 'instance-type': 'ecs.g7.xlarge', spot: { 'termination-time': '2026-11-22T10:05:00Z' } },
        'dns-conf': { nameservers: ['100.100.2.136', '100.100.2.138'] },
        network: { interfaces: { macs: { [mac]: { 'private-ipv4s': ['192.168.0.10'], 'vpc-id': expect.stringMatching(/^vpc-/) } } } },
        tags: { instance: { team: 'payments', 'ack.alibabacloud.com': { 'nodepool-id': expect.stringMatching(/^np/) } } },
      });
      // Not an item of the tree: the listing does not show it.
      expect((await md('')).text.split('\n')).not.toContain('all');
    });

    it('follows the VM: a patched item, tags turned off', async () => {
      await h.control('PATCH', `/vms/${vm}`, { instance: { 'zone-id': 'cn-hangzhou-k' }, tagsEnabled: false });
      const tree = (await md('all')).json<Tree>();
      expect(tree['zone-id']).toBe('cn-hangzhou-k');
      expect(tree.tags).toBeUndefined();
      expect(tree).not.toHaveProperty(['instance', 'spot']);
    });

    it('is served under the dated version too, and only at its own path', async () => {
      const latest = await h.call('/latest/meta-data/all');
      const dated = await h.call('/2016-01-01/meta-data/all');
      expect(dated.status).toBe(200);
      expect(dated.json()).toEqual(latest.json());
      for (const path of ['/latest/meta-data/all/', '/latest/meta-data/instance/all', '/latest/all', '/2017-01-01/meta-data/all']) {
        expect((await h.call(path)).status).toBe(404);
      }
      expect((await h.callRaw('/latest/meta-data/all#x')).status).toBe(404);
      // No item may take its name.
      expect((await h.control('PATCH', `/vms/${vm}`, { instance: { all: 'x' } })).status).toBe(400);
    });

    it('follows the token rules of hardened mode, as every meta-data path', async () => {
      await h.control('PATCH', `/vms/${vm}`, { hardenedOnly: true });
      expect((await md('all')).status).toBe(403);
      expect((await md('all', { [TOKEN]: 'forged' })).status).toBe(401);
      const t = (await token('60')).text;
      const a = await md('all', { [TOKEN]: t });
      expect(a.status).toBe(200);
      expect(a.json<Tree>()['instance-id']).toBe((await md('instance-id', { [TOKEN]: t })).text);
      h.clock.advance(60_000);
      expect((await md('all', { [TOKEN]: t })).status).toBe(401);
      // Another instance's token is unknown here.
      const other = (await token('60', {}, `/vm/${h.emulator.vms[1]}`)).text;
      expect((await md('all', { [TOKEN]: other })).status).toBe(401);
    });
  });

  describe('a path that is not an item is 404', () => {
    it('a leaf followed by "/" (a client taking a multi-line value for a listing must not recurse)', async () => {
      for (const path of [
        '/latest/user-data/',
        '/latest/meta-data/instance-id/',
        '/latest/meta-data/hostname/',
        '/latest/meta-data/dns-conf/nameservers/',
        '/latest/meta-data/tags/instance/team/',
        '/latest/dynamic/instance-identity/document/',
        '/latest/maintenance/active-system-events/',
        '/2016-01-01/user-data/',
      ]) {
        expect([path, (await h.call(path)).status]).toEqual([path, 404]);
      }
      expect((await h.call('/latest/user-data/#!/bin/bash')).status).toBe(404);
      expect((await h.call('/latest/user-data/%23!/bin/bash')).status).toBe(404);
      // The same leaves without "/" are served.
      for (const path of ['/latest/user-data', '/latest/meta-data/hostname', '/latest/dynamic/instance-identity/document', '/latest/maintenance/active-system-events']) {
        expect([path, (await h.call(path)).status]).toEqual([path, 200]);
      }
    });

    it('a leaf followed by "#..." in the raw request target (not a fragment to strip)', async () => {
      for (const target of ['/latest/meta-data/instance-id#x', '/latest/user-data#', '/latest/meta-data/instance/instance-type#/x', '/latest/dynamic/instance-identity/document#x']) {
        expect([target, (await h.callRaw(target)).status]).toEqual([target, 404]);
      }
      expect((await h.callRaw('/latest/meta-data/instance-id')).status).toBe(200);
      expect((await h.callRaw(`/vm/${vm}/latest/meta-data/instance-id#x`)).status).toBe(404);
      // Token path: PUT to anything but the exact path gets no token.
      const put = (path: string) => h.call(path, { method: 'PUT', headers: { [TTL]: '60' } });
      expect((await put('/latest/api/token/')).status).toBe(405);
      expect((await put('/latest/api/token')).status).toBe(200);
    });

    it('a directory answers with or without "/", the same listing', async () => {
      for (const dir of ['/latest/meta-data', '/latest/meta-data/instance', '/latest/meta-data/tags/instance', '/latest/dynamic', '/latest/maintenance', '/latest']) {
        const bare = await h.call(dir);
        const slashed = await h.call(`${dir}/`);
        expect([dir, bare.status, slashed.status]).toEqual([dir, 200, 200]);
        expect(slashed.text).toBe(bare.text);
      }
      expect((await h.callRaw('/latest/meta-data/instance/#x')).status).toBe(404);
    });

    it('takes the raw request target: no dot segments resolved, an absolute-form target served by its path', async () => {
      expect((await h.callRaw('/latest/meta-data/instance/../instance-id')).status).toBe(404);
      const absolute = await h.callRaw(`${h.url}/latest/meta-data/instance-id`);
      expect(absolute.status).toBe(200);
      expect(absolute.text).toBe((await md('instance-id')).text);
    });
  });
});

describe('Alibaba ECS metadata: throttling', () => {
  it('is off by default: Alibaba publishes no figure, so the emulator invents none', async () => {
    const { startEmulator } = await import('../../src/emulator/emulator.js');
    const emu = await startEmulator({ provider: 'alibaba' });
    try {
      expect(emu.fleet.settings.rateLimitPerSecond).toBe(0);
      const statuses = new Set<number>();
      for (let i = 0; i < 60; i++) statuses.add((await fetch(`${emu.url}/latest/meta-data/instance-id`)).status);
      expect([...statuses]).toEqual([200]);
    } finally {
      await emu.close();
    }
  });
});
