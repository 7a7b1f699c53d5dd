// nodemeta's taints on a Node, and the conflict-checked write that changes them.
//
// Every taint whose key starts with `nodemeta.io/` is nodemeta's, and only those (docs/architecture.md, "Public contract").
// spec.taints is an atomic list in the Node API (no per-entry merge in server-side apply or
// strategic merge), so changing our entries means writing the whole list; to avoid dropping a
// taint another writer added in between, the write carries a JSON-patch `test` of the list we
// based it on and is retried from a fresh read on failure.
// nodemeta never sets NoExecute: moving pods off a node is the drain's job, through the Eviction
// API, which honours PodDisruptionBudgets; a NoExecute taint would bypass them.

import { LABEL_PREFIX, Taints } from '../../api/names.js';
import { SPOT_TERMINATION } from '../../api/nodemetadata.js';
import { rfc3339Seconds } from '../../time/rfc3339.js';
import type { JsonPatchOperation } from './patch-ops.js';
import type { PlannedAction } from './policy.js';

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** core/v1 Taint. */
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
  timeAdded?: string;
}

export function isNodemetaTaint(taint: Pick<Taint, 'key'>): boolean {
  return taint.key.startsWith(LABEL_PREFIX);
}

/** A taint as logs, Events and kubectl write it: `key=value:Effect`, or `key:Effect` without a value. */
export function taintText(taint: Pick<Taint, 'key' | 'value' | 'effect'>): string {
  return `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
}

/** Only the taint's key, value and effect (no timeAdded; no value field when it has none). */
export function bareTaint({ key, value, effect }: WireTaint): Taint {
  return value === undefined ? { key, effect } : { key, value, effect };
}

/**
 * `wanted`, followed by nodemeta's taints of other keys from `current` as they are: what a write that
 * must not take any of ours away (the cold-cache reconcile, the fast path) asks mergeTaints for.
 */
export function withOurOtherTaints(current: readonly WireTaint[] | undefined, wanted: readonly Taint[]): Taint[] {
  const keys = new Set(wanted.map((taint) => taint.key));
  const kept = (current ?? []).filter((taint) => isNodemetaTaint(taint) && !keys.has(taint.key)).map(bareTaint);
  return [...wanted, ...kept];
}

/**
 * The taints nodemeta wants on a node, from the node's plans (policy.planActions over its events and
 * spot termination) and the event it acts on, `active` (policy.selectActive over those same plans:
 * the reconciler decides it once, and the taints, the fast path and the maintenance follow it):
 * - `nodemeta.io/scheduled-event=<event type>` for the active event when it is a scheduled event:
 *   NoSchedule once a Drain or Cordon action is due, PreferNoSchedule as a notice before that and
 *   for Taint-only events; none when no event is active (actions None), or when the active one is
 *   the spot termination (its own taint says it).
 * - `nodemeta.io/spot-termination` while a spot termination time is set: NoSchedule (PreferNoSchedule
 *   if its action is Taint, none if None). A reclaim is always due.
 */
export function desiredTaints(plans: readonly PlannedAction[], active: PlannedAction | undefined): Taint[] {
  const taints: Taint[] = [];
  if (active !== undefined && active.eventType !== SPOT_TERMINATION) taints.push({ key: Taints.scheduledEvent, value: active.eventType, effect: effectFor(active) });
  const spotPlan = plans.find((plan) => plan.eventType === SPOT_TERMINATION);
  if (spotPlan !== undefined) taints.push({ key: Taints.spotTermination, effect: effectFor(spotPlan) });
  return taints;
}

function effectFor(plan: PlannedAction): TaintEffect {
  return plan.due && (plan.action === 'Drain' || plan.action === 'Cordon') ? 'NoSchedule' : 'PreferNoSchedule';
}

/**
 * The node's new taint list: every taint that is not nodemeta's, untouched and in its order,
 * followed by the desired nodemeta taints. Undefined when the node already has exactly the desired
 * nodemeta taints (order and timeAdded aside), so the caller skips the write.
 */
export function mergeTaints<T extends WireTaint = Taint>(current: readonly T[] | undefined, desired: readonly Taint[]): (T | Taint)[] | undefined {
  const existing = current ?? [];
  const ours = existing.filter(isNodemetaTaint);
  if (sameTaints(ours, desired)) return undefined;
  return [...existing.filter((taint) => !isNodemetaTaint(taint)), ...desired.map(withoutEmptyFields)];
}

function sameTaints(a: readonly WireTaint[], b: readonly Taint[]): boolean {
  if (a.length !== b.length) return false;
  const identity = (taint: WireTaint) => `${taint.key}\u0000${taint.effect}\u0000${taint.value ?? ''}`;
  const left = a.map(identity).sort();
  const right = b.map(identity).sort();
  return left.every((value, index) => value === right[index]);
}

function withoutEmptyFields(taint: Taint): Taint {
  return bareTaint(taint.value === '' ? { key: taint.key, effect: taint.effect } : taint);
}


/**
 * A JSON patch (RFC 6902) for the Node that replaces spec.taints with `next`, guarded by a `test`
 * that the list is still exactly `current`: if anyone changed the taints since we read them, the
 * API server answers 422 (test failed) and the caller re-reads and re-plans. Unlike a
 * resourceVersion precondition, this does not fail on the node's frequent unrelated status
 * updates. `current` must be the list as read (same order, same fields).
 *
 * When the node has no taints, the field is absent; the API server's JSON-patch implementation
 * (gopkg.in/evanphx/json-patch.v4, used by k8s.io/apiserver's patch handler) treats a `test` for
 * null on a missing path as satisfied and fails it when the field exists, which guards the
 * "still none" case the same way.
 *
 * The test compares JSON values, so `timeAdded` must be spelled as the server spells it
 * (metav1.Time: RFC 3339 in whole seconds). @kubernetes/client-node hands it over as a Date,
 * which would serialise with milliseconds and fail the test; wireTaint puts it back.
 */
export function taintsPatch(current: readonly WireTaint[] | undefined, next: readonly WireTaint[]): JsonPatchOperation[] {
  const hasCurrent = current !== undefined && current.length > 0;
  const guard: JsonPatchOperation = { op: 'test', path: '/spec/taints', value: hasCurrent ? current.map(wireTaint) : null };
  if (next.length === 0) return hasCurrent ? [guard, { op: 'remove', path: '/spec/taints' }] : [];
  return [guard, { op: hasCurrent ? 'replace' : 'add', path: '/spec/taints', value: next.map(wireTaint) }];
}

/** A taint as read through a client library, whose timeAdded may have become a Date. */
export type WireTaint = Omit<Taint, 'timeAdded'> & { timeAdded?: string | Date };

/** The taint as the API server serialises it: timeAdded in RFC 3339 whole seconds. */
export function wireTaint(taint: WireTaint): Taint {
  const { timeAdded, ...rest } = taint;
  if (timeAdded === undefined) return rest;
  const date = typeof timeAdded === 'string' ? new Date(timeAdded) : timeAdded;
  // An unparseable string is passed through as read: the test then compares what the server sent.
  if (Number.isNaN(date.getTime())) return { ...rest, timeAdded: String(timeAdded) };
  return { ...rest, timeAdded: rfc3339Seconds(date) };
}
