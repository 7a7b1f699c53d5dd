import type { Random } from '../../../src/time/backoff.js';
import type { Clock, TimerHandle } from '../../../src/time/clock.js';

interface PendingTimer {
  id: number;
  firesAt: number;
  callback: () => void;
}

export interface FakeClockOptions {
  /** Epoch ms the clock starts at (default 2026-11-22T04:00:00Z). */
  start?: number;
  /**
   * Each timer fires as soon as the code that set it yields, with the clock moved forward to its
   * time: for code that waits for one thing at a time (a poll loop, a retry loop), whose test then
   * needs no `advance`. Off: timers fire only during `advance`.
   */
  autoAdvance?: boolean;
}

/**
 * The one fake Clock of the tests: it moves only when the test says so (or, with autoAdvance, when
 * the code under test waits), and timers fire in time order. `sleep` (src/time/clock.ts) runs on it
 * like on the real one.
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly autoAdvance: boolean;
  private nextId = 1;
  private timers: PendingTimer[] = [];
  /** The delay of every timer set, in order: what a test of a retry or poll loop looks at. */
  readonly delays: number[] = [];
  /** Called as each timer is set, after it is recorded: a test can change the world, or stop the code, there. */
  onTimer: ((delayMs: number) => void) | undefined;

  constructor(options: FakeClockOptions | number = {}) {
    const { start = Date.UTC(2026, 10, 22, 4, 0, 0), autoAdvance = false } = typeof options === 'number' ? { start: options } : options;
    this.current = start;
    this.autoAdvance = autoAdvance;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, firesAt: this.current + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    this.delays.push(delayMs);
    this.onTimer?.(delayMs);
    if (this.autoAdvance) {
      queueMicrotask(() => {
        if (this.timers.includes(timer)) this.advance(Math.max(0, timer.firesAt - this.current));
      });
    }
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.timers.filter((timer) => timer.firesAt <= target).sort((a, b) => a.firesAt - b.firesAt || a.id - b.id)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.current = next.firesAt;
      next.callback();
    }
    this.current = target;
  }
}

/** Uniform "random" numbers from a fixed list, cycling. */
export function fixedRandom(...values: number[]): Random {
  let i = 0;
  return () => values[i++ % values.length] ?? 0.5;
}

/**
 * A seeded uniform generator (mulberry32): random-looking and the same on every run, so tests of
 * jitter check real spreads without ever being flaky.
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
