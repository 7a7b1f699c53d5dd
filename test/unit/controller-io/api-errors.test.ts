// The one API error classifier (src/kube/errors.ts): the lease store, the evictions and the drain's
// pod watch read statuses through it.
import { describe, expect, it } from '@jest/globals';
import { isConflict, isGone, isInternalError, isNotFound, isTooManyRequests, KubeApiError } from '../../../src/api/kube-errors.js';

const apiError = (status: number, reason: string) => new KubeApiError(status, reason, 'm', 'GET', '/x');

describe('the API error classifier', () => {
  it('tells the statuses apart, and an error without an answer is none of them', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect([404, 409, 429, 500].map((s) => [isNotFound, isConflict, isTooManyRequests, isInternalError].map((f) => f(apiError(s, 'R'))))).toEqual([
      [true, false, false, false],
      [false, true, false, false],
      [false, false, true, false],
      [false, false, false, true],
    ]);
    expect([isNotFound, isConflict, isTooManyRequests, isInternalError, isGone].map((f) => f(reset))).toEqual([false, false, false, false, false]);
  });

  it('reads 410 Gone from an answer, a watch ERROR event and a watch that ended', () => {
    expect(isGone(apiError(410, 'Expired'))).toBe(true);
    expect(isGone(apiError(500, 'Expired'))).toBe(true);
    expect(isGone({ kind: 'Status', code: 410, reason: 'Expired' })).toBe(true);
    expect(isGone({ statusCode: 410 })).toBe(true);
    expect(isGone({ kind: 'Status', code: 500, reason: 'InternalError' })).toBe(false);
    expect(isGone(apiError(404, 'NotFound'))).toBe(false);
    expect(isGone(undefined)).toBe(false);
  });
});
