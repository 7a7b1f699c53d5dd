// Checks for the untyped JSON and YAML that reach the emulator (control-API bodies, scenario
// files). Every failure names the field, so a person can fix the input from the message alone.

import type { Tag } from '../api/observation.js';

export class InputError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = 'InputError';
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectObject(value: unknown, field: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InputError(field, 'must be an object');
  return value;
}

/** Rejects keys outside `allowed`: a misspelt field must not be silently ignored. */
export function expectKeys(value: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new InputError(join(field, key), `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }
}

export function optionalString(value: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = value[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InputError(join(field, key), 'must be a string');
  return v;
}

export function requiredString(value: Record<string, unknown>, key: string, field: string): string {
  const v = optionalString(value, key, field);
  if (v === undefined || v === '') throw new InputError(join(field, key), 'is required (a non-empty string)');
  return v;
}

export function optionalBoolean(value: Record<string, unknown>, key: string, field: string): boolean | undefined {
  const v = value[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new InputError(join(field, key), 'must be true or false');
  return v;
}

export function optionalInteger(
  value: Record<string, unknown>,
  key: string,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = value[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InputError(join(field, key), `must be an integer from ${min} to ${max}`);
  }
  return v;
}

export function optionalStringList(value: Record<string, unknown>, key: string, field: string): string[] | undefined {
  const v = value[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new InputError(join(field, key), 'must be a list of strings');
  return v.map((item, i) => {
    if (typeof item !== 'string' || item === '') throw new InputError(`${join(field, key)}[${i}]`, 'must be a non-empty string');
    return item;
  });
}

/** `[{name, value}]`, names unique and non-empty, values strings (may be empty). */
export function parseTags(value: unknown, field: string): Tag[] {
  if (!Array.isArray(value)) throw new InputError(field, 'must be a list of {name, value}');
  const seen = new Set<string>();
  return value.map((item, i) => {
    const at = `${field}[${i}]`;
    const tag = expectObject(item, at);
    expectKeys(tag, ['name', 'value'], at);
    const name = requiredString(tag, 'name', at);
    const tagValue = tag.value;
    if (typeof tagValue !== 'string') throw new InputError(`${at}.value`, 'must be a string');
    if (seen.has(name)) throw new InputError(`${at}.name`, `duplicate tag name "${name}"`);
    seen.add(name);
    return { name, value: tagValue };
  });
}

export function join(field: string, key: string): string {
  return field ? `${field}.${key}` : key;
}
