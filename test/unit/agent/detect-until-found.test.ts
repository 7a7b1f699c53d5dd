// The agent's start-up probe for its metadata service waits the one backoff between probes: full
// jitter from 1 s, capped at 1 min, so a fleet rebooted together does not probe in step.
import { describe, expect, it } from '@jest/globals';
import { MetadataError } from '../../../src/agent/http/errors.js';
import type { MetadataProvider } from '../../../src/agent/providers/provider.js';
import { DETECT_BACKOFF, detectUntilFound } from '../../../src/agent/run-agent.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { Random } from '../../../src/time/backoff.js';
import { FakeClock, fixedRandom, seededRandom } from '../runtime/fake-clock.js';
import { expectSpreadEvenly } from '../runtime/spread.js';

const provider = { name: 'azure' } as MetadataProvider;
const notFound = () => new MetadataError({ kind: 'connection', service: 'metadata', detail: 'connect ECONNREFUSED 169.254.169.254:80' });

/** Probes that fail `failures` times, then find the service; the waits in between. */
async function probe(failures: number, random: Random, signal = new AbortController().signal) {
  const clock = new FakeClock({ autoAdvance: true });
  let probes = 0;
  const open = async () => {
    if (probes++ < failures) throw notFound();
    return provider;
  };
  const found = await detectUntilFound(open, silentLogger(), signal, { clock, random });
  return { found, probes, waits: clock.delays };
}

describe('detectUntilFound', () => {
  it('waits random(0, min(1 min, 1 s × 2ⁿ)) between probes: other random numbers, other waits, never above the cap', async () => {
    expect(DETECT_BACKOFF).toEqual({ baseMs: 1_000, capMs: 60_000 });
    const top = await probe(9, fixedRandom(0.999999));
    expect(top.found).toBe(provider);
    expect(top.probes).toBe(10);
    expect(top.waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect((await probe(4, fixedRandom(0.25))).waits).toEqual([250, 500, 1_000, 2_000]);
  });

  it('1,000 agents that found no metadata service in the same instant probe again spread over [0, 1 s)', async () => {
    const random = seededRandom(21);
    const firstWaits: number[] = [];
    for (let agent = 0; agent < 1_000; agent++) firstWaits.push((await probe(1, random)).waits[0]!);
    expectSpreadEvenly(firstWaits, 0, DETECT_BACKOFF.baseMs);
  });

  it('stops when aborted, and lets an error that is no metadata failure through', async () => {
    const stop = new AbortController();
    stop.abort();
    expect((await probe(100, fixedRandom(0.5), stop.signal)).found).toBeUndefined();
    const bug = detectUntilFound(async () => Promise.reject(new TypeError('bug')), silentLogger(), new AbortController().signal, { clock: new FakeClock(), random: fixedRandom(0.5) });
    await expect(bug).rejects.toThrow(TypeError);
  });
});
