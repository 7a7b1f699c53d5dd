import { describe, expect, test } from '@jest/globals';
import { ExponentialFailureRateLimiter, TokenBucketRateLimiter, MaxOfRateLimiter } from '../../../src/runtime/rate-limiter.js';
import { runWorkers, WorkQueue } from '../../../src/runtime/workqueue.js';
import { FakeClock } from './fake-clock.js';

function newQueue(clock = new FakeClock()) {
  const rateLimiter = new MaxOfRateLimiter(
    new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1000 }),
    new TokenBucketRateLimiter({ qps: 10, burst: 100 }, clock),
  );
  return { queue: new WorkQueue({ clock, rateLimiter }), clock };
}

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  test('hands keys out in order and collapses duplicates while queued', async () => {
    const { queue } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.len()).toBe(0);
  });

  test('never hands out a key that is in flight; a re-add runs once more after done', async () => {
    const { queue } = newQueue();
    queue.add('a');
    const first = await queue.get();
    expect(first).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(0);

    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await flush();
    expect(second).toBeUndefined();

    queue.done('a');
    await flush();
    expect(second).toBe('a');
    queue.done('a');
    expect(queue.len()).toBe(0);
  });

  test('a waiting get receives a key added later', async () => {
    const { queue } = newQueue();
    const pending = queue.get();
    queue.add('a');
    expect(await pending).toBe('a');
  });

  test('two waiting workers receive different keys', async () => {
    const { queue } = newQueue();
    const both = Promise.all([queue.get(), queue.get()]);
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect((await both).sort()).toEqual(['a', 'b']);
  });

  test('addAfter releases keys when due, earliest first, keeping the earlier time for a repeated key', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('late', 300);
    queue.addAfter('early', 100);
    queue.addAfter('late', 200);
    queue.addAfter('early', 500);
    clock.advance(99);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
    clock.advance(100);
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('early');
    expect(await queue.get()).toBe('late');
    clock.advance(1000);
    expect(queue.len()).toBe(0);
  });

  test('keys due at the same time come out in the order they were added', async () => {
    const { queue, clock } = newQueue();
    for (const key of ['c', 'a', 'b']) queue.addAfter(key, 50);
    clock.advance(50);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['c', 'a', 'b']);
  });

  test('addAfter with no delay adds at once', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 0);
    expect(queue.len()).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  test('addRateLimited backs off exponentially until forget', () => {
    const { queue, clock } = newQueue();
    const readyAfter = (): number => {
      queue.addRateLimited('a');
      let waited = 0;
      while (queue.len() === 0 && waited < 10_000) {
        clock.advance(1);
        waited++;
      }
      // get() takes a ready key synchronously, so it can be marked done right away.
      void queue.get();
      queue.done('a');
      return waited;
    };
    expect([readyAfter(), readyAfter(), readyAfter()]).toEqual([5, 10, 20]);
    expect(queue.numRequeues('a')).toBe(3);
    queue.forget('a');
    expect(readyAfter()).toBe(5);
  });

  test('shutDown wakes waiting workers, drops queued keys and ignores new adds', async () => {
    const { queue, clock } = newQueue();
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add('a');
    queue.addAfter('b', 10);
    clock.advance(100);
    expect(queue.len()).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });

  test('shutDownWithDrain hands out queued keys and resolves once in-flight keys are done', async () => {
    const { queue } = newQueue();
    queue.add('a');
    queue.add('b');
    const inFlight = await queue.get();
    let drained = false;
    const draining = queue.shutDownWithDrain().then(() => (drained = true));
    queue.add('c');
    expect(await queue.get()).toBe('b');
    expect(await queue.get()).toBeUndefined();
    await flush();
    expect(drained).toBe(false);
    queue.done(inFlight!);
    await flush();
    expect(drained).toBe(false);
    queue.done('b');
    await draining;
    expect(drained).toBe(true);
  });

  test('shutDown after shutDownWithDrain stops without waiting for in-flight keys', async () => {
    const { queue } = newQueue();
    queue.add('a');
    await queue.get();
    const draining = queue.shutDownWithDrain();
    queue.shutDown();
    await expect(draining).resolves.toBeUndefined();
  });

  test('reports queue wait, processing time, adds and retries to the metrics hooks', async () => {
    const clock = new FakeClock();
    const events: string[] = [];
    const queue = new WorkQueue({
      clock,
      rateLimiter: new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1000 }),
      metrics: {
        added: (key) => events.push(`added ${key}`),
        queued: (key, ms) => events.push(`queued ${key} ${ms}`),
        processed: (key, ms) => events.push(`processed ${key} ${ms}`),
        retried: (key) => events.push(`retried ${key}`),
      },
    });
    queue.add('a');
    queue.add('a');
    clock.advance(30);
    await queue.get();
    clock.advance(70);
    queue.addRateLimited('a');
    queue.done('a');
    queue.done('a');
    expect(events).toEqual(['added a', 'queued a 30', 'retried a', 'processed a 70']);
  });

  test('shutDownWithDrain on an idle queue resolves at once', async () => {
    const { queue } = newQueue();
    await expect(queue.shutDownWithDrain()).resolves.toBeUndefined();
  });
});

describe('runWorkers', () => {
  test('processes each key, forgets on success and requeues failures with backoff', async () => {
    const { queue, clock } = newQueue();
    const calls: string[] = [];
    let failuresLeft = 2;
    const errors: string[] = [];
    const done = runWorkers(
      queue,
      2,
      async (key) => {
        calls.push(key);
        if (key === 'flaky' && failuresLeft-- > 0) throw new Error('conflict');
      },
      { onError: (key) => errors.push(key) },
    );
    queue.add('ok');
    queue.add('flaky');
    await flush();
    expect(calls.sort()).toEqual(['flaky', 'ok']);
    expect(queue.numRequeues('flaky')).toBe(1);
    clock.advance(5);
    await flush();
    expect(queue.numRequeues('flaky')).toBe(2);
    clock.advance(10);
    await flush();
    expect(calls.filter((key) => key === 'flaky')).toHaveLength(3);
    expect(queue.numRequeues('flaky')).toBe(0);
    expect(errors).toEqual(['flaky', 'flaky']);
    queue.shutDown();
    await done;
  });

  test('honours requeueAfter', async () => {
    const { queue, clock } = newQueue();
    let runs = 0;
    const done = runWorkers(queue, 1, async () => {
      runs++;
      return runs === 1 ? { requeueAfter: 1000 } : {};
    });
    queue.add('a');
    await flush();
    expect(runs).toBe(1);
    clock.advance(999);
    await flush();
    expect(runs).toBe(1);
    clock.advance(1);
    await flush();
    expect(runs).toBe(2);
    queue.shutDown();
    await done;
  });

  test('never runs one key in two workers at once', async () => {
    const { queue } = newQueue();
    let concurrent = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const done = runWorkers(queue, 4, async () => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      runs++;
      await flush();
      concurrent--;
    });
    for (let i = 0; i < 5; i++) {
      queue.add('same');
      await flush();
    }
    await flush();
    await flush();
    expect(maxConcurrent).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(2);
    await queue.shutDownWithDrain();
    queue.shutDown();
    await done;
  });
});
