// Alibaba's data rules for the fleet: default ACK nodes, item patches, system-event rules.

import { randomUUID } from 'node:crypto';
import type { ProviderModel } from '../provider-model.js';
import { alnumFrom } from '../fake-ids.js';
import { DEFAULT_ALIBABA_TAGS, defaultAlibabaItems, defaultAlibabaVmName } from './defaults.js';
import { ALL_ITEMS } from './items.js';
import { expectObject, InputError } from '../validation.js';

const ITEM_PATH = /^[A-Za-z0-9._:@-]+(\/[A-Za-z0-9._:@-]+)*$/;
/** Served from the VM's own state (tags, spot), or by the service itself (`all`: the whole tree). */
const RESERVED = [/^tags(\/|$)/, /^instance\/spot\/termination-time$/, new RegExp(`^${ALL_ITEMS}(/|$)`)];

function isPrefixOf(dir: string, path: string): boolean {
  return path.startsWith(`${dir}/`);
}

export const alibabaModel: ProviderModel = {
  provider: 'alibaba',
  // Alibaba throttles "frequent" access without publishing a figure (seed 003, 使用限制), so the
  // emulator does not invent one: off unless a test or scenario sets an assumed limit.
  defaultRateLimitPerSecond: 0,
  defaultVmName: defaultAlibabaVmName,
  defaultVm(name, index) {
    return {
      instance: defaultAlibabaItems(name, index),
      network: {},
      tags: DEFAULT_ALIBABA_TAGS.map((t) => ({ ...t })),
      tagsEnabled: true,
    };
  },
  checkInstancePatch(patch, field, current) {
    const body = expectObject(patch, field);
    const next = { ...current };
    for (const [path, value] of Object.entries(body)) {
      const at = `${field}["${path}"]`;
      if (!ITEM_PATH.test(path) || path.split('/').some((s) => s === '.' || s === '..')) throw new InputError(at, 'must be a meta-data item path such as "zone-id" or "instance/instance-type"');
      if (RESERVED.some((r) => r.test(path))) throw new InputError(at, 'is served from "tags"/"spot" or by the service ("all"): not an item to set');
      if (value === null) {
        delete next[path];
        continue;
      }
      const ok = typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
      if (!ok) throw new InputError(at, 'must be a string, a list of strings, or null to remove the item');
      next[path] = value;
    }
    // An item cannot be both a value and a directory of other items.
    const paths = Object.keys(next);
    for (const path of Object.keys(body)) {
      if (body[path] === null) continue;
      const clash = paths.find((other) => isPrefixOf(path, other) || isPrefixOf(other, path));
      if (clash) throw new InputError(`${field}["${path}"]`, `clashes with item "${clash}" (an item cannot also be a directory)`);
    }
    return body;
  },
  mergeInstance(current, patch) {
    const out = { ...current };
    for (const [path, value] of Object.entries(patch)) {
      if (value === null) delete out[path];
      else out[path] = structuredClone(value);
    }
    return out;
  },
  checkNetwork(_value, field) {
    throw new InputError(field, 'is Azure-only: Alibaba network items are instance items (network/interfaces/macs/...)');
  },
  // A tag is the item tags/instance/<key>, so a key holding "/" is a path (ACK's
  // ack.alibabacloud.com/nodepool-id: the directory ack.alibabacloud.com/ holding nodepool-id). A key
  // that can be no path (an empty, "." or ".." segment), or that is also another key's directory
  // (a and a/b), could only be served by inventing how: how the service shows one is undocumented.
  checkTags(tags, field) {
    tags.forEach((tag, i) => {
      const at = `${field}[${i}].name`;
      if (tag.name.split('/').some((s) => s === '' || s === '.' || s === '..')) {
        throw new InputError(at, 'must be a path below tags/instance/: no empty, "." or ".." segment between "/"');
      }
      const clash = tags.find((other) => isPrefixOf(tag.name, other.name) || isPrefixOf(other.name, tag.name));
      if (clash) throw new InputError(at, `clashes with tag "${clash.name}" (a tag key cannot also be the directory of another)`);
    });
  },
  nativeNames(_name, instance) {
    const id = instance['instance-id'];
    return typeof id === 'string' && id ? [id] : [];
  },
  events: {
    types: undefined,
    statuses: { Scheduled: 'Scheduled', Started: 'Started', Executing: 'Started' },
    // System maintenance is planned 24-48 h ahead (IMDS.md, outside the seeds).
    minNoticeMs: () => 24 * 3_600_000,
    defaultDurationSeconds: () => 60,
    defaultDescription: (type) => `System event ${type}`,
    newId: () => `e-bp1${alnumFrom(randomUUID(), 17)}`,
  },
};
