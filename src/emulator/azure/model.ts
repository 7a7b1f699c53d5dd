// Azure's data rules for the fleet: default AKS nodes, compute patches, scheduled-event rules.

import { randomUUID } from 'node:crypto';
import type { ProviderModel } from '../provider-model.js';
import { DEFAULT_AZURE_TAGS, defaultAzureVm, defaultAzureVmName } from './defaults.js';
import { expectObject, InputError, isPlainObject } from '../validation.js';

export const AZURE_EVENT_TYPES = ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'] as const;

// Minimum notice per type (IMDS.md, "Scheduled events": Freeze and Reboot 15 min, Redeploy 10 min,
// Preempt about 30 s, Terminate 5 min at least).
const MIN_NOTICE_MS: Record<string, number> = {
  Freeze: 15 * 60_000,
  Reboot: 15 * 60_000,
  Redeploy: 10 * 60_000,
  Preempt: 30_000,
  Terminate: 5 * 60_000,
};
const DEFAULT_DURATION_S: Record<string, number> = { Freeze: 5, Reboot: 7, Redeploy: 30, Preempt: -1, Terminate: -1 };
const DESCRIPTIONS: Record<string, string> = {
  Freeze: 'Virtual machine is being paused because of a memory-preserving Live Migration operation.',
  Reboot: 'Virtual machine is going to be restarted because the host is undergoing maintenance.',
  Redeploy: 'Virtual machine is going to be redeployed to another host because of a hardware fault.',
  Preempt: 'Spot virtual machine is being evicted.',
  Terminate: 'Virtual machine is being deleted from its scale set.',
};

/** Compute fields served from the VM's tag list, not stored with the other fields. */
const RENDERED_FIELDS = ['tags', 'tagsList'];

function checkComputeValue(value: unknown, field: string, allowNull: boolean): void {
  if (value === null) {
    if (!allowNull) throw new InputError(field, 'null is allowed only to remove an object field');
    return;
  }
  if (typeof value === 'string') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkComputeValue(item, `${field}[${i}]`, false));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) checkComputeValue(child, `${field}.${key}`, true);
    return;
  }
  // Seed 000: "Dans les réponses JSON, toutes les primitives sont de type string."
  throw new InputError(field, 'must be a string (IMDS serves every primitive as a string), an object or a list');
}

function deepMerge(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = deepMerge(out[key] as Record<string, unknown>, value);
    else out[key] = structuredClone(value);
  }
  return out;
}

export const azureModel: ProviderModel = {
  provider: 'azure',
  defaultRateLimitPerSecond: 5,
  defaultVmName: defaultAzureVmName,
  defaultVm(name, index) {
    const { compute, network } = defaultAzureVm(name, index);
    return { instance: compute, network, tags: DEFAULT_AZURE_TAGS.map((t) => ({ ...t })), tagsEnabled: true };
  },
  checkInstancePatch(patch, field) {
    const body = expectObject(patch, field);
    for (const [key, value] of Object.entries(body)) {
      if (RENDERED_FIELDS.includes(key)) {
        throw new InputError(`${field}.${key}`, 'is rendered from the VM\'s "tags" list: set "tags" instead');
      }
      checkComputeValue(value, `${field}.${key}`, true);
    }
    return body;
  },
  mergeInstance: deepMerge,
  checkNetwork(value, field) {
    const network = expectObject(value, field);
    if (!Array.isArray(network.interface)) throw new InputError(`${field}.interface`, 'must be a list of network interfaces');
    for (const [key, child] of Object.entries(network)) checkComputeValue(child, `${field}.${key}`, false);
    return structuredClone(network);
  },
  // Tags are JSON name/value pairs in the document: any name can be served.
  checkTags() {},
  nativeNames(_name, instance) {
    return typeof instance.name === 'string' && instance.name ? [instance.name] : [];
  },
  events: {
    types: AZURE_EVENT_TYPES,
    statuses: { Scheduled: 'Scheduled', Started: 'Started' },
    minNoticeMs: (type) => MIN_NOTICE_MS[type] ?? 15 * 60_000,
    defaultDurationSeconds: (type) => DEFAULT_DURATION_S[type] ?? -1,
    defaultDescription: (type) => DESCRIPTIONS[type] ?? '',
    newId: () => randomUUID(),
  },
};
