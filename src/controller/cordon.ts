// The cordon and uncordon writes, as JSON patches guarded by `test` ops (spec.unschedulable is a
// plain field and the annotation a map entry, so a blind write could undo someone else's change
// made since we read the node; a failed `test` is a 422 and the reconciler re-plans).
//
// nodemeta's cordon is spec.unschedulable=true plus the annotation nodemeta.io/cordoned=<event id>,
// written in one request, so the annotation proves nodemeta made the cordon (DESIGN.md, "Cordon").
// A node cordoned without it was cordoned by someone else and is never uncordoned by nodemeta.

import { Annotations } from '../api/names.js';
import type { NodeState } from './cluster-state.js';
import type { JsonPatchOperation } from './taints.js';

/** RFC 6901: `/` in a key is spelled `~1`, `~` is `~0`. */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

const CORDONED_PATH = `/metadata/annotations/${pointerToken(Annotations.cordoned)}`;

/**
 * Cordons `node` for `eventId`, guarded by what we read: spec.unschedulable (the API server omits a
 * false value, so "not cordoned" is tested as null) and the annotation's value (or its absence).
 */
export function cordonPatch(node: NodeState, eventId: string): JsonPatchOperation[] {
  const unschedulable = node.spec?.unschedulable === true ? true : null;
  const annotations = node.metadata.annotations;
  const ops: JsonPatchOperation[] = [{ op: 'test', path: '/spec/unschedulable', value: unschedulable }];
  if (annotations === undefined) {
    ops.push({ op: 'test', path: '/metadata/annotations', value: null }, { op: 'add', path: '/metadata/annotations', value: { [Annotations.cordoned]: eventId } });
  } else {
    ops.push({ op: 'test', path: CORDONED_PATH, value: annotations[Annotations.cordoned] ?? null }, { op: 'add', path: CORDONED_PATH, value: eventId });
  }
  ops.push({ op: 'add', path: '/spec/unschedulable', value: true });
  return ops;
}

/**
 * The JSON patch that uncordons a node nodemeta cordoned: guarded by a `test` that the annotation
 * still holds the value we read (if it changed or went, the patch fails with 422 and we re-plan),
 * it removes the annotation and sets spec.unschedulable=false in one request.
 */
export function uncordonPatch(cordonedFor: string): JsonPatchOperation[] {
  return [
    { op: 'test', path: CORDONED_PATH, value: cordonedFor },
    { op: 'remove', path: CORDONED_PATH },
    { op: 'add', path: '/spec/unschedulable', value: false },
  ];
}
