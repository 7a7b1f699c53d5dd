import { describe, expect, it } from '@jest/globals';
import { Backoff, backoffCeiling, backoffDelay } from '../../../src/time/backoff.js';
import { fixedRandom, seededRandom } from './fake-clock.js';
import { expectSpreadEvenly } from './spread.js';

describe('Backoff (the one retry timing: full jitter, capped)', () => {
  it('waits random(0, min(cap, base × 2ⁿ)) before the n-th retry', () => {
    const top = new Backoff({ baseMs: 100, capMs: 1_000, random: fixedRandom(0.999999) });
    expect(Array.from({ length: 6 }, () => top.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const middle = new Backoff({ baseMs: 100, capMs: 1_000, random: fixedRandom(0.5) });
    expect(Array.from({ length: 6 }, () => middle.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const bottom = new Backoff({ baseMs: 100, capMs: 1_000, random: fixedRandom(0) });
    expect(bottom.next()).toBe(0);
  });

  it('draws every delay from the random source: other numbers, other delays, none above the cap', () => {
    const random = seededRandom(3);
    const b = new Backoff({ baseMs: 100, capMs: 1_000, random });
    const delays = Array.from({ length: 50 }, () => b.next());
    expect(new Set(delays).size).toBeGreaterThan(40);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1_000);
    }
  });

  it('reset: after a success the next failure starts again from the first window', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1_000, random: fixedRandom(0.999999) });
    expect([b.next(), b.next(), b.next()]).toEqual([100, 200, 400]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('survives a broken random source', () => {
    expect(new Backoff({ baseMs: 100, capMs: 1_000, random: () => Number.NaN }).next()).toBe(0);
    expect(new Backoff({ baseMs: 100, capMs: 1_000, random: () => -1 }).next()).toBe(0);
    expect(new Backoff({ baseMs: 100, capMs: 1_000, random: () => 7 }).next()).toBeLessThanOrEqual(100);
  });

  it('is deadline-aware: no delay that would end past the deadline, and at least the minimum asked', () => {
    const b = new Backoff({ baseMs: 1_000, capMs: 1_000, random: fixedRandom(0.999999) });
    expect(b.nextBefore(0, 5_000)).toBe(1_000);
    expect(b.nextBefore(4_500, 5_000)).toBeUndefined();
    expect(b.nextBefore(0, undefined, 3_000)).toBe(3_000);
  });

  it('rejects a cap below the base, and no base', () => {
    expect(() => new Backoff({ baseMs: 100, capMs: 10, random: Math.random })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 0, capMs: 10, random: Math.random })).toThrow(RangeError);
  });

  it('backoffDelay draws the n-th retry alone; backoffCeiling is its window, never past the cap', () => {
    const timing = { baseMs: 5_000, capMs: 60_000 };
    expect([0, 1, 2, 3, 4, 5, 60, 5_000].map((n) => backoffCeiling(timing, n))).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000]);
    expect(backoffDelay(timing, 2, fixedRandom(0.25))).toBe(5_000);
    expect(backoffDelay(timing, 9, fixedRandom(0.5))).toBe(30_000);
  });
});

describe('a fleet of 5,000 agents failing in the same instant', () => {
  // The agents' API-write backoff (src/agent/node-agent.ts): 1 s base, 30 s cap. One process-wide
  // random source, as Math.random is for real agents; one Backoff per agent.
  const AGENTS = 5_000;
  const timing = { baseMs: 1_000, capMs: 30_000 };

  it('spreads their first retries over [0, 1 s): every tenth of the window holds 7-13 % of them, and no millisecond holds more than a few', () => {
    const random = seededRandom(2026);
    const firstRetry = Array.from({ length: AGENTS }, () => new Backoff({ ...timing, random }).next());

    const tenths = Array.from({ length: 10 }, () => 0);
    for (const d of firstRetry) tenths[Math.min(9, Math.floor(d / 100))]! += 1;
    const shares = tenths.map((count) => count / AGENTS);
    const perMs = new Map<number, number>();
    for (const d of firstRetry) perMs.set(d, (perMs.get(d) ?? 0) + 1);
    const busiestMs = Math.max(...perMs.values());
    console.log(
      `first retries of ${AGENTS} agents over [0, ${timing.baseMs} ms): per tenth ${shares.map((s) => `${(s * 100).toFixed(1)}%`).join(' ')}; ` +
        `${perMs.size} distinct ms, at most ${busiestMs} agents in one ms (mean ${(AGENTS / perMs.size).toFixed(1)}); ` +
        `without jitter all ${AGENTS} would retry at ${backoffCeiling(timing, 0)} ms`,
    );

    for (const share of shares) {
      expect(share).toBeGreaterThanOrEqual(0.07);
      expect(share).toBeLessThanOrEqual(0.13);
    }
    // 5,000 over about 1,000 ms is 5 a millisecond on average; a few times that at the busiest.
    expect(perMs.size).toBeGreaterThan(950);
    expect(busiestMs).toBeLessThanOrEqual(20);
    expectSpreadEvenly(firstRetry, 0, timing.baseMs, 0.03);
  });

  it('keeps them spread retry after retry: each window doubles, and past the cap stays spread over [0, cap]', () => {
    const random = seededRandom(9);
    const agents = Array.from({ length: AGENTS }, () => new Backoff({ ...timing, random }));
    agents.forEach((b) => b.next());
    expectSpreadEvenly(agents.map((b) => b.next()), 0, 2_000, 0.03);
    expectSpreadEvenly(agents.map((b) => b.next()), 0, 4_000, 0.03);
    for (let n = 3; n < 8; n++) agents.forEach((b) => b.next());
    const pastCap = agents.map((b) => b.next());
    expect(Math.max(...pastCap)).toBeLessThanOrEqual(timing.capMs);
    expectSpreadEvenly(pastCap, 0, timing.capMs, 0.03);
  });
});
