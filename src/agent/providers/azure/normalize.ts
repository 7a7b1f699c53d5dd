import type { InstanceInfo, InstanceSnapshot, Priority } from '../../../api/observation.js';
import { boundTags, describeType, isPlainObject, PayloadError, textField, Warnings } from '../validation.js';

/**
 * Azure's `/metadata/instance/compute` document → InstanceSnapshot. Only the fields below are read,
 * one by one; nothing else of the document (osProfile, publicKeys, userData, customData...) can reach
 * the observation, the cluster or a log line.
 */
export interface AzureComputeResult {
  snapshot: InstanceSnapshot;
  /** `compute.name`: how this VM is named in scheduled events' `Resources`. */
  vmName: string | undefined;
}

const PRIORITIES: Record<string, Priority> = { regular: 'regular', spot: 'spot', low: 'low' };

export function normalizeAzureCompute(compute: unknown): AzureComputeResult {
  if (!isPlainObject(compute)) throw new PayloadError(`compute document is ${describeType(compute)}, expected an object`);
  const w = new Warnings();
  const field = (name: string): string | undefined => textField(compute[name], `compute.${name}`, w);

  // Documents from real VMs spell some locations in mixed case ("SwedenCentral"); AKS labels nodes
  // topology.kubernetes.io/region=swedencentral, and nodemeta's region and zone must equal AKS's.
  const location = field('location')?.toLowerCase();
  const zone = field('zone');
  const instance: InstanceInfo = {};
  assign(instance, 'id', field('vmId'));
  assign(instance, 'name', field('name'));
  assign(instance, 'region', location);
  if (zone !== undefined) {
    // Azure's zone is a bare number ("2"); across regions only `<location>-<zone>` is unique, the same
    // form as the well-known topology.kubernetes.io/zone label on AKS (`swedencentral-2`).
    if (location !== undefined) instance.zone = `${location}-${zone}`;
    else w.add('compute.zone: present without compute.location; ignored');
  }
  assign(instance, 'faultDomain', field('platformFaultDomain'));
  assign(instance, 'updateDomain', field('platformUpdateDomain'));
  assign(instance, 'subFaultDomain', field('platformSubFaultDomain'));
  assign(instance, 'instanceType', field('vmSize'));
  const priority = field('priority');
  if (priority !== undefined) {
    const p = PRIORITIES[priority.toLowerCase()];
    if (p) instance.priority = p;
    else w.add(`compute.priority: unknown value "${priority.slice(0, 40)}"; ignored`);
  }
  assign(instance, 'evictionPolicy', field('evictionPolicy'));
  assign(instance, 'scaleSet', field('vmScaleSetName'));
  assign(instance, 'resourceGroup', field('resourceGroupName'));

  const tags = normalizeTagsList(compute.tagsList, w);
  const snapshot: InstanceSnapshot = { instance, tags };
  const warnings = w.result();
  if (warnings) snapshot.warnings = warnings;
  return { snapshot, vmName: instance.name };
}

/**
 * `tagsList` (api-version 2019-06-04 and later): `[{"name": ..., "value": ...}]`. The older `tags`
 * string ("k1:v1;k2:v2") is never parsed: a tag holding `;` or `:` makes it ambiguous.
 */
export function normalizeTagsList(tagsList: unknown, w: Warnings): InstanceSnapshot['tags'] {
  if (tagsList === undefined) {
    w.add('compute.tagsList: absent (api-version older than 2019-06-04?); tags unknown');
    return undefined;
  }
  if (!Array.isArray(tagsList)) {
    w.add(`compute.tagsList: expected a list, got ${describeType(tagsList)}; tags unknown`);
    return undefined;
  }
  const entries: { name: unknown; value: unknown }[] = [];
  for (const entry of tagsList) {
    if (isPlainObject(entry)) entries.push({ name: entry.name, value: entry.value });
    else w.add(`compute.tagsList: an entry is ${describeType(entry)}, expected an object; dropped`);
  }
  return boundTags(entries, w);
}

function assign<K extends keyof InstanceInfo>(target: InstanceInfo, key: K, value: InstanceInfo[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
