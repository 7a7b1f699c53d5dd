import { describe, expect, it } from '@jest/globals';
import { listTagKeys, parseTagListing, tagItemPath } from '../../../src/agent/providers/alibaba/tag-keys.js';
import { LIMITS, Warnings } from '../../../src/agent/providers/validation.js';

/** A tags/instance/ tree as the service lists it: directory (relative, ending in "/") → listing. */
function reader(tree: Record<string, string>) {
  const read: string[] = [];
  return {
    read,
    readDirectory: (dir: string) => {
      read.push(dir);
      return Promise.resolve(tree[dir]);
    },
  };
}

describe('Alibaba tag keys', () => {
  it('parses a listing (lines or JSON): keys, and directories with their "/"', () => {
    const w = new Warnings();
    expect(parseTagListing('team\nack.alibabacloud.com/\n\nteam\n', '', w)).toEqual(['team', 'ack.alibabacloud.com/', 'team']);
    expect(parseTagListing('["a","b/"]', '', w)).toEqual(['a', 'b/']);
    expect(parseTagListing('nodepool-id\nsub/', 'ack.alibabacloud.com/', w)).toEqual(['ack.alibabacloud.com/nodepool-id', 'ack.alibabacloud.com/sub/']);
    // Listed whole, without a trailing "/": a key holding "/", read at its path.
    expect(parseTagListing('a/b', '', w)).toEqual(['a/b']);
    expect(w.result()).toBeUndefined();
  });

  it('drops entries that are no path below tags/instance/, so nothing outside it is ever requested', () => {
    const w = new Warnings();
    expect(parseTagListing('../../ram/security-credentials/\n./x\na//b\n/abs\nok', '', w)).toEqual(['ok']);
    expect(parseTagListing('..', 'dir/', w)).toEqual([]);
    expect(w.result()).toHaveLength(5);
    expect(w.result()?.[0]).toMatch(/entry "..\/..\/ram\/security-credentials\/" is not a path below it; dropped/);
  });

  it('drops keys too long or with control characters, the directory prefix counted', () => {
    const w = new Warnings();
    const dir = `${'d'.repeat(LIMITS.maxTagNameLength - 2)}/`;
    expect(parseTagListing('ab\na', dir, w)).toEqual([`${dir}a`]);
    expect(parseTagListing('bell\u0007', '', w)).toEqual([]);
    expect(w.result()).toEqual([
      `tag key of ${LIMITS.maxTagNameLength + 1} characters, too long or with control characters; dropped`,
      'tag key of 5 characters, too long or with control characters; dropped',
    ]);
  });

  it('walks a key holding "/" through its directories: ACK\'s ack.alibabacloud.com/nodepool-id', async () => {
    const w = new Warnings();
    const r = reader({ 'ack.alibabacloud.com/': 'nodepool-id', 'a/': 'b/\nc', 'a/b/': 'd' });
    const keys = await listTagKeys('ack.aliyun.com\nack.alibabacloud.com/\nteam\na/', r.readDirectory, w);
    expect(keys).toEqual(['ack.aliyun.com', 'team', 'ack.alibabacloud.com/nodepool-id', 'a/c', 'a/b/d']);
    expect(r.read).toEqual(['ack.alibabacloud.com/', 'a/', 'a/b/']);
    expect(w.result()).toBeUndefined();
  });

  it('skips a directory gone between two listings (404) and reads each entry once', async () => {
    const w = new Warnings();
    const r = reader({});
    expect(await listTagKeys('team\ngone/\nteam\ngone/', r.readDirectory, w)).toEqual(['team']);
    expect(r.read).toEqual(['gone/']);
  });

  it('reads at most LIMITS.maxTags keys and as many directories, and says what it left', async () => {
    const w = new Warnings();
    const many = Array.from({ length: 200 }, (_, i) => `k${i}`).join('\n');
    expect(await listTagKeys(many, reader({}).readDirectory, w)).toHaveLength(LIMITS.maxTags);
    expect(w.result()).toEqual([`136 tags beyond the first ${LIMITS.maxTags} not read`]);

    // A service listing a directory inside every directory, forever: the walk still ends.
    const w2 = new Warnings();
    const endless = { read: [] as string[], readDirectory: (dir: string) => (endless.read.push(dir), Promise.resolve('x/\ny/')) };
    expect(await listTagKeys('x/', endless.readDirectory, w2)).toEqual([]);
    expect(endless.read).toHaveLength(LIMITS.maxTags);
    expect(w2.result()?.[0]).toMatch(/directories of tag keys holding "\/" not read/);
  });

  it('builds request paths segment by segment, "/" kept and everything else percent-encoded', () => {
    const base = '/latest/meta-data/tags/instance/';
    expect(tagItemPath(base, 'ack.alibabacloud.com/nodepool-id')).toBe(`${base}ack.alibabacloud.com/nodepool-id`);
    expect(tagItemPath(base, 'a/')).toBe(`${base}a/`);
    expect(tagItemPath(base, 'x y#?%')).toBe(`${base}x%20y%23%3F%25`);
  });
});
