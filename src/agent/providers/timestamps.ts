/**
 * Strict timestamp parsing for maintenance times. `Date.parse` is too lenient for this job (it turns
 * "1" into the year 2001), and a wrong NotBefore makes the controller drain at the wrong time.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// Azure's NotBefore: RFC 1123, e.g. "Mon, 19 Sep 2016 18:29:47 GMT" (weekday optional, GMT/UTC/+0000).
const RFC1123 = /^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s+(gmt|utc|ut|z|[+-]0000)$/i;

// ISO 8601 / RFC 3339: "2026-11-22T10:15:00Z", "2026-11-22T10:15:00.123+02:00", "2026-11-22 10:15:00Z".
// Without an offset the time is taken as UTC (Alibaba prints UTC "yyyy-MM-ddThh:mm:ssZ").
const ISO8601 = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses an RFC 1123 or ISO 8601 time into an ISO UTC string; undefined when it is neither. */
export function parseTimestamp(text: string): string | undefined {
  const s = text.trim();
  if (s.length === 0 || s.length > 64) return undefined;
  return parseIso8601(s) ?? parseRfc1123(s);
}

export function parseRfc1123(s: string): string | undefined {
  const m = RFC1123.exec(s.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return undefined;
  return build(Number(m[3]), month + 1, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0'), 0, 0);
}

export function parseIso8601(s: string): string | undefined {
  const m = ISO8601.exec(s.trim());
  if (!m) return undefined;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let offsetMin = 0;
  const zone = m[8];
  if (zone && zone.toLowerCase() !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const hh = Number(digits.slice(0, 2));
    const mm = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (hh > 23 || mm > 59) return undefined;
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (hh * 60 + mm);
  }
  return build(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0'), ms, offsetMin);
}

function build(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number, offsetMin: number): string | undefined {
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const t = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), ms);
  const d = new Date(t);
  // Reject days that do not exist (Feb 30): Date.UTC would roll them over into the next month.
  if (d.getUTCDate() !== day || d.getUTCMonth() !== month - 1) return undefined;
  return new Date(t - offsetMin * 60_000).toISOString();
}
