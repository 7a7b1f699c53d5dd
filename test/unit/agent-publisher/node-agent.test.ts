import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { NodeAgent, type NodeAgentOptions, type StatusSink } from '../../../src/agent/node-agent.js';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import { MetadataError } from '../../../src/agent/http/errors.js';
import type { MetadataProvider } from '../../../src/agent/providers/provider.js';
import type { ReadOptions } from '../../../src/agent/publisher.js';
import type { AgentStatus, NodeMetadata } from '../../../src/api/nodemetadata.js';
import type { EventsSnapshot, InstanceSnapshot, ScheduledEvent } from '../../../src/api/observation.js';
import { KubeApiError } from '../../../src/api/kube-errors.js';
import { createLogger, silentLogger } from '../../../src/observability/logger.js';
import { FakeClock, fixedRandom, seededRandom } from '../runtime/fake-clock.js';
import { expectSpreadEvenly } from '../runtime/spread.js';

const reboot: ScheduledEvent = { id: 'e1', type: 'Reboot', rawType: 'Reboot', status: 'Scheduled', source: 'Platform', resources: ['vm0'], notBefore: '2026-11-22T04:15:00.000Z' };

/** A scripted metadata service: each poll answers with the current values or throws `failure`. */
class ScriptedProvider implements MetadataProvider {
  readonly name = 'azure' as const;
  instance: InstanceSnapshot = { instance: { name: 'vm0', zone: 'westeurope-1' }, tags: [{ name: 'team', value: 'a' }] };
  events: EventsSnapshot = { events: [], spot: undefined, incarnation: 1 };
  failure: Error | undefined;
  approved: string[] = [];
  instanceReads = 0;
  async readInstance() {
    if (this.failure) throw this.failure;
    this.instanceReads++;
    return structuredClone(this.instance);
  }
  async readEvents() {
    if (this.failure) throw this.failure;
    return structuredClone(this.events);
  }
  async approve(eventId: string) {
    this.approved.push(eventId);
  }
  async close() {}
}

class RecordingSink implements StatusSink {
  writes: AgentStatus[] = [];
  object: NodeMetadata = { apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name: 'vm0' } };
  async ensure() {
    return structuredClone(this.object);
  }
  async read(): Promise<NodeMetadata | undefined> {
    return structuredClone(this.object);
  }
  async applyStatus(status: AgentStatus) {
    this.writes.push(structuredClone(status));
    this.object.status = { ...this.object.status, ...status };
    return structuredClone(this.object);
  }
}

/**
 * A FakeClock on which each wait passes at once, the clock moved forward by it; the agent stops
 * after `ticks` waits (`stop`), and `script(tick)` changes the world as the tick-th wait begins.
 */
function steppingClock(start: number, ticks: number, script: (tick: number) => void = () => {}): FakeClock & { stop: AbortController } {
  const clock = Object.assign(new FakeClock({ start, autoAdvance: true }), { stop: new AbortController() });
  clock.onTimer = () => {
    if (clock.delays.length >= ticks) clock.stop.abort();
    else script(clock.delays.length);
  };
  return clock;
}

function newAgent(provider: ScriptedProvider, sink: StatusSink, clock: FakeClock, options: Partial<NodeAgentOptions> = {}) {
  return new NodeAgent({
    provider,
    sink,
    clock,
    logger: silentLogger(),
    metrics: new AgentMetrics(),
    eventsIntervalMs: 1000,
    instanceIntervalMs: 60_000,
    startupSpreadMs: 0,
    random: fixedRandom(0.5),
    ...options,
  });
}

const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);

/**
 * Runs the agent loop on a stepping clock; `script(tick)` changes the world before the given loop
 * iteration. Returns after `ticks` iterations.
 */
async function runAgent(provider: ScriptedProvider, sink: StatusSink, ticks: number, script: (tick: number) => void = () => {}) {
  const clock = steppingClock(T0, ticks, script);
  const agent = newAgent(provider, sink, clock);
  await agent.run(clock.stop.signal);
  return agent;
}

const unavailable = () => new KubeApiError(503, 'ServiceUnavailable', 'the API server is restarting', 'PATCH', '/apis/nodemeta.io/v1alpha1/nodemetadatas/vm0/status');

/** A sink that records when (on the agent's clock) each call came, and fails as many calls as it is told. */
class TimedSink extends RecordingSink {
  ensureCalls: number[] = [];
  applyCalls: number[] = [];
  readCalls: { at: number; fromCache: boolean }[] = [];
  failEnsure = 0;
  failApply = 0;
  constructor(private readonly clock: { now(): number }) {
    super();
  }
  override async ensure() {
    this.ensureCalls.push(this.clock.now());
    if (this.failEnsure-- > 0) throw unavailable();
    return super.ensure();
  }
  override async read(options?: ReadOptions) {
    this.readCalls.push({ at: this.clock.now(), fromCache: options?.fromCache === true });
    return super.read();
  }
  override async applyStatus(status: AgentStatus) {
    this.applyCalls.push(this.clock.now());
    if (this.failApply-- > 0) throw unavailable();
    return super.applyStatus(status);
  }
}

const notFound = (what: string) => new KubeApiError(404, 'NotFound', `${what} not found`, 'GET', `/${what}`);

/**
 * NodeMetadata/vm0 on a pretend API server where a person can delete it (`deleted`), and its Node
 * can be gone (`nodeGone`): ensure() then fails as the real one does (it reads the Node for the
 * owner reference), and a status write gets 404 as a write to a missing object's /status does.
 */
class DeletableSink extends RecordingSink {
  deleted = false;
  nodeGone = false;
  private generation = 1;
  ensureCalls = 0;
  constructor() {
    super();
    this.object.metadata.uid = 'uid-1';
  }
  override async ensure() {
    this.ensureCalls++;
    if (!this.deleted) return super.ensure();
    if (this.nodeGone) throw notFound('nodes/vm0');
    this.deleted = false;
    this.object = { apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name: 'vm0', uid: `uid-${++this.generation}` } };
    return super.ensure();
  }
  override async read() {
    return this.deleted ? undefined : super.read();
  }
  override async applyStatus(status: AgentStatus) {
    if (this.deleted) throw notFound('nodemetadatas/vm0/status');
    return super.applyStatus(status);
  }
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(lines: { level: string; message: string }[]) {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return createLogger({ component: 'agent', level: 'debug', stream });
}

/**
 * `count` agents started at the same instant T0, each on its own clock, all drawing from one random
 * source (independent uniform draws, as Math.random gives each real agent). Each runs `ticks` sleeps.
 */
async function fleet(count: number, ticks: number, setup: (sink: TimedSink, provider: ScriptedProvider) => void, options: Partial<NodeAgentOptions> = {}) {
  const random = seededRandom(42);
  const sinks: TimedSink[] = [];
  for (let i = 0; i < count; i++) {
    const clock = steppingClock(T0, ticks);
    const sink = new TimedSink(clock);
    const provider = new ScriptedProvider();
    setup(sink, provider);
    await newAgent(provider, sink, clock, { random, ...options }).run(clock.stop.signal);
    sinks.push(sink);
  }
  return sinks;
}

describe('node agent', () => {
  it('writes the status once and not again while nothing changes', async () => {
    const provider = new ScriptedProvider();
    const sink = new RecordingSink();
    await runAgent(provider, sink, 120);
    expect(sink.writes).toHaveLength(1);
    expect(sink.writes[0]?.instance?.zone).toBe('westeurope-1');
    expect(provider.instanceReads).toBe(2); // at start and after 60 s, not every second
  });

  it('keeps the last good observation while the service fails, says why, and recovers by itself', async () => {
    const provider = new ScriptedProvider();
    const sink = new RecordingSink();
    await runAgent(provider, sink, 10, (tick) => {
      if (tick === 3) provider.failure = new MetadataError({ kind: 'http', service: 'azure', status: 500, detail: 'internal error', attempts: 5 });
      if (tick === 6) provider.failure = undefined;
    });
    expect(sink.writes).toHaveLength(3);
    const [first, failing, recovered] = sink.writes;
    expect(failing?.instance).toEqual(first?.instance);
    expect(failing?.tags).toEqual(first?.tags);
    expect(failing?.conditions?.[0]).toMatchObject({ type: 'MetadataAvailable', status: 'False', reason: 'MetadataServiceError' });
    expect(recovered?.conditions?.[0]).toMatchObject({ status: 'True', reason: 'Observed' });
  });

  it('publishes a new event at once and removes it when the service drops it', async () => {
    const provider = new ScriptedProvider();
    const sink = new RecordingSink();
    await runAgent(provider, sink, 6, (tick) => {
      if (tick === 2) provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
      if (tick === 4) provider.events = { events: [], spot: undefined, incarnation: 3 };
    });
    expect(sink.writes.map((w) => w.events?.map((e) => e.id))).toEqual([[], ['e1'], []]);
  });

  it('approves an event once when the controller asks, and records it', async () => {
    const provider = new ScriptedProvider();
    provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
    const sink = new RecordingSink();
    await runAgent(provider, sink, 20, (tick) => {
      if (tick === 3) sink.object.status = { ...sink.object.status, maintenance: { phase: 'Drained', approve: 'e1' } };
    });
    expect(provider.approved).toEqual(['e1']);
    expect(sink.writes.at(-1)?.approvals?.map((a) => a.eventId)).toEqual(['e1']);
  });

  it('never approves an event the controller did not ask for, nor one that is gone', async () => {
    const provider = new ScriptedProvider();
    provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
    const sink = new RecordingSink();
    sink.object.status = { maintenance: { phase: 'Drained', approve: 'some-other-event' } };
    await runAgent(provider, sink, 10);
    expect(provider.approved).toEqual([]);
  });

  it('in dry run never approves, not even a request someone else wrote, and logs once what it would have done', async () => {
    const provider = new ScriptedProvider();
    provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
    const sink = new RecordingSink();
    const lines: { message: string; eventId?: string; requestedBy?: string }[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const clock = steppingClock(T0, 40, (tick) => {
      // A controller in dry run asks for nothing but says what it would ask; then someone writes `approve` by hand.
      if (tick === 3) sink.object.status = { ...sink.object.status, maintenance: { phase: 'Drained', eventId: 'e1', dryRun: true, wouldApprove: 'e1' } };
      if (tick === 20) sink.object.status = { ...sink.object.status, maintenance: { phase: 'Drained', eventId: 'e1', approve: 'e1' } };
    });
    await newAgent(provider, sink, clock, { dryRun: true, logger: createLogger({ component: 'agent', level: 'info', stream }) }).run(clock.stop.signal);
    expect(provider.approved).toEqual([]);
    expect(sink.writes.some((write) => (write.approvals ?? []).length > 0)).toBe(false);
    const wouldApprove = lines.filter((line) => line.message.startsWith('dry run: would approve'));
    expect(wouldApprove).toEqual([expect.objectContaining({ eventId: 'e1', requestedBy: 'wouldApprove' })]);
  });

  it('does not rewrite anything after a restart when the stored status is current', async () => {
    const provider = new ScriptedProvider();
    const sink = new RecordingSink();
    await runAgent(provider, sink, 3);
    expect(sink.writes).toHaveLength(1);
    await runAgent(provider, sink, 5); // a new agent process, same node, same metadata
    expect(sink.writes).toHaveLength(1);
  });

  it('agents started together spread their first API request over one events interval', async () => {
    const sinks = await fleet(1_000, 2, () => {}, { startupSpreadMs: undefined }); // the default spread
    expectSpreadEvenly(
      sinks.map((s) => s.ensureCalls[0]! - T0),
      0,
      1000,
    );
  });

  it('after a write failure at the same instant, 1,000 agents retry spread over [0, 1 s), then [0, 2 s)', async () => {
    const sinks = await fleet(1_000, 3, (sink) => (sink.failApply = 2));
    for (const s of sinks) expect(s.applyCalls).toHaveLength(3);
    expect(new Set(sinks.map((s) => s.applyCalls[0])).size).toBe(1); // the same instant: startupSpreadMs 0
    expectSpreadEvenly(
      sinks.map((s) => s.applyCalls[1]! - s.applyCalls[0]!),
      0,
      1000,
    );
    expectSpreadEvenly(
      sinks.map((s) => s.applyCalls[2]! - s.applyCalls[1]!),
      0,
      2000,
    );
  });

  it('a failed start (NodeMetadata not readable) is retried with the same jittered backoff', async () => {
    const sinks = await fleet(1_000, 2, (sink) => (sink.failEnsure = 1));
    expectSpreadEvenly(
      sinks.map((s) => s.ensureCalls[1]! - s.ensureCalls[0]!),
      0,
      1000,
    );
  });

  it('backs off up to maxApiBackoffMs while the API server fails, and starts again from 1 s after a success', async () => {
    const provider = new ScriptedProvider();
    const clock = steppingClock(T0, 12, (tick) => {
      if (tick !== 9) return;
      provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
      sink.failApply = 1;
    });
    const sink = new TimedSink(clock);
    sink.failApply = 7;
    // random just below 1: the top of every window, 1, 2, 4, 8, 16 s, then the cap; 5 s between polls.
    await newAgent(provider, sink, clock, { random: fixedRandom(0.999999), maxApiBackoffMs: 20_000, eventsIntervalMs: 5_000 }).run(clock.stop.signal);
    expect(clock.delays.slice(0, 11)).toEqual([1000, 2000, 4000, 8000, 16_000, 20_000, 20_000, 5000, 5000, 1000, 5000]);
    expect(sink.writes.map((w) => w.events?.map((e) => e.id))).toEqual([[], ['e1']]);
  });

  it('retries an urgent write (a Preempt 30 s away, a spot reclaim) within 5 s windows, a far one within the full window', async () => {
    const failSeven = (events: EventsSnapshot) => {
      const provider = new ScriptedProvider();
      provider.events = events;
      const clock = steppingClock(T0, 8);
      const sink = new TimedSink(clock);
      sink.failApply = 7;
      return { provider, clock, sink };
    };
    const preempt: ScheduledEvent = { ...reboot, id: 'p1', type: 'Preempt', rawType: 'Preempt', notBefore: new Date(T0 + 30_000).toISOString() };
    const urgent = failSeven({ events: [preempt], spot: undefined, incarnation: 2 });
    await newAgent(urgent.provider, urgent.sink, urgent.clock, { random: fixedRandom(0.999999), eventsIntervalMs: 5_000 }).run(urgent.clock.stop.signal);
    expect(urgent.clock.delays.slice(0, 7)).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000]);

    const spot = failSeven({ events: [], spot: { terminationTime: new Date(T0 + 30_000).toISOString() }, incarnation: 2 });
    await newAgent(spot.provider, spot.sink, spot.clock, { random: fixedRandom(0.999999), eventsIntervalMs: 5_000 }).run(spot.clock.stop.signal);
    expect(spot.clock.delays.slice(0, 7)).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000]);

    // The Reboot 15 min away can wait: the whole window, as every agent of a fleet after an outage.
    const far = failSeven({ events: [reboot], spot: undefined, incarnation: 2 });
    await newAgent(far.provider, far.sink, far.clock, { random: fixedRandom(0.999999), eventsIntervalMs: 5_000 }).run(far.clock.stop.signal);
    expect(far.clock.delays.slice(0, 7)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('retries a failed write sooner than the next poll without polling the metadata service again', async () => {
    const provider = new ScriptedProvider();
    let polls = 0;
    const readEvents = provider.readEvents.bind(provider);
    provider.readEvents = async () => {
      polls++;
      return readEvents();
    };
    const clock = steppingClock(T0, 4);
    const sink = new TimedSink(clock);
    sink.failApply = 3;
    await newAgent(provider, sink, clock, { random: fixedRandom(0.1) }).run(clock.stop.signal);
    expect(clock.delays.slice(0, 3)).toEqual([100, 200, 400]);
    expect(sink.applyCalls).toHaveLength(4);
    expect(polls).toBe(1);
  });

  it('looks for an approval request once per interval, from the watch cache, the first not with the write of the event', async () => {
    const provider = new ScriptedProvider();
    provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
    const clock = steppingClock(T0, 15);
    const sink = new TimedSink(clock);
    // random 0.5: the first check half an interval (2.5 s) after the event is seen, on the next loop turn.
    await newAgent(provider, sink, clock).run(clock.stop.signal);
    expect(sink.applyCalls).toEqual([T0]);
    expect(sink.readCalls).toEqual([3000, 8000, 13_000].map((t) => ({ at: T0 + t, fromCache: true })));
  });

  it('recreates its NodeMetadata when a person deletes it, and publishes its whole status into it again', async () => {
    const provider = new ScriptedProvider();
    const sink = new DeletableSink();
    // The first presence check half an interval in (random 0.5), then one a minute: deleted at 40 s, back at 90 s.
    await runAgent(provider, sink, 120, (tick) => {
      if (tick === 40) sink.deleted = true;
    });
    expect(sink.object.metadata.uid).toBe('uid-2');
    expect(sink.writes).toHaveLength(2);
    const { provider: name, instance, tags, events } = sink.writes[0]!;
    expect(sink.object.status).toMatchObject({ provider: name, instance, tags, events, conditions: [expect.objectContaining({ type: 'MetadataAvailable', status: 'True' })] });
  });

  it('recreates it at once when the approval check finds it gone while an event is pending', async () => {
    const provider = new ScriptedProvider();
    provider.events = { events: [reboot], spot: undefined, incarnation: 2 };
    const sink = new DeletableSink();
    const clock = steppingClock(T0, 20, (tick) => {
      if (tick === 4) sink.deleted = true;
    });
    await newAgent(provider, sink, clock, { random: fixedRandom(0.5) }).run(clock.stop.signal);
    // Approval checks at 3 s and 8 s (approvalCheckIntervalMs 5 s): the one at 8 s finds it gone; recreated on the next turn.
    expect(sink.object.metadata.uid).toBe('uid-2');
    expect(sink.object.status?.events?.map((e) => e.id)).toEqual(['e1']);
    expect(sink.writes).toHaveLength(2);
  });

  it('while its Node is gone it retries quietly (one warning), and publishes again once the Node is back', async () => {
    const provider = new ScriptedProvider();
    const sink = new DeletableSink();
    const lines: { level: string; message: string }[] = [];
    const clock = steppingClock(T0, 200, (tick) => {
      if (tick === 5) sink.deleted = sink.nodeGone = true; // the garbage collector took it with its Node
      if (tick === 150) sink.nodeGone = false;
    });
    await newAgent(provider, sink, clock, { presenceCheckIntervalMs: 10_000, logger: capturingLogger(lines) }).run(clock.stop.signal);
    const warnings = lines.filter((line) => line.level === 'warn' || line.level === 'error');
    expect(warnings).toEqual([expect.objectContaining({ message: 'cannot write NodeMetadata status; will retry', error: expect.stringMatching(/nodes\/vm0 not found/) })]);
    expect(sink.ensureCalls).toBeGreaterThan(10); // it kept trying, with the backoff (30 s at most)
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(30_000);
    expect(sink.object.metadata.uid).toBe('uid-2');
    expect(sink.writes).toHaveLength(2);
    expect(lines.filter((line) => line.message.startsWith('NodeMetadata was deleted'))).toHaveLength(1);
  });

  it('1,000 agents seeing an event together spread their first approval checks over the interval', async () => {
    const sinks = await fleet(1_000, 8, (_sink, provider) => (provider.events = { events: [reboot], spot: undefined, incarnation: 2 }));
    const firstCheck = sinks.map((s) => s.readCalls[0]!.at - s.applyCalls[0]!);
    // Checks happen on the agent's 1 s loop turns: after 1 to 5 s, each second about a fifth of them.
    for (let second = 1; second <= 5; second++) {
      const share = firstCheck.filter((d) => d === second * 1000).length / firstCheck.length;
      expect(share).toBeGreaterThan(0.15);
      expect(share).toBeLessThan(0.25);
    }
  });
});
