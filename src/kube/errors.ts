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
/** Worth retrying with backoff: throttling, server errors, and anything that never reached the server. */
export const isRetryable = (err: unknown): boolean =>
  !(err instanceof KubeApiError) || err.status === 429 || err.status >= 500;
