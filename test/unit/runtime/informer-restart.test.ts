// Restarts after a failed list wait the one backoff (time/backoff.ts): full jitter from 500 ms,
// capped at 30 s, drawn from the injected random source.
import { describe, expect, it } from '@jest/globals';
import { KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { silentLogger } from '../../../src/observability/logger.js';
import { ResilientInformer } from '../../../src/runtime/informer.js';
import type { Random } from '../../../src/time/backoff.js';
import { FakeClock, fixedRandom, seededRandom } from './fake-clock.js';

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** An informer whose every list fails, run for `forMs` of fake time; the waits between its restarts. */
async function restartWaits(random: Random, forMs: number): Promise<{ waits: number[]; lists: number }> {
  const clock = new FakeClock(0);
  let lists = 0;
  const informer = new ResilientInformer<KubernetesObject>({
    name: 'nodes',
    kubeConfig: new KubeConfig(),
    path: '/api/v1/nodes',
    list: async (): Promise<KubernetesListObject<KubernetesObject>> => {
      lists++;
      throw new Error('connect ECONNREFUSED 10.0.0.1:443');
    },
    clock,
    logger: silentLogger(),
    random,
  });
  void informer.start();
  for (let t = 0; t < forMs; t += 100) {
    await flush();
    clock.advance(100);
  }
  await flush();
  await informer.stop();
  return { waits: clock.delays, lists };
}

describe('ResilientInformer restarts', () => {
  it('wait random(0, min(10 s, 500 ms × 2ⁿ)): other random numbers, other waits, never above the cap', async () => {
    const top = await restartWaits(fixedRandom(0.999999), 120_000);
    expect(top.waits.slice(0, 8)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    expect(top.lists).toBe(top.waits.length);
    const low = await restartWaits(fixedRandom(0.2), 10_000);
    expect(low.waits.slice(0, 6)).toEqual([100, 200, 400, 800, 1_600, 2_000]);
    const seeded = await restartWaits(seededRandom(4), 120_000);
    expect(new Set(seeded.waits).size).toBe(seeded.waits.length);
    for (const wait of seeded.waits) expect(wait).toBeLessThanOrEqual(10_000);
  });
});
