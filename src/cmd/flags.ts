// Flag values shared by the subcommands: durations and listen addresses, with the usage error
// that makes a command print one line and exit 2.

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `500ms`, `30s`, `2m`, `1h`, Go's compound `1h30m` or `2m30s`, or a bare number of seconds. */
export function parseDurationMs(text: string): number | undefined {
  const single = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (single) {
    const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[single[2] ?? 's'] ?? 1_000;
    return Math.round(Number(single[1]) * unit);
  }
  // The controller's configuration writes durations the same way (src/controller/config/config.ts).
  const compound = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text.trim());
  if (!compound || text.trim() === '') return undefined;
  const [, h, m, s, ms] = compound.map((part) => Number(part ?? 0));
  return ((h! * 60 + m!) * 60 + s!) * 1000 + ms!;
}

/** A positive duration flag, or `fallback` when absent. */
export function durationFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`${name} must be a positive duration such as 15s or 500ms (got ${JSON.stringify(text)})`);
  return ms;
}

/**
 * `[HOST]:PORT` (`:8080` listens on every address; port 0 picks a free one). `portOverride` (a
 * separate port flag) replaces the port when given.
 */
export function parseListenAddress(name: string, address: string, portOverride?: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(address);
  if (match === null) throw new UsageError(`${name} must be [HOST]:PORT (got ${JSON.stringify(address)})`);
  const host = match[1] === '' ? '0.0.0.0' : match[1]!.replace(/^\[(.*)\]$/, '$1');
  const portText = portOverride ?? match[2]!;
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new UsageError(`port must be from 0 to 65535 (got ${JSON.stringify(portText)})`);
  return { host, port };
}
