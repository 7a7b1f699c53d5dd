// The pieces of nodemeta's guarded JSON patches (RFC 6902) of a Node: every change is preceded by a
// `test` of the value it was planned from, so a change someone made since the read fails the write
// (422, WriteConflictError) instead of being overwritten (write/retry-on-conflict.ts re-plans).

export type JsonPatchOperation =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** RFC 6901: `/` in a key is spelled `~1`, `~` is `~0`. */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The JSON pointer of one annotation. */
export function annotationPath(key: string): string {
  return `/metadata/annotations/${pointerToken(key)}`;
}

/**
 * Sets each annotation, each guarded by a `test` of the value read (or its absence); a node with no
 * annotations at all gets the whole map, guarded by a `test` that it still has none.
 */
export function setAnnotationsPatch(current: Record<string, string> | undefined, wanted: Record<string, string>): JsonPatchOperation[] {
  if (current === undefined) return [{ op: 'test', path: '/metadata/annotations', value: null }, { op: 'add', path: '/metadata/annotations', value: wanted }];
  return Object.entries(wanted).flatMap(([key, value]): JsonPatchOperation[] => {
    const path = annotationPath(key);
    return [{ op: 'test', path, value: current[key] ?? null }, { op: 'add', path, value }];
  });
}

/** Removes an annotation, guarded by a `test` that it still holds the value read. */
export function removeAnnotationPatch(key: string, read: string | undefined): JsonPatchOperation[] {
  const path = annotationPath(key);
  return [{ op: 'test', path, value: read }, { op: 'remove', path }];
}
