/* global console */
// Latency samples as the benches print them: count, median, worst and best, in milliseconds.

export function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, median: sorted[Math.floor(sorted.length / 2)], worst: sorted.at(-1), best: sorted[0] };
}

/** `name: n=20 median=627 ms worst=1045 ms best=184 ms` */
export function printSamples(name, samples) {
  const s = stats(samples);
  const ms = (value) => `${Math.round(value)} ms`;
  console.log(`${name}: n=${s.n} median=${ms(s.median)} worst=${ms(s.worst)} best=${ms(s.best)}`);
}
