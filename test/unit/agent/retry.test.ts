import { describe, expect, it } from '@jest/globals';
import { MetadataError, type MetadataErrorKind } from '../../../src/agent/http/errors.js';
import { classifyFailure, DEFAULT_RETRY_POLICY, withRetries } from '../../../src/agent/http/retry.js';
import { FakeClock, fixedRandom, seededRandom } from '../runtime/fake-clock.js';
import { expectSpreadEvenly } from '../runtime/spread.js';

function failure(kind: MetadataErrorKind, status?: number, retryAfterMs?: number): MetadataError {
  return new MetadataError({ kind, service: 'azure', method: 'GET', path: '/metadata/scheduledevents', status, detail: 'test', retryAfterMs });
}

/** An operation failing with the given errors in turn, then answering "ok". */
function scripted(...failures: MetadataError[]) {
  let calls = 0;
  const op = async (): Promise<string> => {
    const f = failures[calls++];
    if (f) throw f;
    return 'ok';
  };
  return { op, calls: () => calls };
}

/** Each retry's wait passes at once, the clock moved forward by it. */
const steppingClock = () => new FakeClock({ autoAdvance: true });

function context(clock = steppingClock()) {
  return { policy: DEFAULT_RETRY_POLICY, clock, random: fixedRandom(0.5) };
}

describe('classifyFailure (retry policy table)', () => {
  it.each([
    [410, 'gone'],
    [429, 'transient'],
    [500, 'transient'],
    [503, 'transient'],
    [400, 'never'],
    [401, 'never'],
    [403, 'never'],
    [404, 'never'],
    [405, 'never'],
  ])('HTTP %i → %s', (status, cls) => {
    expect(classifyFailure(failure('http', status))).toBe(cls);
  });

  it.each([
    ['timeout', 'transient'],
    ['connection', 'transient'],
    ['malformed', 'malformed'],
    ['budget', 'never'],
    ['unsupported', 'never'],
  ] as const)('%s → %s', (kind, cls) => {
    expect(classifyFailure(failure(kind))).toBe(cls);
  });
});

describe('withRetries', () => {
  it('retries 500, 429, timeouts and resets with growing delays, then succeeds', async () => {
    const clock = steppingClock();
    const s = scripted(failure('http', 500), failure('http', 429), failure('timeout'), failure('connection'));
    await expect(withRetries(s.op, context(clock))).resolves.toBe('ok');
    expect(s.calls()).toBe(5);
    expect(clock.delays).toHaveLength(4);
    expect(clock.delays[1]!).toBeGreaterThan(clock.delays[0]!);
  });

  it.each([400, 404, 405])('never retries HTTP %i', async (status) => {
    const s = scripted(failure('http', status));
    const err = (await withRetries(s.op, context()).catch((e: unknown) => e)) as MetadataError;
    expect(s.calls()).toBe(1);
    expect(err.status).toBe(status);
    expect(err.attempts).toBe(1);
  });

  it('gives up on transient failures after maxAttempts, saying how many', async () => {
    const s = scripted(...Array.from({ length: 20 }, () => failure('http', 500)));
    const err = (await withRetries(s.op, context()).catch((e: unknown) => e)) as MetadataError;
    expect(s.calls()).toBe(DEFAULT_RETRY_POLICY.maxAttempts);
    expect(err.message).toMatch(/HTTP 500/);
    expect(err.message).toMatch(/6 attempts/);
  });

  it('retries 410 for up to 70 s after the first one, however many attempts that takes', async () => {
    const clock = steppingClock();
    const start = clock.now();
    const s = scripted(...Array.from({ length: 200 }, () => failure('http', 410)));
    const err = (await withRetries(s.op, context(clock)).catch((e: unknown) => e)) as MetadataError;
    expect(err.status).toBe(410);
    expect(err.message).toMatch(/still gone: the 70 s retry window after the first 410 is used up/);
    expect(s.calls()).toBeGreaterThan(DEFAULT_RETRY_POLICY.maxAttempts);
    expect(clock.now() - start).toBeLessThanOrEqual(70_000);
    expect(clock.now() - start).toBeGreaterThan(60_000);
  });

  it('recovers from a 410 window that ends within 70 s', async () => {
    const s = scripted(...Array.from({ length: 10 }, () => failure('http', 410)));
    await expect(withRetries(s.op, context())).resolves.toBe('ok');
    expect(s.calls()).toBe(11);
  });

  it('honours Retry-After on 429 as a minimum delay', async () => {
    const clock = steppingClock();
    const s = scripted(failure('http', 429, 3_000));
    await withRetries(s.op, context(clock));
    expect(clock.delays[0]).toBe(3_000);
  });

  it('retries a malformed answer twice, then reports it', async () => {
    const s = scripted(failure('malformed'), failure('malformed'), failure('malformed'), failure('malformed'));
    const err = (await withRetries(s.op, context()).catch((e: unknown) => e)) as MetadataError;
    expect(s.calls()).toBe(3);
    expect(err.kind).toBe('malformed');
  });

  it('stops when the next delay would pass the deadline', async () => {
    const clock = steppingClock();
    const s = scripted(...Array.from({ length: 20 }, () => failure('connection')));
    const err = (await withRetries(s.op, { ...context(clock), deadline: clock.now() + 1_000 }).catch((e: unknown) => e)) as MetadataError;
    expect(err.kind).toBe('connection');
    expect(err.message).toMatch(/no time left/);
    expect(s.calls()).toBeLessThan(DEFAULT_RETRY_POLICY.maxAttempts);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const op = async (): Promise<string> => {
      calls += 1;
      controller.abort();
      throw failure('http', 500);
    };
    const err = (await withRetries(op, { ...context(), signal: controller.signal }).catch((e: unknown) => e)) as MetadataError;
    expect(calls).toBe(1);
    expect(err.message).toMatch(/cancelled or timed out/);
  });

  it('lets bugs (non-MetadataError) through at once', async () => {
    let calls = 0;
    const op = async (): Promise<string> => {
      calls += 1;
      throw new TypeError('bug');
    };
    await expect(withRetries(op, context())).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
  });

  it('waits the one full-jitter backoff: random(0, min(5 s, 250 ms × 2ⁿ)), other random numbers giving other delays', async () => {
    for (const r of [0, 0.3, 0.999999]) {
      const clock = steppingClock();
      const s = scripted(...Array.from({ length: 5 }, () => failure('http', 503)));
      await withRetries(s.op, { policy: DEFAULT_RETRY_POLICY, clock, random: fixedRandom(r) });
      expect(clock.delays).toEqual([250, 500, 1_000, 2_000, 4_000].map((ceiling) => Math.round(r * ceiling)));
    }
    const long = steppingClock();
    const s = scripted(...Array.from({ length: 11 }, () => failure('timeout')));
    await withRetries(s.op, { policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 12 }, clock: long, random: fixedRandom(0.999999) });
    expect(long.delays.slice(4)).toEqual([4_000, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000]); // the cap
  });

  it('1,000 agents whose metadata call failed in the same instant retry spread over [0, 250 ms)', async () => {
    const random = seededRandom(7);
    const firstRetry: number[] = [];
    for (let agent = 0; agent < 1_000; agent++) {
      const clock = steppingClock();
      await withRetries(scripted(failure('http', 500)).op, { policy: DEFAULT_RETRY_POLICY, clock, random });
      firstRetry.push(clock.delays[0]!);
    }
    expectSpreadEvenly(firstRetry, 0, 250);
  });

  it('reports each retry to onRetry', async () => {
    const seen: number[] = [];
    const s = scripted(failure('http', 500), failure('http', 500));
    await withRetries(s.op, { ...context(), onRetry: (i) => seen.push(i.attempt) });
    expect(seen).toEqual([1, 2]);
  });
});
