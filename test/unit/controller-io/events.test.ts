import { describe, expect, it } from '@jest/globals';
import { KubeEventRecorder, type EventSink, type KubeEvent } from '../../../src/observability/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';

class RecordingSink implements EventSink {
  readonly created: KubeEvent[] = [];
  readonly bumps: { namespace: string; name: string; count: number; lastTimestamp: string }[] = [];
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

  async updateCount(namespace: string, name: string, count: number, lastTimestamp: string): Promise<void> {
    if (this.expired.has(name)) throw Object.assign(new Error('not found'), { code: 404 });
    this.bumps.push({ namespace, name, count, lastTimestamp });
  }
}

const node = { apiVersion: 'v1', kind: 'Node', name: 'aks-pool-000001', uid: 'u1' };

function recorder(sink: EventSink, clock: FakeClock, extra: { maxBacklog?: number; onDropped?: () => void } = {}) {
  return new KubeEventRecorder({ sink, clock, logger: silentLogger(), component: 'nodemeta-controller', instance: 'replica-a', aggregationWindowMs: 600_000, ...extra });
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
    clock.advance(60_000);
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'another message');
    await events.flush();
    expect(sink.created.map((e) => e.message)).toEqual(['bad tag', 'another message']);
    expect(sink.bumps.map((b) => b.count)).toEqual([2, 3]);
    expect(sink.bumps[0]!.name).toBe(sink.created[0]!.metadata.name);

    clock.advance(700_000);
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'bad tag');
    await events.flush();
    expect(sink.created).toHaveLength(3);
  });

  it('creates a new Event when the aggregated one expired', async () => {
    const sink = new RecordingSink();
    const events = recorder(sink, new FakeClock());
    events.record(node, 'Normal', 'LabelsApplied', 'set a=b');
    await events.flush();
    sink.expired.add(sink.created[0]!.metadata.name);
    events.record(node, 'Normal', 'LabelsApplied', 'set a=b');
    await events.flush();
    expect(sink.created).toHaveLength(2);
  });

  it('never throws to the caller: a failed write is dropped and counted, later Events still go out', async () => {
    const sink = new RecordingSink();
    let dropped = 0;
    const events = recorder(sink, new FakeClock(), { onDropped: () => dropped++ });
    sink.failNext = Object.assign(new Error('forbidden'), { code: 403 });
    expect(() => events.record(node, 'Normal', 'LabelsApplied', 'one')).not.toThrow();
    events.record(node, 'Normal', 'LabelsApplied', 'two');
    await events.flush();
    expect(dropped).toBe(1);
    expect(sink.created.map((e) => e.message)).toEqual(['two']);
  });

  it('drops Events beyond the backlog instead of queueing without bound', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const created: string[] = [];
    const slowSink: EventSink = {
      create: async (event) => {
        await gate;
        created.push(event.message);
      },
      updateCount: async () => undefined,
    };
    let dropped = 0;
    const events = recorder(slowSink, new FakeClock(), { maxBacklog: 2, onDropped: () => dropped++ });
    for (const message of ['a', 'b', 'c', 'd']) events.record(node, 'Normal', 'X', message);
    release();
    await events.flush();
    expect(created).toEqual(['a', 'b']);
    expect(dropped).toBe(2);
  });

  it('caps the message at 1024 characters', async () => {
    const sink = new RecordingSink();
    const events = recorder(sink, new FakeClock());
    events.record(node, 'Warning', 'InvalidLabelSkipped', 'x'.repeat(5000));
    await events.flush();
    expect(sink.created[0]!.message).toHaveLength(1024);
  });
});
