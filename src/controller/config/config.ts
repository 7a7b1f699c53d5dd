// The controller's configuration: one YAML document (Helm renders it into a ConfigMap), validated
// against CONFIG_SCHEMA with clear, field-named messages, then turned into plain typed data
// (durations in milliseconds). See docs/configuration.md, generated from the schema.

import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import type { ProviderName } from '../../api/observation.js';
import type { MaintenanceEventType, NotificationTransition } from '../../api/nodemetadata.js';
import { CONFIG_SCHEMA, ConfigFormats } from './config-schema.js';
import { isTimeZone, type ApprovalWindow } from '../maintenance/approval-window.js';
import type { LabelSelector } from '../readiness/verdict.js';

export type EventAction = 'Drain' | 'Cordon' | 'Taint' | 'None';
export const EVENT_ACTIONS: readonly EventAction[] = ['Drain', 'Cordon', 'Taint', 'None'];

/** Event types acted on as soon as they are seen: their notice is seconds to minutes. */
export const IMMEDIATE_EVENT_TYPES: readonly MaintenanceEventType[] = ['Preempt', 'Terminate', 'SpotTermination'];
/** Planned maintenance: acted on `leadTime` before NotBefore. */
export const PLANNED_EVENT_TYPES: readonly MaintenanceEventType[] = ['Freeze', 'Reboot', 'Redeploy', 'Unknown'];

/**
 * What a drain does with a pod still on the node when only its grace period is left before NotBefore
 * (docs/maintenance.md, "The end of a blocked drain"): Wait (the default) or Delete.
 */
export type AtDeadline = 'Wait' | 'Delete';

/** Event types whose event takes the VM down: the only ones for which `atDeadline: Delete` means anything. */
export const VM_ENDING_EVENT_TYPES: readonly MaintenanceEventType[] = ['Reboot', 'Redeploy', 'Preempt', 'Terminate', 'SpotTermination'];

export interface EventRule {
  action: EventAction;
  /** Planned events only (0 for the immediate ones): how long before NotBefore the action starts. */
  leadTimeMs: number;
  atDeadline: AtDeadline;
}

export type EventRules = Record<MaintenanceEventType, EventRule>;

export interface PolicyConfig {
  events: EventRules;
  /** Per-provider overrides; a field left out keeps the general rule's value. */
  providers: Partial<Record<ProviderName, Partial<Record<MaintenanceEventType, Partial<EventRule>>>>>;
  /** Nodes by label selector, drained or only labelled and reported; the first match decides (decide/policy.ts). */
  nodeGroups: NodeGroup[];
}

export interface NodeGroup {
  name: string;
  nodeSelector: LabelSelector;
  drain: 'Enabled' | 'Disabled';
}

/** `maxConcurrentDrains`: a node count, or a percentage of the nodes nodemeta manages. */
export type DrainConcurrency = { count: number } | { percent: number };

export interface ControllerConfig {
  labels: {
    /** Exact tag names and glob patterns (`*`, `?`). */
    allowedTags: string[];
    standardTopology: boolean;
  };
  policy: PolicyConfig;
  drain: {
    maxConcurrentDrains: DrainConcurrency;
    maxGracePeriodMs: number;
    evictionTimeoutMs: number;
    waveSettleTimeMs: number;
    deleteEmptyDirData: boolean;
    forceUnmanagedPods: boolean;
    excludeFromLoadBalancers: boolean;
    /** After the load-balancer exclusion label and before the first eviction (docs/maintenance.md, "Load balancers first"); 0: no wait. */
    loadBalancerDrainDelayMs: number;
  };
  approve: 'AfterDrain' | 'Never';
  /** Empty: approve whenever the drain is done. */
  approvalWindows: ApprovalWindow[];
  outOfServiceTaint: boolean;
  uncordonAfterCompletion: boolean;
  /** Drain readiness (docs/maintenance.md, "Drain readiness"): a cluster-wide pod and PDB watch, condition DrainReady. */
  drainReadiness: { enabled: boolean };
  notifications: NotificationsConfig;
  /** Decide everything, write nothing to Nodes, evict nothing, ask for no approval (dry-run.ts). */
  dryRun: boolean;
}

export type NotificationFormat = 'generic' | 'slack' | 'teams';

/** Where a sink's webhook URL is read: it carries a token, so the configuration never holds it. */
export type UrlSource = { env: string } | { file: string };

export interface NotificationSinkConfig {
  name: string;
  format: NotificationFormat;
  transitions: NotificationTransition[];
  urlFrom: UrlSource;
  timeoutMs: number;
  maxAttempts: number;
  queueSize: number;
}

export interface NotificationsConfig {
  clusterName: string;
  sinks: NotificationSinkConfig[];
}

export type ConfigResult = { ok: true; config: ControllerConfig } | { ok: false; errors: string[] };

const DURATION = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;
const PERCENT = /^(100|[1-9][0-9]?)%$/;

/** `1h30m` → 5_400_000. Units h, m, s, ms in that order (Go's spelling); a bare `0` is zero. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = DURATION.exec(text);
  if (match === null || text === '') return undefined;
  const [, hours, minutes, seconds, millis] = match.map((part) => (part === undefined ? 0 : Number(part)));
  return ((hours! * 60 + minutes!) * 60 + seconds!) * 1000 + millis!;
}

/** The number of nodes that may drain at once out of `managedNodes`: percentages round up, never below 1. */
export function drainBudget(limit: DrainConcurrency, managedNodes: number): number {
  if ('count' in limit) return limit.count;
  return Math.max(1, Math.ceil((managedNodes * limit.percent) / 100));
}

/** Parses and validates a configuration document. An empty document gives the defaults. */
export function parseConfig(yamlText: string): ConfigResult {
  const document = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) return { ok: false, errors: document.errors.map((error) => `YAML: ${error.message.split('\n')[0]}`) };
  const raw: unknown = document.toJS() ?? {};
  const validate = compileValidator();
  if (!validate(raw)) return { ok: false, errors: describeErrors(validate.errors ?? []) };
  const refused = [...duplicateSinkNames(raw as RawConfig), ...deleteWithoutVmEnd(raw as RawConfig)];
  if (refused.length > 0) return { ok: false, errors: refused };
  return { ok: true, config: toConfig(raw as RawConfig) };
}

/** The configuration with nothing set; what an empty ConfigMap means. */
export const DEFAULT_CONFIG: ControllerConfig = deepFreeze(defaultConfig());

function defaultConfig(): ControllerConfig {
  const result = parseConfig('');
  if (!result.ok) throw new Error(`the configuration schema's defaults are invalid: ${result.errors.join('; ')}`);
  return result.config;
}

/** The defaults as the YAML document a user would write: for the docs and `--print-default-config`. */
export function defaultConfigDocument(): RawConfig {
  const raw = {};
  compileValidator()(raw);
  return raw as RawConfig;
}

// ---- validation ----

function compileValidator() {
  // Compiled per call: parsing happens at start-up and on file changes only, and keeping no
  // validator at module level keeps this module free of state.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addFormat(ConfigFormats.duration, { type: 'string', validate: (text: string) => parseDuration(text) !== undefined });
  ajv.addFormat(ConfigFormats.percent, { type: 'string', validate: (text: string) => PERCENT.test(text) });
  ajv.addFormat(ConfigFormats.timeZone, { type: 'string', validate: isTimeZone });
  return ajv.compile(CONFIG_SCHEMA);
}

const FORMAT_HELP: Record<string, string> = {
  [ConfigFormats.duration]: 'a duration such as 30s, 15m or 1h30m',
  [ConfigFormats.percent]: 'a number of nodes or a percentage from 1% to 100%, such as "10%"',
  [ConfigFormats.timeZone]: 'an IANA time zone such as UTC or Europe/Amsterdam',
};

function describeErrors(errors: ErrorObject[]): string[] {
  const messages = errors.flatMap((error) => describeError(error));
  return [...new Set(messages)];
}

function describeError(error: ErrorObject): string[] {
  const path = fieldPath(error.instancePath);
  // A webhook URL pasted where its source belongs carries a token: never echo it (into logs, Events).
  const got = /^\/notifications\/sinks\/\d+\/urlFrom\//.test(error.instancePath) ? 'a value not shown here' : describeValue(error.data);
  switch (error.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return [`${joinPath(path, key)}: unknown key (expected one of: ${allowed.join(', ')})`];
    }
    case 'enum':
      return [`${path}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')} (got ${got})`];
    case 'type': {
      const type = (error.params as { type: string | string[] }).type;
      const wanted = error.instancePath.endsWith('/maxConcurrentDrains') ? FORMAT_HELP[ConfigFormats.percent] : typeNames(type);
      return [`${path}: must be ${wanted} (got ${got})`];
    }
    case 'format': {
      const format = (error.params as { format: string }).format;
      return [`${path}: must be ${FORMAT_HELP[format] ?? `in ${format} format`} (got ${got})`];
    }
    case 'minimum':
      return [`${path}: must be at least ${(error.params as { limit: number }).limit} (got ${got})`];
    case 'uniqueItems':
      return [`${path}: must not list the same value twice (got ${got})`];
    case 'minLength':
      return [`${path}: must not be empty`];
    case 'minProperties':
    case 'maxProperties': {
      const keys = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return [`${path}: must set exactly one of ${keys.join(', ')} (got ${got})`];
    }
    case 'pattern':
      return [`${path}: must match ${(error.params as { pattern: string }).pattern} (got ${got})`];
    default:
      return [`${path}: ${error.message ?? 'is invalid'} (got ${got})`];
  }
}

/** `/policy/Reboot/action` → `policy.Reboot.action`; `/labels/allowedTags/0` → `labels.allowedTags[0]`. */
function fieldPath(instancePath: string): string {
  if (instancePath === '') return '(top level)';
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path === '' ? segment : `${path}.${segment}`), '');
}

function joinPath(path: string, key: string): string {
  return path === '(top level)' ? key : `${path}.${key}`;
}

function typeNames(type: string | string[]): string {
  const article: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false' };
  return (Array.isArray(type) ? type : [type]).map((t) => article[t] ?? t).join(' or ');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---- raw (YAML) → typed ----

interface RawRule {
  action?: EventAction;
  leadTime?: string;
  atDeadline?: AtDeadline;
}

/** The document after validation and defaulting: the YAML's shape, durations still as text. */
export interface RawConfig {
  labels: { allowedTags: string[]; standardTopology: boolean };
  policy: Record<MaintenanceEventType, RawRule> & { providers: Partial<Record<ProviderName, Partial<Record<MaintenanceEventType, RawRule>>>>; nodeGroups: NodeGroup[] };
  drain: { maxConcurrentDrains: number | string; maxGracePeriod: string; evictionTimeout: string; waveSettleTime: string; deleteEmptyDirData: boolean; forceUnmanagedPods: boolean; excludeFromLoadBalancers: boolean; loadBalancerDrainDelay: string };
  approve: 'AfterDrain' | 'Never';
  approvalWindows: ApprovalWindow[];
  outOfServiceTaint: boolean;
  uncordonAfterCompletion: boolean;
  drainReadiness: { enabled: boolean };
  dryRun: boolean;
  notifications: { clusterName: string; sinks: { name: string; format: NotificationFormat; transitions: NotificationTransition[]; urlFrom: UrlSource; timeout: string; maxAttempts: number; queueSize: number }[] };
}

function toConfig(raw: RawConfig): ControllerConfig {
  const eventTypes = [...PLANNED_EVENT_TYPES, ...IMMEDIATE_EVENT_TYPES];
  const events = Object.fromEntries(eventTypes.map((type) => [type, toRule(raw.policy[type])])) as EventRules;
  const providers: PolicyConfig['providers'] = {};
  for (const [provider, overrides] of Object.entries(raw.policy.providers) as [ProviderName, Partial<Record<MaintenanceEventType, RawRule>>][]) {
    providers[provider] = Object.fromEntries(Object.entries(overrides).map(([type, rule]) => [type, toPartialRule(rule)]));
  }
  const limit = raw.drain.maxConcurrentDrains;
  return {
    labels: { allowedTags: [...raw.labels.allowedTags], standardTopology: raw.labels.standardTopology },
    policy: { events, providers, nodeGroups: raw.policy.nodeGroups.map((group) => ({ name: group.name, nodeSelector: structuredClone(group.nodeSelector), drain: group.drain })) },
    drain: {
      maxConcurrentDrains: typeof limit === 'number' ? { count: limit } : { percent: Number(limit.slice(0, -1)) },
      maxGracePeriodMs: parseDuration(raw.drain.maxGracePeriod)!,
      evictionTimeoutMs: parseDuration(raw.drain.evictionTimeout)!,
      waveSettleTimeMs: parseDuration(raw.drain.waveSettleTime)!,
      deleteEmptyDirData: raw.drain.deleteEmptyDirData,
      forceUnmanagedPods: raw.drain.forceUnmanagedPods,
      excludeFromLoadBalancers: raw.drain.excludeFromLoadBalancers,
      loadBalancerDrainDelayMs: parseDuration(raw.drain.loadBalancerDrainDelay)!,
    },
    approve: raw.approve,
    outOfServiceTaint: raw.outOfServiceTaint,
    approvalWindows: raw.approvalWindows.map((window) => ({ days: [...window.days], start: window.start, end: window.end, timeZone: window.timeZone })),
    uncordonAfterCompletion: raw.uncordonAfterCompletion,
    drainReadiness: { enabled: raw.drainReadiness.enabled },
    dryRun: raw.dryRun,
    notifications: {
      clusterName: raw.notifications.clusterName,
      sinks: raw.notifications.sinks.map((sink) => ({
        name: sink.name,
        format: sink.format,
        transitions: [...sink.transitions],
        urlFrom: 'env' in sink.urlFrom ? { env: sink.urlFrom.env } : { file: sink.urlFrom.file },
        timeoutMs: parseDuration(sink.timeout)!,
        maxAttempts: sink.maxAttempts,
        queueSize: sink.queueSize,
      })),
    },
  };
}

/** Sink names are metric labels and keys: each once (JSON Schema cannot say "unique by name"). */
function duplicateSinkNames(raw: RawConfig): string[] {
  const first = new Map<string, number>();
  return raw.notifications.sinks.flatMap((sink, index) => {
    const earlier = first.get(sink.name);
    if (earlier === undefined) {
      first.set(sink.name, index);
      return [];
    }
    return [`notifications.sinks[${index}].name: "${sink.name}" is the name of notifications.sinks[${earlier}] already`];
  });
}

/**
 * `atDeadline: Delete` where the event does not take the VM down: a Freeze pauses the VM for
 * seconds and its pods survive, so deleting them would cause the outage the event does not
 * (docs/maintenance.md, "The end of a blocked drain"). The schema lets the key through so that the
 * message can say why.
 */
function deleteWithoutVmEnd(raw: RawConfig): string[] {
  const why = (path: string, type: string) => `${path}.atDeadline: Delete is not allowed for ${type}: the VM ${type === 'Freeze' ? 'is only paused for seconds and its pods survive' : 'is not taken down'}, so deleting them would cause the outage the event does not (Wait is allowed; Delete only for ${VM_ENDING_EVENT_TYPES.join(', ')})`;
  const errors: string[] = [];
  for (const [type, rule] of Object.entries(raw.policy) as [string, RawRule | undefined][]) {
    if (type === 'providers' || rule?.atDeadline !== 'Delete') continue;
    if (!VM_ENDING_EVENT_TYPES.includes(type as MaintenanceEventType)) errors.push(why(`policy.${type}`, type));
  }
  for (const [provider, overrides] of Object.entries(raw.policy.providers) as [string, Record<string, RawRule | undefined>][]) {
    for (const [type, rule] of Object.entries(overrides)) {
      if (rule?.atDeadline === 'Delete' && !VM_ENDING_EVENT_TYPES.includes(type as MaintenanceEventType)) errors.push(why(`policy.providers.${provider}.${type}`, type));
    }
  }
  return errors;
}

function toRule(rule: RawRule): EventRule {
  return { action: rule.action!, leadTimeMs: rule.leadTime === undefined ? 0 : parseDuration(rule.leadTime)!, atDeadline: rule.atDeadline ?? 'Wait' };
}

function toPartialRule(rule: RawRule): Partial<EventRule> {
  const partial: Partial<EventRule> = {};
  if (rule.action !== undefined) partial.action = rule.action;
  if (rule.leadTime !== undefined) partial.leadTimeMs = parseDuration(rule.leadTime)!;
  if (rule.atDeadline !== undefined) partial.atDeadline = rule.atDeadline;
  return partial;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
