// Durations and times as people write them in scenarios and control-API bodies:
// `10s`, `+15m`, `1500ms`, `2h`, `1d`, or an ISO 8601 time.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** `10s` → 10000; undefined when the text is not a duration. A bare number counts as milliseconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
}

/** `+15m` (relative to now) or an ISO 8601 time → epoch ms; undefined when neither. */
export function parseTime(text: string, now: number): number | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith('+')) {
    const offset = parseDuration(trimmed.slice(1));
    return offset === undefined ? undefined : now + offset;
  }
  // An ISO 8601 time needs at least a date; Date.parse alone accepts far too much.
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

/** RFC 1123 in GMT, the form Azure uses for `NotBefore`: `Mon, 19 Sep 2016 18:29:47 GMT`. */
export function rfc1123(ms: number): string {
  return new Date(ms).toUTCString();
}

/** `yyyy-MM-ddThh:mm:ssZ` in UTC, the form Alibaba uses (spot termination time). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
