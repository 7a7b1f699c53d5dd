// What went wrong in a call to the API server, classified so that callers can decide without
// parsing messages: retry (conflict, throttled, unavailable) or give up (forbidden, invalid).

export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    readonly status: number,
    /** metav1.Status reason: NotFound, Conflict, Forbidden, Invalid, TooManyRequests, ... */
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
    /** The Status object the server sent, when it sent one. */
    readonly body?: unknown,
  ) {
    super(`${method} ${path}: ${status} ${reason}: ${message}`);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;
export const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && err.status === 403;
/** 429: flow control turned the request away, or (for an eviction) a PodDisruptionBudget allows none now. */
export const isTooManyRequests = (err: unknown): boolean => err instanceof KubeApiError && err.status === 429;
export const isInternalError = (err: unknown): boolean => err instanceof KubeApiError && err.status === 500;
/**
 * A watch that cannot resume from its resource version (410 Gone, reason Expired or Gone: the version
 * was compacted away): list again. Reads a KubeApiError, the metav1.Status of a watch's ERROR event
 * (`code`), and the error a client-node watch ends with (`statusCode`).
 */
export const isGone = (err: unknown): boolean => {
  if (err instanceof KubeApiError) return err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone';
  if (err === null || typeof err !== 'object') return false;
  const { code, statusCode, reason } = err as { code?: unknown; statusCode?: unknown; reason?: unknown };
  return code === 410 || statusCode === 410 || reason === 'Expired' || reason === 'Gone';
};
/** Worth retrying with backoff: throttling, server errors, and anything that never reached the server. */
export const isRetryable = (err: unknown): boolean =>
  !(err instanceof KubeApiError) || err.status === 429 || err.status >= 500;

/**
 * A client-node ApiException (recognised by its shape, so that this file, which the agent loads,
 * never imports client-node) as a KubeApiError: one line with the verb, the path, the status and the
 * server's own message, instead of client-node's "HTTP-Code: 404 Message: Unknown API Status Code!
 * Body: ..." dump. An error without an answer (connection refused, reset, timeout) stays as it is.
 */
export function fromClientNodeError(error: unknown, method: string, path: string): unknown {
  if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== 'number' || !('body' in error)) return error;
  const raw = (error as { body?: unknown }).body;
  const body: unknown = typeof raw === 'string' ? (safeParse(raw) ?? raw) : raw;
  const status = (typeof body === 'object' && body !== null ? body : {}) as { reason?: unknown; message?: unknown };
  const reason = typeof status.reason === 'string' ? status.reason : 'Unknown';
  const message = typeof status.message === 'string' ? status.message : String(raw).slice(0, 300);
  return new KubeApiError((error as unknown as { code: number }).code, reason, message, method, path, body);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
