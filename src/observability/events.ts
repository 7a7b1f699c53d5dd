// Kubernetes Events (core/v1) about the objects nodemeta acts on, with client-go's aggregation:
// the same reason and message about the same object within a window bumps the existing Event's
// count and lastTimestamp (one PATCH) instead of creating a new object, so a condition that
// persists across many reconciles is one Event with a count, not a flood.
//
// Recording never blocks and never fails the caller: Events are a report, not state. They are
// written in the background, one at a time, from a bounded backlog; when the API server refuses or
// the backlog is full, the Event is dropped, logged and counted.

import type { Clock } from '../runtime/clock.js';
import type { Logger } from './logger.js';

export interface ObjectReference {
  apiVersion?: string;
  kind: string;
  name: string;
  /** Empty for cluster-scoped objects (Nodes): their Events go to `default`, as kubelet's do. */
  namespace?: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

/** The core/v1 Event fields nodemeta writes. */
export interface KubeEvent {
  metadata: { name: string; namespace: string };
  involvedObject: ObjectReference;
  type: EventType;
  /** PascalCase: LabelsApplied, InvalidLabelSkipped, MaintenanceScheduled... */
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
}

/** Where Events go; src/kube/event-sink.ts writes them to the API server. */
export interface EventSink {
  create(event: KubeEvent): Promise<void>;
  /** Bumps an existing Event; rejects with `{ code: 404 }` (or status 404) when it is gone (Events expire). */
  updateCount(namespace: string, name: string, count: number, lastTimestamp: string): Promise<void>;
}

export interface EventRecorder {
  record(object: ObjectReference, type: EventType, reason: string, message: string): void;
}

export interface KubeEventRecorderOptions {
  sink: EventSink;
  clock: Clock;
  logger: Logger;
  /** source.component and reportingComponent, e.g. `nodemeta-controller`. */
  component: string;
  /** reportingInstance: this replica's identity. */
  instance: string;
  /** Same object, reason and message within this window → one Event with a count (default 10 min). */
  aggregationWindowMs?: number;
  /** Events waiting to be written before new ones are dropped (default 256). */
  maxBacklog?: number;
  /** Aggregation entries kept, oldest forgotten first (default 4096). */
  maxCacheEntries?: number;
  onDropped?: (event: KubeEvent, error: unknown) => void;
}

/** Kubernetes caps an Event message at 1 KiB in events.k8s.io; keep core/v1 Events within it too. */
const MAX_MESSAGE_LENGTH = 1024;

interface Aggregate {
  namespace: string;
  name: string;
  count: number;
  firstTimestamp: string;
  lastSeen: number;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly aggregates = new Map<string, Aggregate>();
  private chain: Promise<void> = Promise.resolve();
  private backlog = 0;
  private sequence = 0;

  constructor(private readonly options: KubeEventRecorderOptions) {}

  record(object: ObjectReference, type: EventType, reason: string, message: string): void {
    const text = message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : message;
    const now = this.options.clock.now();
    const event = this.newEvent(object, type, reason, text, now);
    if (this.backlog >= (this.options.maxBacklog ?? 256)) {
      this.drop(event, new Error('event backlog full'));
      return;
    }
    this.backlog++;
    this.chain = this.chain.then(() => this.write(event, now)).finally(() => this.backlog--);
  }

  /** Resolves once every Event recorded so far has been written or dropped (tests, shutdown). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(event: KubeEvent, now: number): Promise<void> {
    const key = aggregationKey(event);
    const aggregate = this.aggregates.get(key);
    const windowMs = this.options.aggregationWindowMs ?? 10 * 60_000;
    try {
      if (aggregate !== undefined && now - aggregate.lastSeen < windowMs) {
        try {
          await this.options.sink.updateCount(aggregate.namespace, aggregate.name, aggregate.count + 1, event.lastTimestamp);
          aggregate.count++;
          aggregate.lastSeen = now;
          this.remember(key, aggregate);
          return;
        } catch (error) {
          if (!isNotFound(error)) throw error;
          // The Event expired (the API server keeps them an hour by default): start a new one.
        }
      }
      await this.options.sink.create(event);
      this.remember(key, { namespace: event.metadata.namespace, name: event.metadata.name, count: 1, firstTimestamp: event.firstTimestamp, lastSeen: now });
    } catch (error) {
      this.drop(event, error);
    }
  }

  private remember(key: string, aggregate: Aggregate): void {
    // Re-inserting moves the key to the end: the Map's order is least recently used first.
    this.aggregates.delete(key);
    this.aggregates.set(key, aggregate);
    const max = this.options.maxCacheEntries ?? 4096;
    for (const oldest of this.aggregates.keys()) {
      if (this.aggregates.size <= max) break;
      this.aggregates.delete(oldest);
    }
  }

  private drop(event: KubeEvent, error: unknown): void {
    this.options.logger.warn('could not record event', {
      reason: event.reason,
      object: `${event.involvedObject.kind}/${event.involvedObject.name}`,
      error: error instanceof Error ? error.message : String(error),
    });
    this.options.onDropped?.(event, error);
  }

  private newEvent(object: ObjectReference, type: EventType, reason: string, message: string, now: number): KubeEvent {
    const timestamp = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    // client-go names Events `<object>.<unix nanoseconds in hex>`; a sequence keeps two Events
    // recorded in the same millisecond apart.
    const nanos = BigInt(now) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
    return {
      metadata: { name: `${object.name}.${nanos.toString(16)}`, namespace: object.namespace || 'default' },
      involvedObject: object,
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      source: { component: this.options.component },
      reportingComponent: this.options.component,
      reportingInstance: this.options.instance,
    };
  }
}

function aggregationKey(event: KubeEvent): string {
  const o = event.involvedObject;
  return JSON.stringify([o.kind, o.namespace ?? '', o.name, o.uid ?? '', event.type, event.reason, event.message]);
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; status?: unknown; statusCode?: unknown } | null;
  return e?.code === 404 || e?.status === 404 || e?.statusCode === 404;
}

/** An EventRecorder that records nothing (tools and tests that do not look at Events). */
export const discardEvents: EventRecorder = { record: () => undefined };
