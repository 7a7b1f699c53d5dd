import { describe, expect, it } from '@jest/globals';
import type { ControllerStatus, NodeMetadata } from '../../../src/api/nodemetadata.js';
import { NotLeaderError } from '../../../src/controller/cache/cluster-state.js';
import { StatusReports } from '../../../src/controller/write/status-reports.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { Random } from '../../../src/time/backoff.js';
import { FakeClock, fixedRandom } from '../runtime/fake-clock.js';

interface Write {
  name: string;
  status: ControllerStatus;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const report = (reason: string): ControllerStatus => ({ conditions: [{ type: 'Labeled', status: 'True', reason, message: '', lastTransitionTime: '2026-12-01T10:00:00Z' }] });

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setup(concurrency = 2, random: Random = () => 0.5) {
  const clock = new FakeClock();
  const writes: Write[] = [];
  const stored: string[] = [];
  const reports = new StatusReports({
    write: (name, status) =>
      new Promise<NodeMetadata>((resolve, reject) => writes.push({ name, status, resolve: () => resolve({ metadata: { name } } as NodeMetadata), reject })),
    written: (name) => stored.push(name),
    clock,
    logger: silentLogger(),
    concurrency,
    random,
  });
  const answer = (name: string, error?: unknown) => {
    const index = writes.findIndex((write) => write.name === name);
    const [write] = writes.splice(index, 1);
    if (error === undefined) write!.resolve();
    else write!.reject(error);
  };
  return { clock, writes, stored, reports, answer };
}

describe('StatusReports: condition-only status writes off the reconcile path', () => {
  it('writes in the background, at most `concurrency` at once, and says what was stored', async () => {
    const { writes, stored, reports, answer } = setup(2);
    for (const name of ['a', 'b', 'c']) expect(reports.submit(name, report('x'))).toBe(true);
    await settle();
    expect(writes.map((write) => write.name)).toEqual(['a', 'b']);
    answer('a');
    await settle();
    expect(stored).toEqual(['a']);
    expect(writes.map((write) => write.name)).toEqual(['b', 'c']);
    answer('b');
    answer('c');
    await settle();
    expect(reports.pending()).toBe(0);
    expect(reports.latest('a')).toBeUndefined();
  });

  it('takes an equal report once, and only the latest of a node\'s reports waits', async () => {
    const { writes, reports, answer } = setup(1);
    reports.submit('a', report('first'));
    await settle();
    expect(reports.submit('a', report('first'))).toBe(false); // being written
    expect(reports.submit('a', report('second'))).toBe(true);
    expect(reports.submit('a', report('third'))).toBe(true);
    expect(reports.submit('a', report('third'))).toBe(false); // waiting
    expect(reports.latest('a')).toEqual(report('third'));
    answer('a');
    await settle();
    expect(writes.map((write) => write.status)).toEqual([report('third')]); // 'second' never sent
  });

  it('supersede: drops the waiting report and waits for the one being written, which is not retried if it fails', async () => {
    const { clock, writes, reports, answer } = setup(1);
    reports.submit('a', report('sent'));
    await settle();
    reports.submit('a', report('waiting'));
    let superseded = false;
    const done = reports.supersede('a').then(() => (superseded = true));
    await settle();
    expect(superseded).toBe(false);
    answer('a', new Error('the API server answered 500'));
    await done;
    clock.advance(60_000);
    await settle();
    expect(writes).toHaveLength(0);
    expect(reports.pending()).toBe(0);
  });

  it('retries a failed report after a backoff, holding no writer meanwhile', async () => {
    const { clock, writes, stored, reports, answer } = setup(1);
    reports.submit('a', report('x'));
    reports.submit('b', report('x'));
    await settle();
    answer('a', new Error('the API server answered 503'));
    await settle();
    expect(writes.map((write) => write.name)).toEqual(['b']); // b goes while a waits out its backoff
    expect(reports.latest('a')).toEqual(report('x'));
    expect(reports.submit('a', report('x'))).toBe(false); // already held for its retry
    answer('b');
    clock.advance(250); // full jitter: 0.5 of 500 ms
    await settle();
    expect(writes.map((write) => write.name)).toEqual(['a']);
    answer('a');
    await settle();
    expect(stored).toEqual(['b', 'a']);
  });

  it('retries with the one full-jitter backoff: random(0, min(30 s, 500 ms × 2ⁿ)) from the injected random source', async () => {
    for (const r of [0.999999, 0.3]) {
      const { clock, reports, answer } = setup(1, fixedRandom(r));
      reports.submit('a', report('x'));
      for (let n = 0; n < 8; n++) {
        await settle();
        answer('a', new Error('the API server answered 503'));
        await settle();
        clock.advance(clock.delays.at(-1)!);
      }
      expect(clock.delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000].map((ceiling) => Math.round(r * ceiling)));
    }
  });

  it('drops what waits when the process is no longer the leader, and takes reports again after', async () => {
    const { writes, reports, answer } = setup(1);
    reports.submit('a', report('x'));
    reports.submit('b', report('x'));
    await settle();
    answer('a', new NotLeaderError('lost the lease'));
    await settle();
    expect(writes).toHaveLength(0);
    expect(reports.latest('b')).toBeUndefined();
    expect(reports.submit('b', report('y'))).toBe(true);
    await settle();
    expect(writes.map((write) => write.name)).toEqual(['b']);
  });

  it('stop: nothing more is taken or written', async () => {
    const { writes, reports } = setup(1);
    reports.submit('a', report('x'));
    reports.submit('b', report('x'));
    await settle();
    reports.stop();
    expect(reports.submit('c', report('x'))).toBe(false);
    writes[0]!.resolve();
    await settle();
    expect(writes).toHaveLength(1);
  });
});
