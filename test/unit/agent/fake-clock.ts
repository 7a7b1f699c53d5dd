import type { Clock } from '../../../src/agent/http/clock.js';

/**
 * A clock for deterministic tests. `advanceOnSleep` (default): sleeping moves time forward at once,
 * for code that sleeps one thing at a time. Without it, sleeps are only recorded (for concurrent
 * reservations whose wait times are what matters).
 */
export class FakeClock implements Clock {
  t: number;
  readonly sleeps: number[] = [];
  private readonly advanceOnSleep: boolean;

  constructor(start = Date.UTC(2026, 10, 22, 10, 0, 0), advanceOnSleep = true) {
    this.t = start;
    this.advanceOnSleep = advanceOnSleep;
  }

  now(): number {
    return this.t;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    if (this.advanceOnSleep) this.t += ms;
  }

  advance(ms: number): void {
    this.t += ms;
  }
}

/** Uniform "random" numbers from a fixed list, cycling. */
export function fixedRandom(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] ?? 0.5;
}

/**
 * A seeded uniform generator (mulberry32): random-looking and the same on every run, so tests of
 * jitter check real spreads without ever being flaky.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
