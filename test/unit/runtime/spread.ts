import { expect } from '@jest/globals';

/**
 * Asserts that `samples` (e.g. the delays of 1,000 agents that failed at the same instant) are spread
 * evenly over [low, high): all inside, and their empirical distribution within `tolerance` of the
 * uniform one at every point (a Kolmogorov-Smirnov distance; 0.06 is beyond the 99.9 % critical value
 * for 1,000 samples). Delays without jitter fail it: they all sit at one point, a distance near 1.
 */
export function expectSpreadEvenly(samples: readonly number[], low: number, high: number, tolerance = 0.06): void {
  expect(samples.length).toBeGreaterThan(0);
  for (const s of samples) {
    expect(s).toBeGreaterThanOrEqual(low);
    expect(s).toBeLessThanOrEqual(high);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  let distance = 0;
  sorted.forEach((s, i) => {
    const uniform = (s - low) / (high - low);
    distance = Math.max(distance, Math.abs((i + 1) / sorted.length - uniform), Math.abs(i / sorted.length - uniform));
  });
  expect(distance).toBeLessThan(tolerance);
}
