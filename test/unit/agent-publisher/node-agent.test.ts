import { describe, expect, it } from '@jest/globals';
import { NodeAgent, type StatusSink } from '../../../src/agent/node-agent.js';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import { MetadataError } from '../../../src/agent/http/errors.js';
import type { MetadataProvider } from '../../../src/agent/providers/provider.js';
import type { AgentStatus, NodeMetadata } from '../../../src/api/nodemetadata.js';
import type { EventsSnapshot, InstanceSnapshot, ScheduledEvent } from '../../../src/api/observation.js';
import { silentLogger } from '../../../src/observability/logger.js';

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
  async read() {
    return structuredClone(this.object);
  }
  async applyStatus(status: AgentStatus) {
    this.writes.push(structuredClone(status));
    this.object.status = { ...this.object.status, ...status };
    return structuredClone(this.object);
  }
}

/**
 * Runs the agent loop on a clock where each sleep moves time forward at once; `script(tick)` changes
 * the world before the given loop iteration. Returns after `ticks` iterations.
 */
async function runAgent(provider: ScriptedProvider, sink: RecordingSink, ticks: number, script: (tick: number) => void = () => {}) {
  let now = Date.UTC(2026, 10, 22, 4, 0, 0);
  let tick = 0;
  const stop = new AbortController();
  const clock = {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      tick++;
      if (tick >= ticks) stop.abort();
      else script(tick);
    },
  };
  const agent = new NodeAgent({ provider, sink, clock, logger: silentLogger(), metrics: new AgentMetrics(), eventsIntervalMs: 1000, instanceIntervalMs: 60_000 });
  await agent.run(stop.signal);
  return agent;
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

  it('does not rewrite anything after a restart when the stored status is current', async () => {
    const provider = new ScriptedProvider();
    const sink = new RecordingSink();
    await runAgent(provider, sink, 3);
    expect(sink.writes).toHaveLength(1);
    await runAgent(provider, sink, 5); // a new agent process, same node, same metadata
    expect(sink.writes).toHaveLength(1);
  });
});
