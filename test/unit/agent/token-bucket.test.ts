import { describe, expect, it } from '@jest/globals';
import { MetadataError } from '../../../src/agent/http/errors.js';
import { DEFAULT_BUDGET, TokenBucket } from '../../../src/agent/http/token-bucket.js';
import { FakeClock } from '../runtime/fake-clock.js';

/** Each wait for a slot passes at once, the clock moved forward by it. */
const steppingClock = () => new FakeClock({ autoAdvance: true });

describe('TokenBucket (the per-process request budget)', () => {
  it('lets a burst through at once, then spaces requests at the sustained rate', async () => {
    const clock = steppingClock();
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 2, clock });
    const start = clock.now();
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      await bucket.take();
      times.push(clock.now() - start);
    }
    expect(times).toEqual([0, 0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000]);
  });

  it('default budget never lets more than 4 requests out in any one-second window (Azure limit: 5/s)', async () => {
    const clock = steppingClock();
    const bucket = new TokenBucket({ ...DEFAULT_BUDGET, clock });
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      await bucket.take();
      times.push(clock.now());
      if (i % 17 === 0) clock.advance(3_000); // idle periods refill the burst
    }
    for (const t of times) {
      const inWindow = times.filter((u) => u >= t && u < t + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(4);
    }
  });

  it('serves concurrent callers in order, one slot each', async () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 2, clock });
    const all = Promise.all(Array.from({ length: 6 }, () => bucket.take()));
    expect(clock.delays).toEqual([500, 1000, 1500, 2000]);
    clock.advance(2_000);
    await all;
  });

  it('refills over time up to the burst, not beyond', async () => {
    const clock = steppingClock();
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 2, clock });
    await bucket.take();
    await bucket.take();
    clock.advance(60_000);
    expect(bucket.waitTime()).toBe(0);
    await bucket.take();
    await bucket.take();
    expect(bucket.waitTime()).toBe(500);
  });

  it('fails with a budget error, and gives the slot back, when the slot is past the deadline', async () => {
    const clock = steppingClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, clock });
    await bucket.take();
    const err = await bucket.take({ deadline: clock.now() + 100, service: 'azure' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetadataError);
    expect((err as MetadataError).kind).toBe('budget');
    expect((err as MetadataError).message).toMatch(/request budget/);
    expect(bucket.waitTime()).toBe(1000);
  });

  it('gives the slot back when the caller aborts while waiting', async () => {
    const clock = steppingClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, clock });
    await bucket.take();
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(bucket.take({ signal: controller.signal })).rejects.toThrow('stop');
    expect(bucket.waitTime()).toBe(1000);
  });

  it('rejects nonsense settings', () => {
    const clock = steppingClock();
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1, clock })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0.5, clock })).toThrow(RangeError);
  });
});
