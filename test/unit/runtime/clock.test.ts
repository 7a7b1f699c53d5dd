import { describe, expect, it } from '@jest/globals';
import { sleep, systemClock, unrefSystemClock } from '../../../src/time/clock.js';
import { FakeClock } from './fake-clock.js';

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('sleep (the one sleep of the code base)', () => {
  it('resolves once the clock has moved by `ms`, not before', async () => {
    const clock = new FakeClock(0);
    let done = false;
    void sleep(clock, 1_000).then(() => (done = true));
    clock.advance(999);
    await settle();
    expect(done).toBe(false);
    clock.advance(1);
    await settle();
    expect(done).toBe(true);
  });

  it('resolves (never rejects) at once when the signal aborts, and clears its timer', async () => {
    const clock = new FakeClock(0);
    const stop = new AbortController();
    const slept = sleep(clock, 60_000, stop.signal);
    expect(clock.pendingTimers()).toBe(1);
    stop.abort(new Error('stopping'));
    await expect(slept).resolves.toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
    expect(clock.now()).toBe(0);
  });

  it('resolves at once, setting no timer, when the signal has already aborted', async () => {
    const clock = new FakeClock(0);
    const stop = new AbortController();
    stop.abort();
    await expect(sleep(clock, 60_000, stop.signal)).resolves.toBeUndefined();
    expect(clock.delays).toEqual([]);
  });

  it('leaves no abort listener behind once it has slept', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const stop = new AbortController();
    let removed = 0;
    const remove = stop.signal.removeEventListener.bind(stop.signal);
    stop.signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
      removed++;
      remove(...args);
    };
    await sleep(clock, 10, stop.signal);
    expect(removed).toBe(1);
  });
});

describe('the real clocks', () => {
  it('systemClock keeps the process running while a timer is pending; unrefSystemClock does not', () => {
    const held = systemClock.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    const background = unrefSystemClock.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    try {
      expect(held.hasRef()).toBe(true);
      expect(background.hasRef()).toBe(false);
    } finally {
      systemClock.clearTimeout(held);
      unrefSystemClock.clearTimeout(background);
    }
  });

  it('sleeps in real time', async () => {
    const started = Date.now();
    await sleep(systemClock, 20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});

describe('FakeClock', () => {
  it('fires timers in time order during advance, each at its own time', () => {
    const clock = new FakeClock(0);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    const c = clock.setTimeout(() => fired.push(['c', clock.now()]), 150);
    clock.clearTimeout(c);
    clock.advance(500);
    expect(fired).toEqual([
      ['a', 100],
      ['b', 200],
    ]);
    expect(clock.now()).toBe(500);
    expect(clock.delays).toEqual([200, 100, 150]);
  });

  it('with autoAdvance, a wait passes as soon as the code yields, the clock moved by it', async () => {
    const clock = new FakeClock({ start: 0, autoAdvance: true });
    const seen: number[] = [];
    clock.onTimer = (ms) => seen.push(ms);
    await sleep(clock, 1_000);
    await sleep(clock, 250);
    expect(clock.now()).toBe(1_250);
    expect(seen).toEqual([1_000, 250]);
  });
});
