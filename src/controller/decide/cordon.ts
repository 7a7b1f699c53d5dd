// The cordon and uncordon writes, as JSON patches guarded by `test` ops (spec.unschedulable is a
// plain field and the annotation a map entry, so a blind write could undo someone else's change
// made since we read the node; a failed `test` is a 422 and the reconciler re-plans).
//
// nodemeta's cordon is spec.unschedulable=true plus the annotation nodemeta.io/cordoned=<event id>,
// written in one request, so the annotation proves nodemeta made the cordon (docs/architecture.md, "Public contract").
// A node cordoned without it was cordoned by someone else and is never uncordoned by nodemeta.
//
// With drain.excludeFromLoadBalancers the same request adds node.kubernetes.io/exclude-from-external-
// load-balancers, so the cloud takes the node out of LoadBalancer backends before its pods go, and the
// annotation nodemeta.io/excluded-from-load-balancers that proves nodemeta added it. Only a label
// nodemeta added is removed when the node is back in service (releasePatch).

import { Annotations, EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../api/names.js';
import type { NodeState } from '../cache/node-state.js';
import { pointerToken, removeAnnotationPatch, setAnnotationsPatch, type JsonPatchOperation } from './patch-ops.js';

const EXCLUDE_LABEL_PATH = `/metadata/labels/${pointerToken(EXCLUDE_FROM_LOAD_BALANCERS_LABEL)}`;
const EXCLUDED = 'true';

export interface CordonOptions {
  /** Also add the load-balancer exclusion label (and nodemeta's annotation) when the node lacks it. */
  excludeFromLoadBalancers: boolean;
}

/**
 * Cordons `node` for `eventId`, guarded by what we read: spec.unschedulable (the API server omits a
 * false value, so "not cordoned" is tested as null) and the annotation's value (or its absence);
 * with the exclusion, the label's absence too (a label set meanwhile by someone else stays theirs).
 */
export function cordonPatch(node: NodeState, eventId: string, options: CordonOptions): JsonPatchOperation[] {
  const unschedulable = node.spec?.unschedulable === true ? true : null;
  const annotations: Record<string, string> = { [Annotations.cordoned]: eventId };
  const exclude = options.excludeFromLoadBalancers && node.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === undefined;
  if (exclude) annotations[Annotations.excludedFromLoadBalancers] = EXCLUDED;
  const ops: JsonPatchOperation[] = [{ op: 'test', path: '/spec/unschedulable', value: unschedulable }];
  ops.push(...setAnnotationsPatch(node.metadata.annotations, annotations));
  if (exclude) {
    if (node.metadata.labels === undefined) {
      ops.push({ op: 'test', path: '/metadata/labels', value: null }, { op: 'add', path: '/metadata/labels', value: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: EXCLUDED } });
    } else {
      ops.push({ op: 'test', path: EXCLUDE_LABEL_PATH, value: null }, { op: 'add', path: EXCLUDE_LABEL_PATH, value: EXCLUDED });
    }
  }
  ops.push({ op: 'add', path: '/spec/unschedulable', value: true });
  return ops;
}

/** What nodemeta holds on a node: its cordon (for an event id) and its load-balancer exclusion. */
export function heldByNodemeta(node: NodeState): { cordonedFor: string | undefined; excludedFromLoadBalancers: boolean } {
  const annotations = node.metadata.annotations ?? {};
  return { cordonedFor: annotations[Annotations.cordoned], excludedFromLoadBalancers: annotations[Annotations.excludedFromLoadBalancers] !== undefined };
}

/**
 * The JSON patch that gives a node back what nodemeta took, in one request, or undefined when
 * nodemeta holds nothing on it:
 * - its cordon: a `test` that the annotation still holds the value we read (if it changed or went,
 *   the patch fails with 422 and we re-plan), the annotation removed, spec.unschedulable=false;
 * - its load-balancer exclusion: nodemeta's annotation removed, and the label with it if it still
 *   holds the value nodemeta wrote (a label changed since is someone else's now and stays).
 */
export function releasePatch(node: NodeState): JsonPatchOperation[] | undefined {
  const { cordonedFor, excludedFromLoadBalancers } = heldByNodemeta(node);
  const ops: JsonPatchOperation[] = [];
  if (cordonedFor !== undefined) {
    ops.push(...removeAnnotationPatch(Annotations.cordoned, cordonedFor), { op: 'add', path: '/spec/unschedulable', value: false });
  }
  if (excludedFromLoadBalancers) {
    ops.push(...removeAnnotationPatch(Annotations.excludedFromLoadBalancers, node.metadata.annotations?.[Annotations.excludedFromLoadBalancers]));
    if (node.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === EXCLUDED) {
      ops.push({ op: 'test', path: EXCLUDE_LABEL_PATH, value: EXCLUDED }, { op: 'remove', path: EXCLUDE_LABEL_PATH });
    }
  }
  return ops.length === 0 ? undefined : ops;
}
