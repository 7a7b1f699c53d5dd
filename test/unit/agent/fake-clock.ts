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
