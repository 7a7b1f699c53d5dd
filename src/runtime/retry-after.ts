// HTTP Retry-After (RFC 9110, 10.2.3): how long a server asks a client to wait before it retries.
// One parser for every HTTP client in the code base (the agent's metadata-service transport, the
// controller's notification sinks).

/** Retry-After in seconds or as an HTTP date, in ms from `now`; undefined when absent or nonsense. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,6}$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) && /[a-z]/i.test(v) ? Math.max(0, t - now) : undefined;
}
