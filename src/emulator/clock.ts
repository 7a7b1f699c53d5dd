// The emulator's settable clock. Its rules (rate limits, token TTLs, event lifecycles, fault
// windows, the scenario timeline) read only the time: they take `Pick<Clock, 'now'>` of the one
// Clock type (src/time/clock.ts), the system clock when served, this one when a test or a scenario
// drives time by hand.

import type { Clock } from '../time/clock.js';

/** A clock that moves only when told to. */
export class ManualClock implements Pick<Clock, 'now'> {
  private current: number;

  constructor(start: number | string = '2026-11-22T10:00:00Z') {
    this.current = typeof start === 'number' ? start : Date.parse(start);
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(ms: number): void {
    this.current = ms;
  }
}
