import { describe, expect, it } from '@jest/globals';
import { LeaseConflictError, runLeaderElection, type LeaseRecord, type LeaseStore } from '../../../src/runtime/leader-election.js';
import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../../../src/observability/logger.js';
import { KubeApiError } from '../../../src/api/kube-errors.js';
import { leaseError } from '../../../src/kube/client-node/lease-store.js';
import { FakeClock, fixedRandom } from './fake-clock.js';

/** One Lease object with resourceVersion semantics, shared by the candidates, like the API server. */
class MemoryLeaseStore {
  record: LeaseRecord | undefined;
  private version = 0;

  /** A view for one replica; `broken()` makes that replica's calls fail (a partitioned leader). */
  view(): LeaseStore & { broken: boolean } {
    const store: MemoryLeaseStore = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the view's methods need the shared store
    const view = {
      broken: false,
      async get() {
        if (view.broken) throw new Error('connection refused');
        return store.record && { ...store.record };
      },
      async create(record: LeaseRecord) {
        if (view.broken) throw new Error('connection refused');
        if (store.record) throw new LeaseConflictError('exists');
        store.record = { ...record, resourceVersion: String(++store.version) };
        return { ...store.record };
      },
      async update(record: LeaseRecord) {
        if (view.broken) throw new Error('connection refused');
        if (!store.record || record.resourceVersion !== store.record.resourceVersion) throw new LeaseConflictError('stale');
        store.record = { ...record, resourceVersion: String(++store.version) };
        return { ...store.record };
      },
    };
    return view;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Moves the fake clock in small steps, letting the election loops run in between. */
async function advance(clock: FakeClock, ms: number, step = 500): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await flush();
  }
}

function candidate(identity: string, store: LeaseStore, clock: FakeClock) {
  const stop = new AbortController();
  const state = { leading: false, started: 0, stopped: 0, leadingSignal: undefined as AbortSignal | undefined };
  const done = runLeaderElection(
    {
      identity,
      store,
      clock,
      logger: silentLogger(),
      onStartedLeading: (signal) => {
        state.leading = true;
        state.started++;
        state.leadingSignal = signal;
      },
      onStoppedLeading: () => {
        state.leading = false;
        state.stopped++;
      },
    },
    stop.signal,
  );
  return { state, stop, done };
}

describe('leader election', () => {
  it('acquires a missing Lease and keeps renewing it', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLeaseStore();
    const a = candidate('a', lease.view(), clock);
    await flush();
    expect(a.state.leading).toBe(true);
    const firstRenew = lease.record?.renewTime?.getTime();
    await advance(clock, 6_000);
    expect(lease.record?.holderIdentity).toBe('a');
    expect(lease.record?.renewTime?.getTime()).toBeGreaterThan(firstRenew ?? Infinity);
    a.stop.abort();
    await expect(a.done).resolves.toBe('stopped');
  });

  it('lets only one of two candidates lead while the leader renews', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLeaseStore();
    const a = candidate('a', lease.view(), clock);
    await flush();
    const b = candidate('b', lease.view(), clock);
    await advance(clock, 60_000);
    expect(a.state.leading).toBe(true);
    expect(b.state.started).toBe(0);
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  it('hands over at once when the leader stops gracefully (the Lease is released)', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLeaseStore();
    const a = candidate('a', lease.view(), clock);
    await flush();
    const b = candidate('b', lease.view(), clock);
    await advance(clock, 4_000);
    a.stop.abort();
    await expect(a.done).resolves.toBe('stopped');
    expect(lease.record?.holderIdentity).toBe('');
    await advance(clock, 2_500);
    expect(b.state.leading).toBe(true);
    expect(lease.record?.leaseTransitions).toBe(1);
    b.stop.abort();
    await b.done;
  });

  it('takes over a Lease whose holder vanished, only after it expires', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLeaseStore();
    const aView = lease.view();
    const a = candidate('a', aView, clock);
    await flush();
    const b = candidate('b', lease.view(), clock);
    await advance(clock, 2_000);
    aView.broken = true; // the leader's process is gone from the network: it renews no more
    await advance(clock, 10_000);
    expect(b.state.leading).toBe(false); // 15 s have not passed since b last saw the Lease change
    await advance(clock, 8_000);
    expect(b.state.leading).toBe(true);
    expect(lease.record?.holderIdentity).toBe('b');
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  it('stops the work at once when the leader cannot renew within the renew deadline', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLeaseStore();
    const view = lease.view();
    const a = candidate('a', view, clock);
    await flush();
    expect(a.state.leadingSignal?.aborted).toBe(false);
    view.broken = true;
    await advance(clock, 8_000);
    expect(a.state.leading).toBe(true); // still inside the 10 s renew deadline
    await advance(clock, 4_000);
    await expect(a.done).resolves.toBe('lost');
    expect(a.state.leadingSignal?.aborted).toBe(true);
    expect(a.state.stopped).toBe(1);
  });

  it('retries a failed lease request after the one full-jitter backoff: from the retry period, capped at twice it', async () => {
    for (const r of [0.1, 0.999999]) {
      const clock = new FakeClock(0);
      const view = new MemoryLeaseStore().view();
      view.broken = true;
      const stop = new AbortController();
      const done = runLeaderElection({ identity: 'a', store: view, clock, logger: silentLogger(), random: fixedRandom(r), onStartedLeading: () => undefined, onStoppedLeading: () => undefined }, stop.signal);
      await advance(clock, 20_000, 100);
      expect(clock.delays.slice(0, 5)).toEqual([2_000, 4_000, 4_000, 4_000, 4_000].map((ceiling) => Math.round(r * ceiling)));
      stop.abort();
      await expect(done).resolves.toBe('stopped');
    }
  });

  it('a leader whose renewals fail retries with the backoff, but never sleeps past its renew deadline', async () => {
    const clock = new FakeClock(0);
    const view = new MemoryLeaseStore().view();
    let lostAt: number | undefined;
    const stop = new AbortController();
    const done = runLeaderElection(
      { identity: 'a', store: view, clock, logger: silentLogger(), random: fixedRandom(0.999999), onStartedLeading: () => (view.broken = true), onStoppedLeading: () => (lostAt = clock.now()) },
      stop.signal,
    );
    await flush();
    await advance(clock, 14_000, 100);
    await expect(done).resolves.toBe('lost');
    // The renewal period, then backoffs of 2 s and 4 s, then only the 2 s left before the 10 s deadline.
    expect(clock.delays).toEqual([2_000, 2_000, 4_000, 2_000]);
    expect(lostAt).toBe(10_000);
  });

  it('logs a lease failure once, retries quietly while it stays the same, and says when it is over', async () => {
    const clock = new FakeClock();
    const lines: { level: string; message: string; error?: string }[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logger = createLogger({ component: 'test', level: 'info', stream });
    const shared = new MemoryLeaseStore();
    const store = shared.view();
    const missing = leaseError(new KubeApiError(404, 'NotFound', 'namespaces "nodemeta-system" not found', 'POST', '/apis/coordination.k8s.io/v1/namespaces/nodemeta-system/leases'), 'nodemeta-system') as Error;
    let failing = true;
    const create = store.create.bind(store);
    store.create = async (record) => {
      if (failing) throw missing;
      return create(record);
    };
    const stop = new AbortController();
    const done = runLeaderElection({ identity: 'a', store, clock, logger, onStartedLeading: () => undefined, onStoppedLeading: () => undefined }, stop.signal);
    await advance(clock, 20_000); // ten retry periods
    const warnings = lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.error).toBe('namespace "nodemeta-system" does not exist: create it (kubectl create namespace nodemeta-system) or choose another with --lease-namespace');
    failing = false;
    await advance(clock, 4_000);
    expect(lines.map((line) => line.message)).toContain('leader election: lease requests work again');
    expect(lines.map((line) => line.message)).toContain('leader election: became leader');
    stop.abort();
    await done;
  });

  it('only a create\'s 404 means a missing namespace; other failures keep the server\'s one line', () => {
    const get404 = new KubeApiError(404, 'NotFound', 'leases.coordination.k8s.io "x" not found', 'GET', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/x');
    expect(leaseError(get404, 'ns')).toBe(get404);
    const forbidden = new KubeApiError(403, 'Forbidden', 'leases is forbidden', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/x');
    expect((leaseError(forbidden, 'ns') as Error).message).toBe('PUT /apis/coordination.k8s.io/v1/namespaces/ns/leases/x: 403 Forbidden: leases is forbidden');
  });
});
