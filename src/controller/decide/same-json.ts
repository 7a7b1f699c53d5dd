// Structural equality of plain JSON data (statuses, patch values), key order aside: what the
// controller compares to decide that nothing changed, and what a JSON-patch `test` compares.

export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON text with every object's keys sorted and undefined fields left out. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}
