import { describe, expect, it } from '@jest/globals';
import type { EvictionResult } from '../../../src/controller/cache/cluster-state.js';
import type { PodToEvict } from '../../../src/controller/maintenance/drain-plan.js';
import { EVICTION_BACKOFF, EvictionLedger, evictPods } from '../../../src/controller/maintenance/evictor.js';
import { FakeClock, fixedRandom, seededRandom } from '../runtime/fake-clock.js';
import { expectSpreadEvenly } from '../runtime/spread.js';

const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);
const PDB = 'PodDisruptionBudget default/web allows no disruption';
const pod = (name: string): PodToEvict => ({ namespace: 'default', name, uid: `uid-${name}`, gracePeriodSeconds: 30 });

/** Refuses `uid` `times` times in a row, one attempt a minute; the retry waits the ledger drew. */
function refusals(ledger: EvictionLedger, times: number): number[] {
  const waits: number[] = [];
  for (let n = 0; n < times; n++) {
    const at = T0 + n * 60_000;
    ledger.record('node-a', 'uid-a', at, PDB);
    waits.push(ledger.attempts('node-a')[0]!.retryAtMs! - at);
  }
  return waits;
}

describe('EvictionLedger: a refused eviction is retried after the one full-jitter backoff', () => {
  it('draws random(0, min(1 min, 5 s × 2ⁿ)) for the n-th retry, from the injected random source', () => {
    expect(EVICTION_BACKOFF).toEqual({ baseMs: 5_000, capMs: 60_000 });
    expect(refusals(new EvictionLedger(fixedRandom(0.999999)), 6)).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(refusals(new EvictionLedger(fixedRandom(0.5)), 6)).toEqual([2_500, 5_000, 10_000, 20_000, 30_000, 30_000]);
    expect(refusals(new EvictionLedger(fixedRandom(0.1)), 3)).toEqual([500, 1_000, 2_000]);
    for (const wait of refusals(new EvictionLedger(seededRandom(5)), 40)) {
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThanOrEqual(EVICTION_BACKOFF.capMs);
    }
  });

  it('an accepted eviction has no retry time; a refusal after it starts from the second window', () => {
    const ledger = new EvictionLedger(fixedRandom(0.999999));
    ledger.record('node-a', 'uid-a', T0, undefined);
    expect(ledger.attempts('node-a')).toEqual([{ uid: 'uid-a', attempts: 1, lastAttemptMs: T0 }]);
    ledger.record('node-a', 'uid-a', T0 + 1_000, PDB);
    expect(ledger.attempts('node-a')[0]).toMatchObject({ attempts: 2, blockedBy: PDB, retryAtMs: T0 + 1_000 + 10_000 });
  });

  it('1,000 pods refused by one PodDisruptionBudget in the same instant are tried again spread over [0, 5 s)', async () => {
    const clock = new FakeClock(T0);
    const ledger = new EvictionLedger(seededRandom(11));
    const pods = Array.from({ length: 1_000 }, (_, i) => pod(`web-${i}`));
    const refuse = async (): Promise<EvictionResult> => ({ kind: 'blocked', reason: PDB });
    const reports = await evictPods('node-a', pods, { writer: { evictPod: refuse }, ledger, clock });
    expect(reports.every((report) => report.outcome.kind === 'blocked')).toBe(true);
    expectSpreadEvenly(
      ledger.attempts('node-a').map((attempt) => attempt.retryAtMs! - T0),
      0,
      EVICTION_BACKOFF.baseMs,
    );
  });
});

describe('evictPods: one priority after the other', () => {
  it('sends the pods of a higher priority only once those of the lower one are answered; same priority concurrently', async () => {
    const log: string[] = [];
    const evictPod = async (p: PodToEvict): Promise<EvictionResult> => {
      log.push(`start ${p.name}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`end ${p.name}`);
      return { kind: 'evicted' };
    };
    const pods: PodToEvict[] = [
      { ...pod('low-a'), priority: 0 },
      { ...pod('low-b'), priority: 0 },
      { ...pod('high'), priority: 1000 },
      { ...pod('dns'), priority: 2_000_000_000, critical: true },
    ];
    const reports = await evictPods('node-a', pods, { writer: { evictPod }, ledger: new EvictionLedger(), clock: new FakeClock(T0) });
    expect(reports.map((r) => r.pod.name)).toEqual(['low-a', 'low-b', 'high', 'dns']);
    expect(log).toEqual(['start low-a', 'start low-b', 'end low-a', 'end low-b', 'start high', 'end high', 'start dns', 'end dns']);
  });
});
