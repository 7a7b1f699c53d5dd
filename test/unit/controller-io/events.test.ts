import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, ResponseContext, ServerConfiguration, createConfiguration, wrapHttpLibrary, type RequestContext } from '@kubernetes/client-node';
import { KubeApiError, isNotFound, isRetryable } from '../../../src/api/kube-errors.js';
import { kubeEventSink } from '../../../src/kube/client-node/event-sink.js';
import { KubeEventRecorder, type EventSink, type KubeEvent, type KubeEventRecorderOptions, type ObjectReference } from '../../../src/observability/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock, fixedRandom } from '../runtime/fake-clock.js';

class RecordingSink implements EventSink {
  readonly created: KubeEvent[] = [];
  readonly bumps: { namespace: string; name: string; count: number; lastTimestamp: string; message?: string }[] = [];
  failNext: unknown;
  expired = new Set<string>();

  async create(event: KubeEvent): Promise<void> {
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.created.push(event);
  }

  async updateCount(namespace: string, name: string, count: number, lastTimestamp: string, message?: string): Promise<void> {
    if (this.expired.has(name)) throw notFound();
    this.bumps.push({ namespace, name, count, lastTimestamp, ...(message === undefined ? {} : { message }) });
  }
}

/**
 * An API server that takes `latencyMs` of fake time per write, answers `failWith(call)` when it
 * returns an error, and keeps every Event as the server would (name → count, message).
 */
class SlowSink implements EventSink {
  readonly stored = new Map<string, KubeEvent>();
  readonly callTimes: number[] = [];
  creates = 0;
  patches = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly latencyMs: number,
    private readonly failWith: (call: number) => unknown = () => undefined,
  ) {}

  async create(event: KubeEvent): Promise<void> {
    await this.request(() => {
      this.creates++;
      this.stored.set(event.metadata.name, { ...event });
    });
  }

  async updateCount(_namespace: string, name: string, count: number, lastTimestamp: string, message?: string): Promise<void> {
    await this.request(() => {
      this.patches++;
      const event = this.stored.get(name);
      if (event === undefined) throw notFound();
      this.stored.set(name, { ...event, count, lastTimestamp, message: message ?? event.message });
    });
  }

  /** Final count per (object, reason, message), summed over the Events that carry it. */
  countsByOccurrence(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const event of this.stored.values()) {
      const key = occurrenceKey(event.involvedObject, event.reason, event.message);
      counts.set(key, (counts.get(key) ?? 0) + event.count);
    }
    return counts;
  }

  totalCount(): number {
    return [...this.stored.values()].reduce((sum, event) => sum + event.count, 0);
  }

  private async request(apply: () => void): Promise<void> {
    const call = this.callTimes.push(this.clock.now());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.latencyMs));
      const error = this.failWith(call);
      if (error !== undefined) throw error;
      apply();
    } finally {
      this.inFlight--;
    }
  }
}

const node = { apiVersion: 'v1', kind: 'Node', name: 'aks-pool-000001', uid: 'u1' };

function notFound(): KubeApiError {
  return new KubeApiError(404, 'NotFound', 'events "x" not found', 'PATCH', '/api/v1/namespaces/default/events/x');
}

function apiError(status: number, reason: string): KubeApiError {
  return new KubeApiError(status, reason, reason, 'POST', '/api/v1/namespaces/default/events');
}

function occurrenceKey(object: ObjectReference, reason: string, message: string): string {
  return `${object.name}/${reason}/${message}`;
}

function recorder(sink: EventSink, clock: FakeClock, extra: Partial<KubeEventRecorderOptions> = {}) {
  return new KubeEventRecorder({ sink, clock, logger: silentLogger(), component: 'nodemeta-controller', instance: 'replica-a', aggregationWindowMs: 600_000, ...extra });
}

/** Lets promise callbacks run, then moves the fake clock, until `work` settles (the fake sink waits on the clock). */
async function runUntil(clock: FakeClock, work: Promise<void>, stepMs = 10): Promise<void> {
  let done = false;
  void work.then(() => (done = true));
  for (let step = 0; !done; step++) {
    if (step > 200_000) throw new Error('the recorder never settled');
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!done) clock.advance(stepMs);
  }
}

/** Lets every pending promise callback run, without moving the clock. */
async function settleCallbacks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('KubeEventRecorder', () => {
  it('creates a core/v1 Event on the Node, in namespace default, with the reporting component', async () => {
    const sink = new RecordingSink();
    const clock = new FakeClock(Date.UTC(2026, 10, 22, 4, 0, 0));
    const events = recorder(sink, clock);
    events.record(node, 'Normal', 'MaintenanceScheduled', 'Reboot EV-1');
    await events.flush();
    expect(sink.created).toHaveLength(1);
    expect(sink.created[0]).toMatchObject({
      metadata: { namespace: 'default' },
      involvedObject: node,
      type: 'Normal',
      reason: 'MaintenanceScheduled',
      message: 'Reboot EV-1',
      count: 1,
      firstTimestamp: '2026-11-22T04:00:00Z',
      lastTimestamp: '2026-11-22T04:00:00Z',
      source: { component: 'nodemeta-controller' },
      reportingComponent: 'nodemeta-controller',
      reportingInstance: 'replica-a',
    });
    expect(sink.created[0]!.metadata.name).toMatch(/^aks-pool-000001\.[0-9a-f]+$/);
  });

  it('aggregates the same reason and message within the window into a count, and starts anew after it', async () => {
    const sink = new RecordingSink();
    const clock = new FakeClock();
    const events = recorder(sink, clock);
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    await events.flush();
    clock.advance(60_000);
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'another message');
    await events.flush();
    expect(sink.created.map((e) => e.message)).toEqual(['bad tag', 'another message']);
    expect(sink.bumps.map((b) => b.count)).toEqual([2, 3]);
    expect(sink.bumps[0]!.name).toBe(sink.created[0]!.metadata.name);
    expect(sink.bumps[1]!.lastTimestamp).toBe(new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'));

    clock.advance(700_000);
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    await events.flush();
    expect(sink.created).toHaveLength(3);
  });

  it('creates the Event again, with its name and count, when the aggregated one expired', async () => {
    const sink = new RecordingSink();
    const events = recorder(sink, new FakeClock());
    events.record(node, 'Normal', 'LabelsApplied', 'set a=b');
    await events.flush();
    sink.expired.add(sink.created[0]!.metadata.name);
    events.record(node, 'Normal', 'LabelsApplied', 'set a=b');
    await events.flush();
    expect(sink.created).toHaveLength(2);
    expect(sink.created[1]).toMatchObject({ metadata: { name: sink.created[0]!.metadata.name }, count: 2 });
  });

  it('never throws to the caller: a refused write is dropped and counted at once, later Events still go out', async () => {
    const sink = new RecordingSink();
    let dropped = 0;
    const events = recorder(sink, new FakeClock(), { onDropped: () => dropped++ });
    sink.failNext = apiError(403, 'Forbidden');
    expect(() => events.record(node, 'Normal', 'LabelsApplied', 'one')).not.toThrow();
    events.record(node, 'Normal', 'LabelsApplied', 'two');
    await events.flush();
    expect(dropped).toBe(1);
    expect(sink.created.map((e) => e.message)).toEqual(['two']);
  });

  it('never throws to the caller even when the sink throws synchronously', async () => {
    const throwing: EventSink = {
      create: () => {
        throw new KubeApiError(422, 'Invalid', 'bad', 'POST', '/');
      },
      updateCount: () => Promise.resolve(),
    };
    let dropped = 0;
    const events = recorder(throwing, new FakeClock(), { onDropped: () => dropped++ });
    expect(() => events.record(node, 'Normal', 'LabelsApplied', 'one')).not.toThrow();
    await events.flush();
    expect(dropped).toBe(1);
  });

  it('caps the message at 1024 characters', async () => {
    const sink = new RecordingSink();
    const events = recorder(sink, new FakeClock());
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'x'.repeat(5000));
    await events.flush();
    expect(sink.created[0]!.message).toHaveLength(1024);
  });

  it('coalesces repeats of an Event still waiting to be written into its count, with no extra request', async () => {
    const clock = new FakeClock();
    const sink = new SlowSink(clock, 100);
    let aggregated = 0;
    const events = recorder(sink, clock, { concurrency: 1, onAggregated: () => aggregated++ });
    events.record(node, 'Normal', 'Cordoned', 'cordoned for EV-1');
    for (let i = 0; i < 5; i++) {
      clock.advance(10);
      events.record(node, 'Warning', 'EvictionBlocked', 'pod web-1 blocked by PDB web');
    }
    await runUntil(clock, events.flush());
    expect(sink.creates).toBe(2);
    expect(sink.patches).toBe(0);
    const blocked = [...sink.stored.values()].find((e) => e.reason === 'EvictionBlocked');
    expect(blocked).toMatchObject({ count: 5, firstTimestamp: '2026-11-22T04:00:00Z', lastTimestamp: '2026-11-22T04:00:00Z' });
    expect(aggregated).toBe(4);
  });

  it('sends repeats recorded while the Event is being created as one PATCH afterwards', async () => {
    const clock = new FakeClock();
    const sink = new SlowSink(clock, 100);
    let aggregated = 0;
    const events = recorder(sink, clock, { onAggregated: () => aggregated++ });
    events.record(node, 'Warning', 'EvictionBlocked', 'pod web-1 blocked by PDB web');
    await settleCallbacks();
    expect(sink.callTimes).toHaveLength(1);
    clock.advance(1_000);
    events.record(node, 'Warning', 'EvictionBlocked', 'pod web-1 blocked by PDB web');
    events.record(node, 'Warning', 'EvictionBlocked', 'pod web-1 blocked by PDB web');
    await runUntil(clock, events.flush());
    expect(sink.creates).toBe(1);
    expect(sink.patches).toBe(1);
    expect([...sink.stored.values()]).toEqual([expect.objectContaining({ count: 3, firstTimestamp: '2026-11-22T04:00:00Z', lastTimestamp: '2026-11-22T04:00:01Z' })]);
    expect(aggregated).toBe(2);
  });

  it('combines similar Events (same object, type and reason) from the tenth distinct message in the window on, as client-go does', async () => {
    const clock = new FakeClock();
    const sink = new SlowSink(clock, 10);
    const other = { ...node, name: 'aks-pool-000002', uid: 'u2' };
    let recorded = 0;
    const events = recorder(sink, clock);
    const blocked = (object: ObjectReference, pod: number) => {
      events.record(object, 'Warning', 'EvictionBlocked', `pod web-${pod} blocked by PDB web`);
      recorded++;
    };
    for (let pod = 0; pod < 10; pod++) blocked(node, pod);
    for (let pod = 0; pod < 3; pod++) blocked(other, pod);
    await runUntil(clock, events.flush());
    clock.advance(1_000);
    blocked(node, 10);
    blocked(node, 11);
    await runUntil(clock, events.flush());

    const onNode = [...sink.stored.values()].filter((e) => e.involvedObject.name === node.name);
    expect(onNode.filter((e) => !e.message.startsWith('(combined')).map((e) => e.message)).toEqual(Array.from({ length: 9 }, (_, pod) => `pod web-${pod} blocked by PDB web`));
    // Created for the tenth message, then patched with the count and the latest message (the
    // eleventh's PATCH was in flight when the twelfth came).
    expect(onNode.filter((e) => e.message.startsWith('(combined'))).toEqual([expect.objectContaining({ message: '(combined from similar events): pod web-11 blocked by PDB web', count: 3 })]);
    expect(sink.patches).toBe(2);
    expect([...sink.stored.values()].filter((e) => e.involvedObject.name === other.name)).toHaveLength(3);
    expect(sink.totalCount()).toBe(recorded);

    // After a window without similar Events, a new message stands on its own again.
    clock.advance(700_000);
    blocked(node, 12);
    await runUntil(clock, events.flush());
    expect([...sink.stored.values()].some((e) => e.message === 'pod web-12 blocked by PDB web')).toBe(true);
  });

  it.each([
    ['a 500', apiError(500, 'InternalError')],
    ['a 429', apiError(429, 'TooManyRequests')],
    ['no answer', new Error('socket hang up')],
  ])('retries after %s with full-jitter backoff, then writes the Event', async (_name, error) => {
    const clock = new FakeClock();
    const sink = new SlowSink(clock, 0, (call) => (call === 1 ? error : undefined));
    let dropped = 0;
    // random() = 0.5: the first delay is 0.5 × base.
    const events = recorder(sink, clock, { retryBaseMs: 1_000, random: () => 0.5, onDropped: () => dropped++ });
    const start = clock.now();
    events.record(node, 'Normal', 'DrainStarted', 'draining for EV-1');
    await runUntil(clock, events.flush(), 1);
    expect(sink.callTimes.map((t) => t - start)).toEqual([0, 500]);
    expect(sink.creates).toBe(1);
    expect(dropped).toBe(0);
  });

  it('drops an Event once its retries are exhausted, with delays growing up to the cap', async () => {
    const clock = new FakeClock();
    const sink = new SlowSink(clock, 0, (call) => (call <= 5 ? apiError(503, 'ServiceUnavailable') : undefined));
    const dropped: string[] = [];
    const events = recorder(sink, clock, { maxAttempts: 5, retryBaseMs: 1_000, retryCapMs: 4_000, random: () => 0.5, onDropped: (event) => dropped.push(event.message) });
    const start = clock.now();
    events.record(node, 'Normal', 'DrainStarted', 'draining for EV-1');
    await runUntil(clock, events.flush(), 1);
    // Gaps: half of 1 s, 2 s, 4 s, then half of the 4 s cap.
    expect(sink.callTimes.map((t) => t - start)).toEqual([0, 500, 1_500, 3_500, 5_500]);
    expect(dropped).toEqual(['draining for EV-1']);
    expect(sink.creates).toBe(0);

    events.record(node, 'Normal', 'Drained', 'drained for EV-1');
    await runUntil(clock, events.flush(), 1);
    expect(sink.creates).toBe(1);
  });

  it('waits the one full-jitter backoff between attempts: other random numbers, other waits, none above the cap', async () => {
    for (const r of [0.1, 0.999999]) {
      const clock = new FakeClock();
      const sink = new SlowSink(clock, 0, (call) => (call <= 5 ? apiError(503, 'ServiceUnavailable') : undefined));
      const events = recorder(sink, clock, { maxAttempts: 6, retryBaseMs: 1_000, retryCapMs: 4_000, random: fixedRandom(r) });
      events.record(node, 'Normal', 'DrainStarted', 'draining for EV-1');
      await runUntil(clock, events.flush(), 1);
      const gaps = sink.callTimes.slice(1).map((t, i) => t - sink.callTimes[i]!);
      expect(gaps).toEqual([1_000, 2_000, 4_000, 4_000, 4_000].map((ceiling) => Math.round(r * ceiling)));
      expect(sink.creates).toBe(1);
    }
  });

  it('flush waits for the writes of what was recorded, and resolves at once when nothing is pending', async () => {
    const clock = new FakeClock();
    const sink = new SlowSink(clock, 1_000);
    const events = recorder(sink, clock);
    let flushed = false;
    await events.flush();
    events.record(node, 'Normal', 'Drained', 'drained for EV-1');
    void events.flush().then(() => (flushed = true));
    clock.advance(999);
    await settleCallbacks();
    expect(flushed).toBe(false);
    clock.advance(1);
    await settleCallbacks();
    expect(flushed).toBe(true);
  });

  it('drops a new distinct Event only beyond maxPending waiting, while repeats of waiting ones still count', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const created: KubeEvent[] = [];
    const slowSink: EventSink = {
      create: async (event) => {
        await gate;
        created.push(event);
      },
      updateCount: async () => undefined,
    };
    const dropped: string[] = [];
    let aggregated = 0;
    const events = recorder(slowSink, new FakeClock(), { maxPending: 3, concurrency: 1, onDropped: (event) => dropped.push(event.message), onAggregated: () => aggregated++ });
    // 'a' is being written; b, c, d wait (3); e is one too many.
    for (const message of ['a', 'b', 'c', 'd', 'e']) events.record(node, 'Normal', 'X', message);
    events.record(node, 'Normal', 'X', 'b');
    release();
    await events.flush();
    expect(created.map((e) => [e.message, e.count])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 1],
      ['d', 1],
    ]);
    expect(dropped).toEqual(['e']);
    expect(aggregated).toBe(1);

    // The cap is on what waits, not on what was ever recorded.
    events.record(node, 'Normal', 'X', 'f');
    await events.flush();
    expect(created.map((e) => e.message)).toContain('f');
  });

  it('records a maintenance wave of 1,000 nodes against a slow API server without dropping any occurrence', async () => {
    const clock = new FakeClock();
    // Each write takes 25 ms: at 4 in flight, about 160 writes a second, far fewer than the wave records.
    const sink = new SlowSink(clock, 25);
    let dropped = 0;
    let aggregated = 0;
    const events = recorder(sink, clock, { onDropped: () => dropped++, onAggregated: () => aggregated++ });
    const expected = new Map<string, number>();
    const record = (object: ObjectReference, type: 'Normal' | 'Warning', reason: string, message: string) => {
      events.record(object, type, reason, message);
      const key = occurrenceKey(object, reason, message);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    };
    const nodes = Array.from({ length: 1_000 }, (_, i) => ({ apiVersion: 'v1', kind: 'Node', name: `aks-pool-${String(i).padStart(6, '0')}`, uid: `u${i}` }));

    // The wave arrives at once: every node is scheduled, tainted, cordoned and labelled in one burst.
    for (const wave of nodes) {
      record(wave, 'Normal', 'MaintenanceScheduled', 'Preempt EV-1, not before 2026-11-22T04:00:30Z');
      record(wave, 'Normal', 'TaintsUpdated', 'added nodemeta.io/scheduled-event=Preempt:NoSchedule');
      record(wave, 'Normal', 'Cordoned', 'cordoned for EV-1');
      record(wave, 'Normal', 'LabelsApplied', 'set nodemeta.io/zone=eastus-1');
    }
    // Then the drains, 50 nodes every 100 ms, each reconciled a few times while a PDB blocks a pod.
    for (let batch = 0; batch < nodes.length; batch += 50) {
      for (const wave of nodes.slice(batch, batch + 50)) {
        record(wave, 'Normal', 'DrainStarted', 'evicting 3 pods');
        for (let pod = 0; pod < 3; pod++) record(wave, 'Warning', 'EvictionBlocked', `pod web-${pod} blocked by PDB web`);
        for (let reconcile = 0; reconcile < 3; reconcile++) record(wave, 'Warning', 'EvictionBlocked', 'pod web-0 blocked by PDB web');
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      clock.advance(100);
    }
    for (const wave of nodes) {
      record(wave, 'Normal', 'Drained', 'evicted 3 pods');
      record(wave, 'Normal', 'Cordoned', 'cordoned for EV-1');
    }
    await runUntil(clock, events.flush());

    const recorded = [...expected.values()].reduce((sum, n) => sum + n, 0);
    expect(recorded).toBe(13_000);
    expect(dropped).toBe(0);
    expect(sink.totalCount()).toBe(recorded);
    expect(sink.countsByOccurrence()).toEqual(expected);
    // One Event per distinct occurrence: the repeats went into counts, never into new Events.
    expect(sink.creates).toBe(expected.size);
    expect(aggregated).toBe(recorded - expected.size);
    expect(sink.creates + sink.patches).toBeLessThan(recorded);
    expect(sink.maxInFlight).toBe(4);
  });
});

describe('kubeEventSink', () => {
  /** A CoreV1Api whose HTTP layer answers every request with `status` and `body`, and keeps the requests. */
  function answering(status: number, body: unknown) {
    const requests: RequestContext[] = [];
    const text = JSON.stringify(body);
    const httpApi = wrapHttpLibrary({
      send: async (request) => {
        requests.push(request);
        return new ResponseContext(status, { 'content-type': 'application/json' }, { text: async () => text, binary: async () => Buffer.from(text), stream: () => null });
      },
    });
    return { requests, core: new CoreV1Api(createConfiguration({ baseServer: new ServerConfiguration('https://api.test', {}), httpApi })) };
  }
  const status = (code: number, reason: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: `${reason} (test)` });

  it.each([
    [404, 'NotFound', { notFound: true, retryable: false }],
    [403, 'Forbidden', { notFound: false, retryable: false }],
    [429, 'TooManyRequests', { notFound: false, retryable: true }],
    [503, 'ServiceUnavailable', { notFound: false, retryable: true }],
  ])('turns a %i answer into a KubeApiError the recorder classifies', async (code, reason, expected) => {
    const { core } = answering(code, status(code, reason));
    const error = await kubeEventSink(core).updateCount('default', 'n.1', 2, '2026-11-22T04:00:00Z').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ status: code, reason, method: 'PATCH', path: '/api/v1/namespaces/default/events/n.1' });
    expect({ notFound: isNotFound(error), retryable: isRetryable(error) }).toEqual(expected);
  });

  it('patches count and lastTimestamp with a merge patch, and the message only when given', async () => {
    const { core, requests } = answering(200, { kind: 'Event', apiVersion: 'v1', metadata: { name: 'n.1', namespace: 'default' } });
    const sink = kubeEventSink(core);
    await sink.updateCount('default', 'n.1', 2, '2026-11-22T04:00:00Z');
    await sink.updateCount('default', 'n.1', 3, '2026-11-22T04:00:01Z', '(combined from similar events): m');
    expect(requests.map((r) => r.getHeaders()['Content-Type'])).toEqual(['application/merge-patch+json', 'application/merge-patch+json']);
    expect(requests.map((r) => JSON.parse(String(r.getBody())))).toEqual([
      { count: 2, lastTimestamp: '2026-11-22T04:00:00Z' },
      { count: 3, lastTimestamp: '2026-11-22T04:00:01Z', message: '(combined from similar events): m' },
    ]);
  });
});
