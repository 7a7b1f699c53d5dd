import type { Clock, TimerHandle } from '../../../src/runtime/clock.js';

interface PendingTimer {
  id: number;
  firesAt: number;
  callback: () => void;
}

/** A clock that moves only when the test says so; timers fire in time order during `advance`. */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: PendingTimer[] = [];

  constructor(start = Date.UTC(2026, 10, 22, 4, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, firesAt: this.current + Math.max(0, delayMs), callback };
    this.timers.push(timer);
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
