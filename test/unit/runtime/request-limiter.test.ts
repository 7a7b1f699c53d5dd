// The client-side rate limit: burst at once, then qps, and the most urgent waiter first.
import { describe, expect, it } from '@jest/globals';
import { RequestLimiter } from '../../../src/runtime/request-limiter.js';
import { Semaphore } from '../../../src/runtime/semaphore.js';
import { FakeClock } from './fake-clock.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('RequestLimiter', () => {
  it('lets a burst through at once, then one request per 1/qps', async () => {
    const clock = new FakeClock(0);
    const limiter = new RequestLimiter({ qps: 10, burst: 3, clock });
    const done: number[] = [];
    for (let i = 0; i < 5; i++) void limiter.acquire().then(() => done.push(i));
    await flush();
    expect(done).toEqual([0, 1, 2]);
    clock.advance(99);
    await flush();
    expect(done).toEqual([0, 1, 2]);
    clock.advance(1);
    await flush();
    expect(done).toEqual([0, 1, 2, 3]);
    clock.advance(100);
    await flush();
    expect(done).toEqual([0, 1, 2, 3, 4]);
  });

  it('serves urgent waiters before normal ones, and low ones last, whatever their arrival order', async () => {
    const clock = new FakeClock(0);
    const limiter = new RequestLimiter({ qps: 10, burst: 1, clock });
    const order: string[] = [];
    await limiter.acquire();
    void limiter.acquire('low').then(() => order.push('event'));
    void limiter.acquire('normal').then(() => order.push('eviction'));
    void limiter.acquire('urgent').then((done) => {
      order.push('cordon');
      done();
    });
    for (let i = 0; i < 3; i++) {
      clock.advance(100);
      await flush();
    }
    expect(order).toEqual(['cordon', 'eviction', 'event']);
  });

  it('holds normal and low requests while an urgent one is in flight, and lets them go when it ends', async () => {
    const clock = new FakeClock(0);
    const limiter = new RequestLimiter({ qps: 100, burst: 100, clock });
    const sent: string[] = [];
    const earlier = await limiter.acquire('normal'); // in flight before the urgent one: unaffected
    const cordon = await limiter.acquire('urgent');
    void limiter.acquire('low').then(() => sent.push('event'));
    void limiter.acquire('normal').then(() => sent.push('status'));
    const second = limiter.acquire('urgent').then((done) => (sent.push('cordon 2'), done));
    await flush();
    expect(sent).toEqual(['cordon 2']); // urgent never waits for tokens it has
    clock.advance(500);
    cordon();
    await flush();
    expect(sent).toEqual(['cordon 2']); // the second cordon is still in flight
    (await second)();
    await flush();
    expect(sent).toEqual(['cordon 2', 'status', 'event']);
    earlier();
  });

  it('holds them at most urgentHoldMs, so a wave of cordons cannot starve the rest', async () => {
    const clock = new FakeClock(0);
    const limiter = new RequestLimiter({ qps: 100, burst: 100, clock, urgentHoldMs: 2_000 });
    const sent: string[] = [];
    const cordon = await limiter.acquire('urgent'); // hangs
    void limiter.acquire('normal').then(() => sent.push('status'));
    clock.advance(1_000);
    void limiter.acquire('low').then(() => sent.push('event'));
    clock.advance(999);
    await flush();
    expect(sent).toEqual([]);
    clock.advance(1);
    await flush();
    expect(sent).toEqual(['status']);
    clock.advance(1_000);
    await flush();
    expect(sent).toEqual(['status', 'event']);
    cordon();
    cordon(); // a second call counts once
    expect(limiter.waiting()).toBe(0);
  });

  it('urgentHoldMs 0: priorities order the waiters only', async () => {
    const clock = new FakeClock(0);
    const limiter = new RequestLimiter({ qps: 100, burst: 100, clock, urgentHoldMs: 0 });
    await limiter.acquire('urgent');
    const sent: string[] = [];
    void limiter.acquire('normal').then(() => sent.push('status'));
    await flush();
    expect(sent).toEqual(['status']);
  });

  it('refuses a rate that would never let a request through', () => {
    expect(() => new RequestLimiter({ qps: 0, burst: 1, clock: new FakeClock(0) })).toThrow(/qps > 0/);
  });
});

describe('Semaphore', () => {
  it('holds at most its limit and hands slots over in arrival order', async () => {
    const semaphore = new Semaphore(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    const tasks = [0, 1, 2, 3].map((i) => semaphore.run(() => new Promise<void>((resolve) => (started.push(i), release.push(resolve)))));
    await flush();
    expect(started).toEqual([0, 1]);
    release[0]!();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    expect(semaphore.inUse()).toBe(2);
    release[1]!();
    release[2]!();
    await flush();
    release[3]!();
    await Promise.all(tasks);
    expect(semaphore.inUse()).toBe(0);
  });
});
