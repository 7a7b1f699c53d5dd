// Per-VM request rate limit. Azure: "requests to IMDS are limited to 5 per second (per VM); those
// above are rejected with 429" (seed 000, "Limitation du débit"). Alibaba throttles frequent access
// without a published figure (seed 002, 説明 under 通常モード).

import type { Clock } from '../time/clock.js';

const WINDOW_MS = 1000;

/** Sliding one-second window over the requests it let through. */
export class RateLimiter {
  private accepted: number[] = [];

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly limit: () => number,
  ) {}

  /** true: the request may go ahead (and counts); false: answer 429. A limit of 0 disables it. */
  tryAcquire(): boolean {
    const limit = this.limit();
    if (limit <= 0) return true;
    const now = this.clock.now();
    this.accepted = this.accepted.filter((t) => t > now - WINDOW_MS && t <= now);
    if (this.accepted.length >= limit) return false;
    this.accepted.push(now);
    return true;
  }
}
