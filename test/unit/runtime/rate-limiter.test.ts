import { describe, expect, test } from '@jest/globals';
import {
  defaultControllerRateLimiter,
  ExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  TokenBucketRateLimiter,
} from '../../../src/runtime/rate-limiter.js';
import { FakeClock } from './fake-clock.js';

describe('ExponentialFailureRateLimiter', () => {
  test('doubles per failure from the base delay and stops at the cap', () => {
    const limiter = new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1000 });
    const delays = Array.from({ length: 10 }, () => limiter.when('node-a'));
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(limiter.numRequeues('node-a')).toBe(10);
  });

  test('keys back off independently and forget resets one key only', () => {
    const limiter = new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1000 });
    limiter.when('node-a');
    limiter.when('node-a');
    expect(limiter.when('node-b')).toBe(5);
    limiter.forget('node-a');
    expect(limiter.numRequeues('node-a')).toBe(0);
    expect(limiter.when('node-a')).toBe(5);
    expect(limiter.when('node-b')).toBe(10);
  });

  test('a very long failure streak stays at the cap', () => {
    const limiter = new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1_000_000 });
    let last = 0;
    for (let i = 0; i < 2000; i++) last = limiter.when('node-a');
    expect(last).toBe(1_000_000);
  });
});

describe('TokenBucketRateLimiter', () => {
  test('passes the burst at once, then spaces callers at 1/qps', () => {
    const clock = new FakeClock();
    const limiter = new TokenBucketRateLimiter({ qps: 10, burst: 3 }, clock);
    const delays = Array.from({ length: 6 }, (_, i) => limiter.when(`node-${i}`));
    expect(delays).toEqual([0, 0, 0, 100, 200, 300]);
  });

  test('refills over time up to the burst', () => {
    const clock = new FakeClock();
    const limiter = new TokenBucketRateLimiter({ qps: 10, burst: 2 }, clock);
    limiter.when('a');
    limiter.when('b');
    expect(limiter.when('c')).toBe(100);
    clock.advance(10_000);
    expect([limiter.when('d'), limiter.when('e'), limiter.when('f')]).toEqual([0, 0, 100]);
  });
});

describe('MaxOfRateLimiter / default controller limiter', () => {
  test('the global bucket dominates when many keys fail at once', () => {
    const clock = new FakeClock();
    const limiter = defaultControllerRateLimiter(clock, { bucket: { qps: 10, burst: 2 } });
    expect(limiter.when('a')).toBe(5);
    expect(limiter.when('b')).toBe(5);
    expect(limiter.when('c')).toBe(100);
  });

  test('the per-key backoff dominates for one repeatedly failing key', () => {
    const clock = new FakeClock();
    const limiter = defaultControllerRateLimiter(clock);
    const delays = Array.from({ length: 12 }, () => limiter.when('a'));
    expect(delays.at(-1)).toBe(5 * 2 ** 11);
  });

  test('forget reaches every limiter; numRequeues is the largest count', () => {
    const clock = new FakeClock();
    const backoff = new ExponentialFailureRateLimiter({ baseDelayMs: 1, maxDelayMs: 100 });
    const limiter = new MaxOfRateLimiter(backoff, new TokenBucketRateLimiter({ qps: 1, burst: 100 }, clock));
    limiter.when('a');
    limiter.when('a');
    expect(limiter.numRequeues('a')).toBe(2);
    limiter.forget('a');
    expect(backoff.numRequeues('a')).toBe(0);
  });
});
