import { describe, expect, it } from '@jest/globals';
import { Backoff } from '../../../src/runtime/backoff.js';
import { fixedRandom, seededRandom } from './fake-clock.js';
import { expectSpreadEvenly } from './spread.js';

describe('Backoff', () => {
  it('full jitter: random(0, min(cap, base * 2^n))', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1_000, strategy: 'full', random: fixedRandom(0.999999) });
    const delays = Array.from({ length: 6 }, () => b.next());
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    const zero = new Backoff({ baseMs: 100, capMs: 1_000, strategy: 'full', random: fixedRandom(0) });
    expect(zero.next()).toBe(0);
  });

  it('reset: after a success the next failure starts again from the first delay', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1_000, strategy: 'full', random: fixedRandom(0.999999) });
    expect([b.next(), b.next(), b.next()]).toEqual([100, 200, 400]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('decorrelated jitter stays within [base, cap] and grows from the previous delay', () => {
    const b = new Backoff({ baseMs: 250, capMs: 5_000, strategy: 'decorrelated', random: fixedRandom(0.5) });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays[0]).toBe(500); // 250 + 0.5 * (750 - 250)
    expect(delays[1]).toBe(875); // 250 + 0.5 * (1500 - 250)
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(250);
      expect(d).toBeLessThanOrEqual(5_000);
    }
    expect(delays[7]).toBe(5_000);
  });

  it('survives a broken random source', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1_000, strategy: 'decorrelated', random: () => Number.NaN });
    expect(b.next()).toBe(100);
    const c = new Backoff({ baseMs: 100, capMs: 1_000, strategy: 'full', random: () => 7 });
    expect(c.next()).toBeLessThanOrEqual(100);
  });

  it('is deadline-aware: no delay that would end past the deadline', () => {
    const b = new Backoff({ baseMs: 1_000, capMs: 1_000, strategy: 'full', random: fixedRandom(0.999999) });
    expect(b.nextBefore(0, 5_000)).toBe(1_000);
    expect(b.nextBefore(4_500, 5_000)).toBeUndefined();
    expect(b.nextBefore(0, undefined, 3_000)).toBe(3_000);
  });

  it('full jitter: 1,000 agents failing at the same instant retry spread over the whole window, attempt after attempt', () => {
    // One process-wide random source, as Math.random is; one Backoff per agent.
    const random = seededRandom(9);
    const agents = Array.from({ length: 1_000 }, () => new Backoff({ baseMs: 1_000, capMs: 30_000, strategy: 'full', random }));
    const firstRetry = agents.map((b) => b.next());
    expectSpreadEvenly(firstRetry, 0, 1_000);
    expectSpreadEvenly(agents.map((b) => b.next()), 0, 2_000);
    expectSpreadEvenly(agents.map((b) => b.next()), 0, 4_000);
    // Past the cap the window stops growing, and the delays stay spread over all of it.
    for (let n = 3; n < 8; n++) agents.forEach((b) => b.next());
    expectSpreadEvenly(agents.map((b) => b.next()), 0, 30_000);
  });

  it('decorrelated jitter spreads the first retries of 1,000 agents over [base, 3 * base]', () => {
    const random = seededRandom(11);
    const delays = Array.from({ length: 1_000 }, () => new Backoff({ baseMs: 250, capMs: 5_000, strategy: 'decorrelated', random }).next());
    expectSpreadEvenly(delays, 250, 750);
  });

  it('rejects a cap below the base', () => {
    expect(() => new Backoff({ baseMs: 100, capMs: 10, strategy: 'full', random: Math.random })).toThrow(RangeError);
  });
});
