// Flag values shared by the subcommands: durations and listen addresses, with the usage error
// that makes a command print one line and exit 2.

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1_000;
  return Math.round(Number(m[1]) * unit);
}

/** A positive duration flag, or `fallback` when absent. */
export function durationFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`${name} must be a positive duration such as 15s or 500ms (got ${JSON.stringify(text)})`);
  return ms;
}

/** `[HOST]:PORT` (`:8080` listens on every address; port 0 picks a free one). */
export function parseListenAddress(name: string, address: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(address);
  if (match === null) throw new UsageError(`${name} must be [HOST]:PORT (got ${JSON.stringify(address)})`);
  const host = match[1] === '' ? '0.0.0.0' : match[1]!.replace(/^\[(.*)\]$/, '$1');
  const port = Number(match[2]);
  if (port > 65535) throw new UsageError(`${name}: port must be from 0 to 65535 (got ${match[2]})`);
  return { host, port };
}
