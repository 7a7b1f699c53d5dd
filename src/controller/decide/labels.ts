// Node labels derived from a node's observation, and the plan for writing them.
//
// Ownership: the controller writes labels with server-side apply under its own field manager
// (nodemeta-controller), always applying the full set it wants. The API server then records in
// managedFields exactly which label keys that manager owns, and an apply that leaves out a key it
// owned removes that label, unless another manager also owns it, in which case only our claim
// goes. That is the "own exactly what you wrote" rule enforced by the API server itself, surviving
// restarts and failovers, with no annotation of our own to keep consistent. So:
// - "owned" = the label keys in the nodemeta-controller Apply entry of the Node's managedFields
//   (ownedLabelKeys);
// - the apply body is the full desired set, minus keys another writer set first (we never take a
//   label over), plus, while the caches are cold, every key we own (so nothing is removed on an
//   incomplete view of the world);
// - the caller applies with force=false: a conflict (someone else set the key in the meantime) is
//   an error to retry from a fresh read, never an overwrite.
// Note for the callers: this manager's Apply entry must only ever be written with labels. Cordon
// and taints go through JSON patches (operation Update), which keeps them out of this entry; an
// apply of other fields under the same manager would drop every label left out of it.

import { ConditionReasons } from '../../api/event-reasons.js';
import { Conditions, FIELD_MANAGER_CONTROLLER, Labels, StandardLabels, TAG_LABEL_PREFIX } from '../../api/names.js';
import type { ConditionUpdate } from '../../api/nodemetadata.js';
import type { Observation } from '../../api/observation.js';
import type { ControllerConfig } from '../config/config.js';

export interface InvalidLabel {
  key: string;
  value: string;
  reason: string;
}

export interface DesiredLabels {
  /** nodemeta.io/* and tag.nodemeta.io/* labels. */
  labels: Record<string, string>;
  /** topology.kubernetes.io/* labels, written only where the node lacks them (or we wrote them). */
  standard: Record<string, string>;
  /** Values and tag names that cannot be labels: skipped and reported; the rest still applies. */
  invalid: InvalidLabel[];
}

const LABEL_NAME = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_LABEL_LENGTH = 63;

/** Why `value` is not a valid label value, or undefined if it is. Empty is valid. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > MAX_LABEL_LENGTH) return `longer than ${MAX_LABEL_LENGTH} characters`;
  if (!LABEL_NAME.test(value)) return 'must be alphanumeric, with -, _ or . inside';
  return undefined;
}

/** Why `key` is not a valid label key (a qualified name: optional DNS-subdomain prefix, then a name), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return 'prefix must be a DNS subdomain';
  if (name === '') return 'name must not be empty';
  if (name.length > MAX_LABEL_LENGTH) return `name longer than ${MAX_LABEL_LENGTH} characters`;
  if (!LABEL_NAME.test(name)) return 'name must be alphanumeric, with -, _ or . inside';
  return undefined;
}

/**
 * A tag name as the name part of a label key: characters a label name cannot hold become `-`,
 * and non-alphanumerics at either end are dropped (`cost center` → `cost-center`,
 * `k8s.io/role` → `k8s.io-role`). Never truncated: a cut name could mean another tag.
 */
export function sanitizeTagName(name: string): string {
  return name.replace(/[^-A-Za-z0-9_.]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** A matcher for the allow-list: exact names and globs (`*` any run, `?` one character), case-sensitive. */
export function tagAllowList(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((pattern) => !/[*?]/.test(pattern)));
  const globs = patterns.filter((pattern) => /[*?]/.test(pattern)).map(globToRegExp);
  return (name) => exact.has(name) || globs.some((glob) => glob.test(name));
}

function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

const INSTANCE_LABELS: readonly [string, (observation: Observation) => string | undefined][] = [
  [Labels.provider, (o) => o.provider],
  [Labels.region, (o) => o.instance.region],
  [Labels.zone, (o) => o.instance.zone],
  [Labels.faultDomain, (o) => o.instance.faultDomain],
  [Labels.updateDomain, (o) => o.instance.updateDomain],
  [Labels.subFaultDomain, (o) => o.instance.subFaultDomain],
  [Labels.instanceType, (o) => o.instance.instanceType],
  [Labels.priority, (o) => o.instance.priority],
];

/**
 * The labels a node should carry. No observation (no NodeMetadata status yet) means no labels.
 * An instance value is labelled only when non-empty and valid; a tag only when allow-listed, with
 * a usable name and a valid value (an empty tag value is kept: a tag can be a bare marker).
 */
export function desiredLabels(observation: Observation | undefined, config: ControllerConfig['labels']): DesiredLabels {
  const result: DesiredLabels = { labels: {}, standard: {}, invalid: [] };
  if (observation === undefined) return result;

  for (const [key, read] of INSTANCE_LABELS) {
    const value = read(observation);
    if (value === undefined || value === '') continue;
    const problem = labelValueProblem(value);
    if (problem === undefined) result.labels[key] = value;
    else result.invalid.push({ key, value, reason: problem });
  }

  addTagLabels(observation, config.allowedTags, result);

  if (config.standardTopology) {
    for (const [key, value] of [
      [StandardLabels.region, observation.instance.region],
      [StandardLabels.zone, observation.instance.zone],
    ] as const) {
      if (value === undefined || value === '') continue;
      if (labelValueProblem(value) === undefined) result.standard[key] = value;
      // An invalid value is already reported under its nodemeta.io/ key.
    }
  }
  return result;
}

function addTagLabels(observation: Observation, allowedTags: readonly string[], result: DesiredLabels): void {
  if (allowedTags.length === 0 || observation.tags === undefined) return;
  const allowed = tagAllowList(allowedTags);
  const byKey = new Map<string, { name: string; value: string }[]>();
  for (const tag of observation.tags) {
    if (!allowed(tag.name)) continue;
    const key = `${TAG_LABEL_PREFIX}${sanitizeTagName(tag.name)}`;
    const keyProblem = labelKeyProblem(key);
    if (keyProblem !== undefined) {
      result.invalid.push({ key: `${TAG_LABEL_PREFIX}${tag.name}`, value: tag.value, reason: `tag name unusable as a label: ${keyProblem}` });
      continue;
    }
    const valueProblem = labelValueProblem(tag.value);
    if (valueProblem !== undefined) {
      result.invalid.push({ key, value: tag.value, reason: valueProblem });
      continue;
    }
    byKey.set(key, [...(byKey.get(key) ?? []), tag]);
  }
  for (const [key, tags] of byKey) {
    if (tags.length === 1) {
      result.labels[key] = tags[0]!.value;
      continue;
    }
    // Two tags that sanitize to one key (`cost center`, `cost-center`): picking one would be a guess.
    const names = tags.map((tag) => JSON.stringify(tag.name)).join(', ');
    for (const tag of tags) result.invalid.push({ key, value: tag.value, reason: `tags ${names} map to the same label` });
  }
}

export interface LabelPlan {
  /** The labels to apply (SSA, field manager nodemeta-controller): the full set the controller claims. */
  apply: Record<string, string>;
  /** Labels the apply adds or changes. */
  set: Record<string, string>;
  /** Owned labels the apply leaves out, which the API server will then remove (or release, if co-owned). */
  remove: string[];
  /** Desired labels left alone because another writer set them first. */
  skipped: InvalidLabel[];
  /** Whether a write is needed at all. */
  changed: boolean;
}

export interface PlanOptions {
  /** False until the informers have synced: then nothing is removed, only added or updated. */
  cacheWarm: boolean;
}

/**
 * What to apply to a node's labels, given its current labels and the keys nodemeta-controller owns.
 * Applying `apply` and planning again from the result gives `changed: false`.
 */
export function planLabelChanges(
  current: Readonly<Record<string, string>> | undefined,
  owned: ReadonlySet<string>,
  desired: DesiredLabels,
  options: PlanOptions,
): LabelPlan {
  const labels = current ?? {};
  const isForeign = (key: string) => key in labels && !owned.has(key);
  const apply: Record<string, string> = {};
  const skipped: InvalidLabel[] = [];

  for (const [key, value] of Object.entries(desired.labels)) {
    if (!isForeign(key)) apply[key] = value;
    else if (labels[key] !== value) skipped.push({ key, value, reason: `already set to ${JSON.stringify(labels[key])} by another writer` });
  }
  // Standard labels fill a gap only: whatever set them (usually the cloud provider) stays in charge.
  for (const [key, value] of Object.entries(desired.standard)) {
    if (!isForeign(key)) apply[key] = value;
  }
  if (!options.cacheWarm) {
    for (const key of owned) if (!(key in apply) && key in labels) apply[key] = labels[key]!;
  }

  const set = Object.fromEntries(Object.entries(apply).filter(([key, value]) => labels[key] !== value));
  const remove = [...owned].filter((key) => key in labels && !(key in apply)).sort();
  return { apply, set, remove, skipped, changed: Object.keys(set).length > 0 || remove.length > 0 };
}

/** managedFields entry, as in metav1.ManagedFieldsEntry. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** The label keys the given manager owns through server-side apply (its Apply entry in managedFields). */
export function ownedLabelKeys(managedFields: readonly ManagedFieldsEntry[] | undefined, manager: string = FIELD_MANAGER_CONTROLLER): Set<string> {
  const owned = new Set<string>();
  for (const entry of managedFields ?? []) {
    if (entry.manager !== manager || entry.operation !== 'Apply' || (entry.subresource ?? '') !== '') continue;
    const metadata = entry.fieldsV1?.['f:metadata'] as Record<string, unknown> | undefined;
    const labels = metadata?.['f:labels'] as Record<string, unknown> | undefined;
    for (const field of Object.keys(labels ?? {})) if (field.startsWith('f:')) owned.add(field.slice(2));
  }
  return owned;
}

export interface NodeLabelsApply {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string; labels: Record<string, string> };
}

/** The server-side apply body for a node's labels (nothing else: see the note on ownership above). */
export function labelApplyBody(nodeName: string, apply: Record<string, string>): NodeLabelsApply {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels: { ...apply } } };
}

/** The Labeled condition for a plan: False with the first few problems when any label was skipped. */
export function labeledCondition(desired: DesiredLabels, plan: LabelPlan, observedGeneration?: number): ConditionUpdate {
  const problems = [...desired.invalid, ...plan.skipped];
  const base = observedGeneration === undefined ? {} : { observedGeneration };
  if (problems.length === 0) {
    const count = Object.keys(plan.apply).length;
    return { ...base, type: Conditions.labeled, status: 'True', reason: ConditionReasons.LabelsApplied, message: `${count} label${count === 1 ? '' : 's'} applied` };
  }
  const shown = problems.slice(0, 5).map((problem) => `${problem.key}=${JSON.stringify(truncate(problem.value, 80))}: ${problem.reason}`);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return {
    ...base,
    type: Conditions.labeled,
    status: 'False',
    reason: desired.invalid.length > 0 ? ConditionReasons.InvalidLabels : ConditionReasons.LabelsOwnedElsewhere,
    message: `skipped ${problems.length}: ${shown.join('; ')}${more}`,
  };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
