// The keys of an instance's tags, read from the `tags/instance/` listing.
//
// The metadata items form a path tree (seeds 002/003: a directory lists its entries one a line, a
// sub-directory with "/" after it, as `disks/` and `curl .../latest/meta-data/` show), and a tag is
// the item at `tags/instance/<key>` (IMDS.md). So a key holding "/" is a path of several segments:
// ACK's `ack.alibabacloud.com/nodepool-id` is listed as the directory `ack.alibabacloud.com/`, whose
// own listing holds `nodepool-id`. A key is therefore the whole path below `tags/instance/`, found by
// walking the directories, never a listing entry with its "/" cut off (which read the directory's
// listing as the value: `ack.alibabacloud.com=nodepool-id`). An entry listed whole
// (`a/b` without a trailing "/") is a key too.

import { hasControlCharacters } from '../../../api/text.js';
import { LIMITS, type Warnings } from '../validation.js';

/** Reads one directory below `tags/instance/` (`dir` ends in "/"); undefined when it is gone (404). */
export type ReadTagDirectory = (dir: string) => Promise<string | undefined>;

/**
 * One listing (lines, or a JSON list) of the directory `dir` below `tags/instance/` ("" for
 * `tags/instance/` itself, else ending in "/") → its entries as paths below `tags/instance/`: a key,
 * or a directory still ending in "/". Entries that are no path below `dir` ("." or ".." segments, an
 * empty segment, control characters) or longer than a tag name may be are dropped with a warning:
 * the agent requests nothing outside `tags/instance/`.
 */
export function parseTagListing(text: string, dir: string, w: Warnings): string[] {
  let entries: unknown[];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      entries = Array.isArray(parsed) ? parsed : [];
    } catch {
      w.add(`tags/instance/${dir}: looks like JSON but is not; read as lines`);
      entries = trimmed.split(/\r?\n/);
    }
  } else {
    entries = trimmed.split(/\r?\n/);
  }
  const out: string[] = [];
  for (const e of entries) {
    if (typeof e !== 'string') continue;
    const entry = e.trim();
    if (entry === '') continue;
    const isDirectory = entry.endsWith('/');
    const key = `${dir}${isDirectory ? entry.slice(0, -1) : entry}`;
    if (key.length > LIMITS.maxTagNameLength || hasControlCharacters(key)) {
      w.add(`tag key of ${key.length} characters, too long or with control characters; dropped`);
      continue;
    }
    if (key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
      w.add(`tags/instance/${dir}: entry "${entry}" is not a path below it; dropped`);
      continue;
    }
    out.push(isDirectory ? `${key}/` : key);
  }
  return out;
}

/**
 * Every tag key, from the `tags/instance/` listing and, for keys holding "/", the listings of its
 * directories (read one after another, breadth first). Bounded: LIMITS.maxTags keys, and as many
 * directory reads (each directory holds at least one key), so a listing can never make the agent
 * send more requests than a full set of tags would.
 */
export async function listTagKeys(rootListing: string, readDirectory: ReadTagDirectory, w: Warnings): Promise<string[]> {
  const keys: string[] = [];
  const seen = new Set<string>();
  const directories: string[] = [];
  let directoriesRead = 0;
  let overflow = 0;
  const take = (listing: string, dir: string) => {
    for (const entry of parseTagListing(listing, dir, w)) {
      if (seen.has(entry)) continue;
      seen.add(entry);
      if (entry.endsWith('/')) directories.push(entry);
      else if (keys.length < LIMITS.maxTags) keys.push(entry);
      else overflow += 1;
    }
  };
  take(rootListing, '');
  while (directories.length > 0 && keys.length < LIMITS.maxTags && directoriesRead < LIMITS.maxTags) {
    const dir = directories.shift() as string;
    directoriesRead += 1;
    const listing = await readDirectory(dir);
    // 404: the tag went away between the two listings.
    if (listing !== undefined) take(listing, dir);
  }
  if (overflow > 0) w.add(`${overflow} tags beyond the first ${LIMITS.maxTags} not read`);
  if (directories.length > 0) w.add(`${directories.length} directories of tag keys holding "/" not read (limit: ${LIMITS.maxTags} tags, ${LIMITS.maxTags} directories)`);
  return keys;
}

/** The request path of a key or directory below `tags/instance/`: each segment percent-encoded, "/" kept. */
export function tagItemPath(tagsPath: string, relative: string): string {
  return `${tagsPath}${relative.split('/').map(encodeURIComponent).join('/')}`;
}
