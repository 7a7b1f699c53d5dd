// What the fleet needs to know about a provider's data: its default VMs, how its native instance
// fields are patched, and its event rules. The HTTP side of each provider lives in its service.ts.

import type { ProviderName, Tag } from '../api/observation.js';
import type { EventRules } from './events.js';

export interface VmData {
  /** Azure: the `compute` object; Alibaba: meta-data item path → value (a list for list items). */
  instance: Record<string, unknown>;
  /** Azure: the `network` object; Alibaba: unused ({}). */
  network: Record<string, unknown>;
  tags: Tag[];
  tagsEnabled: boolean;
}

export interface ProviderModel {
  readonly provider: ProviderName;
  readonly events: EventRules;
  readonly defaultRateLimitPerSecond: number;
  defaultVmName(index: number): string;
  defaultVm(name: string, index: number): VmData;
  /** Validates an `instance` patch against the current fields; throws InputError. */
  checkInstancePatch(patch: unknown, field: string, current: Record<string, unknown>): Record<string, unknown>;
  /** Applies a checked patch (null removes a field). */
  mergeInstance(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown>;
  /** Validates a `network` value (Azure); throws InputError. */
  checkNetwork(value: unknown, field: string): Record<string, unknown>;
  /** Validates tag names beyond parseTags (names the service could not serve); throws InputError. */
  checkTags(tags: Tag[], field: string): void;
  /** The names an event's Resources may use for this VM besides its fleet name. */
  nativeNames(name: string, instance: Record<string, unknown>): string[];
}
