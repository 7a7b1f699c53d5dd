import { describe, expect, it } from '@jest/globals';
import type { ControllerExit } from '../../../src/controller/controller.js';
import { runTerms } from '../../../src/controller/leadership-terms.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';

/** A run that ends each term as `exits` says (and 'stopped' once they are used up), taking `termMs` of fake time. */
function scriptedRun(clock: FakeClock, exits: ControllerExit[], termMs = 0) {
  const terms: number[] = [];
  const run = async (term: number): Promise<ControllerExit> => {
    terms.push(term);
    clock.advance(termMs);
    return exits.shift() ?? 'stopped';
  };
  return { run, terms };
}

describe('runTerms: a lost lease starts the controller again in the same process', () => {
  it('runs again after each lost lease and resolves when a term stops', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const { run, terms } = scriptedRun(clock, ['lost-leadership', 'lost-leadership', 'stopped']);
    await expect(runTerms(run, new AbortController().signal, { clock, logger: silentLogger(), random: () => 0.5 })).resolves.toBe('stopped');
    expect(terms).toEqual([1, 2, 3]);
  });

  it('backs off between terms that end quickly (1 s doubling to 30 s, jittered), and resets after a long term', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const quick = scriptedRun(clock, Array<ControllerExit>(7).fill('lost-leadership'));
    await runTerms(quick.run, new AbortController().signal, { clock, logger: silentLogger(), random: () => 0.999_999 });
    expect(clock.delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);

    const later = new FakeClock({ autoAdvance: true });
    const long = scriptedRun(later, ['lost-leadership', 'lost-leadership', 'lost-leadership'], 120_000);
    await runTerms(long.run, new AbortController().signal, { clock: later, logger: silentLogger(), random: () => 0.999_999 });
    expect(later.delays).toEqual([1_000, 1_000, 1_000]);
  });

  it('stops during the pause between terms when the process is asked to stop', async () => {
    const clock = new FakeClock();
    const stop = new AbortController();
    const { run, terms } = scriptedRun(clock, ['lost-leadership', 'lost-leadership']);
    const done = runTerms(run, stop.signal, { clock, logger: silentLogger() });
    await new Promise((resolve) => setImmediate(resolve)); // term 1 ended; the pause has begun
    expect(clock.delays).toHaveLength(1);
    stop.abort();
    await expect(done).resolves.toBe('stopped');
    expect(terms).toEqual([1]);
  });
});
