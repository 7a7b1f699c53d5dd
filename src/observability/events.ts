// Kubernetes Events (core/v1) about the objects nodemeta acts on, correlated the way client-go's
// recorder does (tools/record/events_cache.go, EventCorrelator), so that a maintenance wave of
// thousands of nodes becomes a bounded number of writes instead of a flood, and nothing is dropped
// because of a burst:
// - Repeats (same object, type, reason and message) within the window are one Event with a count.
//   While the Event still waits to be written, a repeat only bumps the count in memory; once it is
//   written, a repeat PATCHes count and lastTimestamp.
// - Similar events (same object, type and reason, different messages): from the `similarThreshold`th
//   distinct message within the window on, they go into one Event "(combined from similar events):
//   <latest message>" with a count, as client-go's EventAggregator does.
// - Writes run in the background, `concurrency` at a time, never two for the same Event at once.
//   A transient failure (429, 5xx, no answer) is retried with full-jitter capped backoff.
//
// Recording never blocks and never fails the caller: Events are a report, not state. An Event is
// dropped (logged, `onDropped`) only when the API server refuses it for good (403, 422...), when
// its retries are exhausted, or when more than `maxPending` distinct Events wait to be written.
//
// Differences from client-go, on purpose: no per-object spam filter (client-go's token bucket of
// 25 Events per object then 1 per 5 minutes silently drops Events, which the design forbids; the
// combining above already bounds an object's Events); and no `series` field: core/v1 Events written
// the legacy way (count, first/lastTimestamp, no eventTime) never carry one in client-go's
// tools/record; `series` belongs to the events.k8s.io model (eventTime + series instead of count),
// whose strict validation rejects count and first/lastTimestamp next to it. Writing both would give
// readers two counts to disagree on (kubectl describe prefers series when present).

import { rfc3339Seconds } from '../time/rfc3339.js';
import { Backoff, type Random } from '../time/backoff.js';
import { isNotFound, isRetryable } from '../api/kube-errors.js';
import { sleep, type Clock } from '../time/clock.js';
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

/**
 * Where Events go; src/kube/client-node/event-sink.ts writes them to the API server. Both calls reject with a
 * KubeApiError (src/api/kube-errors.ts) when the server answered with an error, with any other error
 * when no answer came: that is how the recorder tells a retry from a refusal.
 */
export interface EventSink {
  create(event: KubeEvent): Promise<void>;
  /**
   * Bumps an existing Event (merge patch), and sets its message when given (a combined Event shows
   * the latest of the messages it combines). Rejects with a 404 when the Event is gone (they expire,
   * after an hour by default).
   */
  updateCount(namespace: string, name: string, count: number, lastTimestamp: string, message?: string): Promise<void>;
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
  /**
   * Repeats within this window (since the last occurrence) go into one Event with a count, and
   * similar messages within it count towards combining (default 10 min, as client-go).
   */
  aggregationWindowMs?: number;
  /** From this many distinct messages of one object, type and reason on, combine them (default 10, as client-go). */
  similarThreshold?: number;
  /** Writes in flight at once (default 4). */
  concurrency?: number;
  /**
   * Distinct Events waiting to be written before a new one is dropped (default 20,000: twice a wave
   * of 1,000 nodes at about 10 distinct Events a node, all waiting on a stalled API server; about
   * 1 KiB each with a 150-character message, so 20 MiB at most). Repeats of a waiting Event never
   * count: they only bump its count.
   */
  maxPending?: number;
  /** Written Events remembered for later repeats, least recently used forgotten first (default 4096, as client-go). */
  maxCacheEntries?: number;
  /** Attempts per write when the failure is transient (default 6: five retries, about 30 s at most). */
  maxAttempts?: number;
  /** Full-jitter backoff between attempts: random(0, min(cap, base × 2^n)) (defaults 1 s and 16 s). */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Uniform in [0, 1) for the jitter; `Math.random` unless a test fixes it. */
  random?: Random;
  /** An Event that will not be written (refused, retries exhausted, or too many pending). */
  onDropped?: (event: KubeEvent, error: unknown) => void;
  /** A recorded occurrence went into an Event that already exists or waits (no new Event). */
  onAggregated?: () => void;
}

/** Kubernetes caps an Event message at 1 KiB in events.k8s.io; keep core/v1 Events within it too. */
const MAX_MESSAGE_LENGTH = 1024;
const COMBINED_PREFIX = '(combined from similar events): ';

/** One Event as this recorder knows it: what it will write, and what the server already holds. */
interface TrackedEvent {
  key: string;
  /** The Event as it should read on the server now: count = occurrences recorded. */
  event: KubeEvent;
  /** The count the server holds; 0 until it is created. */
  countOnServer: number;
  /** A combined Event's message changes with each occurrence, so its PATCH carries the message. */
  combined: boolean;
  /** Clock time of the last occurrence (the aggregation window runs from it). */
  lastSeen: number;
  /** flush() callers waiting for this Event to reach a count on the server (or be dropped). */
  waiters: { count: number; resolve: () => void }[];
}

/** Distinct messages seen for one object, type and reason, until there are enough to combine. */
interface SimilarGroup {
  messages: Set<string>;
  combining: boolean;
  lastSeen: number;
}

export class KubeEventRecorder implements EventRecorder {
  /** Waiting to be written, in order; a key is here at most once. */
  private readonly queue = new Map<string, TrackedEvent>();
  /** Being written right now (one write per Event at a time). */
  private readonly writing = new Map<string, TrackedEvent>();
  /** Written, kept for repeats; the Map's order is least recently used first. */
  private readonly written = new Map<string, TrackedEvent>();
  private readonly similar = new Map<string, SimilarGroup>();
  private sequence = 0;

  constructor(private readonly options: KubeEventRecorderOptions) {}

  record(object: ObjectReference, type: EventType, reason: string, message: string): void {
    try {
      this.correlate(object, type, reason, message);
      this.startWrites();
    } catch (error) {
      // A bug here must not fail a reconcile: Events are a report.
      this.options.logger.warn('could not record event', { reason, object: `${object.kind}/${object.name}`, error: errorText(error) });
    }
  }

  /** Resolves once every occurrence recorded so far has been written or dropped (tests, shutdown). */
  flush(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const tracked of [...this.queue.values(), ...this.writing.values()]) {
      const count = tracked.event.count;
      waits.push(new Promise<void>((resolve) => tracked.waiters.push({ count, resolve })));
    }
    return Promise.all(waits).then(() => undefined);
  }

  private correlate(object: ObjectReference, type: EventType, reason: string, rawMessage: string): void {
    const now = this.options.clock.now();
    const timestamp = kubeTimestamp(now);
    const message = capMessage(rawMessage);
    const groupKey = JSON.stringify([object.kind, object.namespace ?? '', object.name, object.uid ?? '', object.apiVersion ?? '', type, reason]);
    const combined = this.isCombining(groupKey, message, now);
    const text = combined ? capMessage(COMBINED_PREFIX + message) : message;
    // Every combined occurrence goes into one Event per group, whatever its message. (A group key
    // is a whole JSON array, so no group's key equals another's followed by `#message`.)
    const key = combined ? groupKey : `${groupKey}#${message}`;

    const pending = this.queue.get(key) ?? this.writing.get(key);
    if (pending !== undefined) {
      // Coalesce in memory: the write queued (or the one after the write in flight) carries it.
      this.observe(pending, text, timestamp, now);
      this.options.onAggregated?.();
      return;
    }

    const windowMs = this.options.aggregationWindowMs ?? 10 * 60_000;
    const earlier = this.written.get(key);
    if (earlier !== undefined && now - earlier.lastSeen < windowMs) {
      if (this.isFull()) {
        this.drop(earlier.event, new Error(`more than ${this.maxPending()} distinct events waiting to be written`));
        return;
      }
      this.written.delete(key);
      this.observe(earlier, text, timestamp, now);
      this.enqueue(earlier);
      this.options.onAggregated?.();
      return;
    }

    const event = this.newEvent(object, type, reason, text, now, timestamp);
    if (this.isFull()) {
      this.drop(event, new Error(`more than ${this.maxPending()} distinct events waiting to be written`));
      return;
    }
    this.written.delete(key);
    this.enqueue({ key, event, countOnServer: 0, combined, lastSeen: now, waiters: [] });
  }

  /** client-go's EventAggregator: combine once a group has `similarThreshold` distinct messages in the window. */
  private isCombining(groupKey: string, message: string, now: number): boolean {
    const windowMs = this.options.aggregationWindowMs ?? 10 * 60_000;
    const threshold = this.options.similarThreshold ?? 10;
    let group = this.similar.get(groupKey);
    if (group === undefined || now - group.lastSeen > windowMs) group = { messages: new Set(), combining: false, lastSeen: now };
    group.lastSeen = now;
    if (!group.combining) {
      group.messages.add(message);
      // Once combining, the messages are no longer needed: the group stays one flag until the window lapses.
      if (group.messages.size >= threshold) {
        group.combining = true;
        group.messages.clear();
      }
    }
    rememberRecent(this.similar, groupKey, group, this.maxCacheEntries());
    return group.combining;
  }

  private observe(tracked: TrackedEvent, message: string, timestamp: string, now: number): void {
    tracked.event.count++;
    tracked.event.lastTimestamp = timestamp;
    tracked.event.message = message;
    tracked.lastSeen = now;
  }

  private enqueue(tracked: TrackedEvent): void {
    this.queue.set(tracked.key, tracked);
  }

  private isFull(): boolean {
    return this.queue.size >= this.maxPending();
  }

  private startWrites(): void {
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    while (this.writing.size < concurrency) {
      const next = this.queue.values().next();
      if (next.done === true) return;
      const tracked = next.value;
      this.queue.delete(tracked.key);
      this.writing.set(tracked.key, tracked);
      void this.write(tracked);
    }
  }

  /** Writes one Event (with retries), then files it as written, queues it again, or drops it. Never rejects. */
  private async write(tracked: TrackedEvent): Promise<void> {
    // What this write sends: occurrences recorded meanwhile go in the next write.
    const snapshot: KubeEvent = { ...tracked.event };
    let failure: unknown;
    try {
      failure = await this.sendWithRetries(tracked, snapshot);
    } catch (error) {
      failure = error;
    }
    this.writing.delete(tracked.key);
    if (failure === undefined) {
      tracked.countOnServer = snapshot.count;
    } else {
      this.drop(snapshot, failure);
      // The occurrences that did not make it (those of this write and any recorded during it) are
      // not reported later either: the count goes back to the server's.
      tracked.event.count = tracked.countOnServer;
    }
    this.settleWaiters(tracked, failure !== undefined);
    if (tracked.event.count > tracked.countOnServer) {
      this.enqueue(tracked);
    } else if (tracked.countOnServer > 0) {
      rememberRecent(this.written, tracked.key, tracked, this.maxCacheEntries());
    }
    this.startWrites();
  }

  /** Undefined once written; the error when the API server refused it or the retries ran out. */
  private async sendWithRetries(tracked: TrackedEvent, snapshot: KubeEvent): Promise<unknown> {
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 6);
    const backoff = new Backoff({
      baseMs: this.options.retryBaseMs ?? 1_000,
      capMs: this.options.retryCapMs ?? 16_000,
      random: this.options.random ?? Math.random,
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(tracked, snapshot);
        return undefined;
      } catch (error) {
        if (!isRetryable(error) || attempt >= maxAttempts) return error;
        const delayMs = backoff.next();
        this.options.logger.debug('event write failed, retrying', { reason: snapshot.reason, object: objectName(snapshot), attempt, delayMs, error: errorText(error) });
        await sleep(this.options.clock, delayMs);
      }
    }
  }

  private async send(tracked: TrackedEvent, snapshot: KubeEvent): Promise<void> {
    const { sink } = this.options;
    if (tracked.countOnServer > 0) {
      const { namespace, name } = snapshot.metadata;
      try {
        await sink.updateCount(namespace, name, snapshot.count, snapshot.lastTimestamp, tracked.combined ? snapshot.message : undefined);
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
        // The Event expired (the API server keeps them an hour by default): create it again, with
        // its name and count, as client-go does.
        tracked.countOnServer = 0;
      }
    }
    await sink.create(snapshot);
  }

  private settleWaiters(tracked: TrackedEvent, dropped: boolean): void {
    const waiting: TrackedEvent['waiters'] = [];
    for (const waiter of tracked.waiters) {
      if (dropped || waiter.count <= tracked.countOnServer) waiter.resolve();
      else waiting.push(waiter);
    }
    tracked.waiters = waiting;
  }

  private drop(event: KubeEvent, error: unknown): void {
    this.options.logger.warn('could not record event', { reason: event.reason, object: objectName(event), error: errorText(error) });
    this.options.onDropped?.(event, error);
  }

  private maxPending(): number {
    return this.options.maxPending ?? 20_000;
  }

  private maxCacheEntries(): number {
    return this.options.maxCacheEntries ?? 4096;
  }

  private newEvent(object: ObjectReference, type: EventType, reason: string, message: string, now: number, timestamp: string): KubeEvent {
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

/** Re-inserting moves the key to the end, so the Map's order is least recently used first. */
function rememberRecent<T>(map: Map<string, T>, key: string, value: T, max: number): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}

function capMessage(message: string): string {
  return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : message;
}

/** metav1.Time: RFC 3339 in seconds. */
function kubeTimestamp(now: number): string {
  return rfc3339Seconds(now);
}

function objectName(event: KubeEvent): string {
  return `${event.involvedObject.kind}/${event.involvedObject.name}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An EventRecorder that records nothing (tools and tests that do not look at Events). */
export const discardEvents: EventRecorder = { record: () => undefined };
