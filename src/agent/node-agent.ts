// The long-running agent: polls this VM's metadata service (maintenance often, instance facts
// rarely), publishes what it saw into NodeMetadata/<node>.status, and approves an Azure event
// when the controller asks for it. One loop, one request at a time: the metadata service's budget
// is per VM, and a sequential loop can never pile requests up behind a slow answer.

import type { Approval, NodeMetadata } from '../api/nodemetadata.js';
import type { EventsSnapshot, InstanceSnapshot, Observation } from '../api/observation.js';
import type { Logger } from '../observability/logger.js';
import { Backoff, backoffDelay, type BackoffTiming, type Random } from '../time/backoff.js';
import { sleep, type Clock } from '../time/clock.js';
import { MetadataError } from './http/errors.js';
import type { AgentMetrics } from './metrics.js';
import type { MetadataProvider } from './providers/provider.js';
import { agentPartOf, agentStatusFor, sameAgentStatus, type Availability, type ReadOptions } from './publisher.js';
import type { AgentStatus } from '../api/nodemetadata.js';

/** The NodeMetadata operations the agent needs (NodeMetadataPublisher implements them). */
export interface StatusSink {
  ensure(): Promise<NodeMetadata>;
  read(options?: ReadOptions): Promise<NodeMetadata | undefined>;
  applyStatus(status: AgentStatus): Promise<NodeMetadata>;
}

export interface NodeAgentOptions {
  provider: MetadataProvider;
  sink: StatusSink;
  clock: Clock;
  logger: Logger;
  metrics: AgentMetrics;
  /** Scheduled events / spot / system events (Azure recommends about once a second). */
  eventsIntervalMs: number;
  /** Instance facts and tags, which change rarely (tag changes need a reboot on scale sets). */
  instanceIntervalMs: number;
  /**
   * How often to look for an approval request while an approvable event is pending (default 5 s).
   * Each pending node costs the API server one read per interval: 1,000 nodes in a wave, 200 reads/s.
   */
  approvalCheckIntervalMs?: number;
  /**
   * `--dry-run`: never approve. An approval request (the controller's `approve`, or the `wouldApprove`
   * of a controller in dry run) is logged, once per event, as what the agent would have done.
   */
  dryRun?: boolean;
  /**
   * How often to check that NodeMetadata/<node> still exists (default 60 s), from the watch cache:
   * a person may delete it, or the garbage collector with its Node, and an agent that sees nothing
   * new writes nothing, so it would never come back. One cached read per node and interval: at
   * 5,000 nodes about 83 reads/s, served from memory (a kubelet renews its Lease six times as often).
   */
  presenceCheckIntervalMs?: number;
  /** Backoff cap for API-server failures (the metadata polls keep their own pace). Default 30 s. */
  maxApiBackoffMs?: number;
  /**
   * The agent waits a random part of this before its first API request (default: one events
   * interval; 0: none). Agents restarted together then do not write in the same instant, and their
   * poll loops run out of phase, so an event the platform posts to every VM at once reaches the API
   * server spread over a poll interval instead of in one burst. It costs at most one poll's latency.
   */
  startupSpreadMs?: number;
  /** Uniform numbers in [0, 1) for the start-up spread and the backoff's jitter (default Math.random). */
  random?: Random;
}

/**
 * API-server retries: full jitter, random(0, min(maxApiBackoffMs, 1 s * 2^n)), so that thousands of
 * agents failing together (an API server restart, 429s from API Priority and Fairness) come back
 * spread over the window instead of in step (docs/scaling.md).
 */
const API_BACKOFF_BASE_MS = 1_000;
const DEFAULT_MAX_API_BACKOFF_MS = 30_000;
/**
 * A write that carries something urgent retries within 5 s at most (still jittered): a Preempt gives
 * 30 s of notice, and after an API server outage the 30 s window would let it pass unseen. Urgent:
 * an event started or due within URGENT_WITHIN_MS, or a spot reclaim. At any moment few nodes of a
 * fleet have one, so the tighter window does not bring the herd back.
 */
export const URGENT_MAX_API_BACKOFF_MS = 5_000;
const URGENT_WITHIN_MS = 5 * 60_000;
const DEFAULT_APPROVAL_CHECK_INTERVAL_MS = 5_000;
const DEFAULT_PRESENCE_CHECK_INTERVAL_MS = 60_000;

/** Approval records kept in status besides those of events still present. */
const MAX_PAST_APPROVALS = 16;

export class NodeAgent {
  private instance: InstanceSnapshot | undefined;
  private events: EventsSnapshot | undefined;
  private instanceReadAt = -Infinity;
  /** When to read NodeMetadata next for an approval request; undefined while no event is pending. */
  private approvalCheckDueAt: number | undefined;
  /** When to check next that NodeMetadata/<node> exists (ensurePresent). */
  private presenceCheckDueAt: number | undefined;
  /** The uid of the NodeMetadata the agent publishes into (a recreated one has another). */
  private uid: string | undefined;
  private availability: Availability = { available: false, reason: 'Starting', message: 'the agent has not polled the metadata service yet' };
  private published: AgentStatus | undefined;
  private approvals: Approval[] = [];
  private readonly seenEventIds = new Set<string>();
  private lastLoopAt: number;
  private publishedOnce = false;
  private readonly random: Random;
  /** Dry run: the event ids already logged as "would approve". */
  private readonly wouldHaveApproved = new Set<string>();

  constructor(private readonly options: NodeAgentOptions) {
    this.lastLoopAt = options.clock.now();
    this.random = options.random ?? Math.random;
  }

  /** Ready once the status has been published at least once. */
  ready(): string | undefined {
    return this.publishedOnce ? undefined : 'status not published yet';
  }

  /** Alive while the loop turns; a loop stuck far beyond its longest possible poll is not. */
  alive(): string | undefined {
    const stuckFor = this.options.clock.now() - this.lastLoopAt;
    return stuckFor > 10 * 60_000 ? `poll loop has not turned for ${Math.round(stuckFor / 1000)} s` : undefined;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger, eventsIntervalMs } = this.options;
    await this.spreadStart(signal);
    await this.loadPublished(signal);
    let failures = 0;
    let lastFailure: string | undefined;
    let polledAt = -Infinity;
    while (!signal.aborted) {
      this.lastLoopAt = clock.now();
      // A retry of a failed write comes sooner than the next poll is due: it does not poll again.
      if (clock.now() - polledAt >= eventsIntervalMs) {
        polledAt = clock.now();
        await this.pollOnce(signal);
      }
      let wait = eventsIntervalMs;
      try {
        await this.ensurePresent();
        await this.publish();
        await this.handleApprovalRequest();
        failures = 0;
        lastFailure = undefined;
      } catch (err) {
        wait = backoffDelay(this.apiBackoffTiming(this.urgent()), failures++, this.random);
        // The write may have failed because the object is gone (404): look on the next turn.
        this.presenceCheckDueAt = clock.now();
        // Said once while the failure stays the same (its Node deleted, an API server away), then quietly.
        const error = (err as Error).message;
        logger.log(error === lastFailure ? 'debug' : 'warn', 'cannot write NodeMetadata status; will retry', { error, retryInMs: wait });
        lastFailure = error;
      }
      await sleep(clock, wait, signal);
    }
  }

  /** Waits random(0, startupSpreadMs) before the first API request (see NodeAgentOptions). */
  private async spreadStart(signal: AbortSignal): Promise<void> {
    const spread = this.options.startupSpreadMs ?? this.options.eventsIntervalMs;
    const delay = Math.floor(this.random() * spread);
    if (delay > 0) await sleep(this.options.clock, delay, signal);
  }

  /** The status already on the server: a restarted agent writes nothing if nothing changed. */
  private async loadPublished(signal: AbortSignal): Promise<void> {
    const backoff = this.apiBackoff();
    while (!signal.aborted) {
      try {
        const existing = await this.options.sink.ensure();
        this.uid = existing.metadata.uid;
        this.published = agentPartOf(existing.status);
        this.approvals = [...(this.published?.approvals ?? [])];
        return;
      } catch (err) {
        const wait = backoff.next();
        this.options.logger.warn('cannot read or create NodeMetadata; will retry', { error: (err as Error).message, retryInMs: wait });
        await sleep(this.options.clock, wait, signal);
      }
    }
  }

  /**
   * Recreates NodeMetadata/<node> if it is gone (see presenceCheckIntervalMs), and then publishes the
   * whole status again. Checked at a random point of the first interval, so that agents started
   * together do not read in step, then once per interval, and on the turn after a failed write.
   */
  private async ensurePresent(): Promise<void> {
    const { clock, sink, logger } = this.options;
    const interval = this.options.presenceCheckIntervalMs ?? DEFAULT_PRESENCE_CHECK_INTERVAL_MS;
    this.presenceCheckDueAt ??= clock.now() + Math.floor(this.random() * interval);
    if (clock.now() < this.presenceCheckDueAt) return;
    if ((await sink.read({ fromCache: true })) === undefined) {
      // The watch cache may lag behind a create of a moment ago: ensure() reads again before creating.
      const ensured = await sink.ensure();
      if (ensured.metadata.uid !== this.uid) {
        this.uid = ensured.metadata.uid;
        this.published = agentPartOf(ensured.status);
        logger.info('NodeMetadata was deleted: created it again; the status follows', { uid: ensured.metadata.uid });
      }
    }
    this.presenceCheckDueAt = clock.now() + interval;
  }

  /** One Backoff per run of failures: its attempt count starts again after a success. */
  private apiBackoff(): Backoff {
    return new Backoff({ ...this.apiBackoffTiming(false), random: this.random });
  }

  private apiBackoffTiming(urgent: boolean): BackoffTiming {
    const capMs = Math.max(API_BACKOFF_BASE_MS, this.options.maxApiBackoffMs ?? DEFAULT_MAX_API_BACKOFF_MS);
    return { baseMs: API_BACKOFF_BASE_MS, capMs: urgent ? Math.min(capMs, URGENT_MAX_API_BACKOFF_MS) : capMs };
  }

  /** Whether what the agent has to write cannot wait long: a spot reclaim, an event started or due soon. */
  private urgent(): boolean {
    if (this.events === undefined) return false;
    if (this.events.spot !== undefined) return true;
    const soon = this.options.clock.now() + URGENT_WITHIN_MS;
    return this.events.events.some((event) => event.status === 'Started' || event.notBefore === undefined || !(Date.parse(event.notBefore) > soon));
  }

  /** One round of polls; on failure the last good data is kept and the condition says why. */
  async pollOnce(signal?: AbortSignal): Promise<void> {
    const { provider, clock, metrics } = this.options;
    try {
      if (this.instance === undefined || clock.now() - this.instanceReadAt >= this.options.instanceIntervalMs) {
        this.instance = await this.timed('instance', () => provider.readInstance(signal));
        this.instanceReadAt = clock.now();
      }
      this.events = await this.timed('events', () => provider.readEvents(signal));
      this.noteEvents(this.events);
      this.availability = { available: true, reason: 'Observed', message: `${provider.name} metadata service answered` };
      metrics.metadataAvailable.set(1);
    } catch (err) {
      if (signal?.aborted) return;
      const next = availabilityFor(err);
      if (next.reason !== this.availability.reason || this.availability.available) {
        this.options.logger.warn('metadata service poll failed; keeping the last good observation', { reason: next.reason, error: next.message });
      }
      this.availability = next;
      metrics.metadataAvailable.set(0);
    }
  }

  private observation(): Observation | undefined {
    if (!this.instance || !this.events) return undefined;
    const observation: Observation = {
      provider: this.options.provider.name,
      observedTime: new Date(this.options.clock.now()).toISOString(),
      instance: this.instance.instance,
      tags: this.instance.tags,
      events: this.events.events,
      spot: this.events.spot,
    };
    if (this.events.incarnation !== undefined) observation.incarnation = this.events.incarnation;
    if (this.events.rawSystemEvents !== undefined) observation.rawSystemEvents = this.events.rawSystemEvents;
    const warnings = [...(this.instance.warnings ?? []), ...(this.events.warnings ?? [])];
    if (warnings.length > 0) observation.warnings = warnings;
    return observation;
  }

  private async publish(): Promise<void> {
    const now = new Date(this.options.clock.now());
    const status = agentStatusFor(this.observation(), this.availability, this.approvals, this.published, now);
    if (sameAgentStatus(status, this.published)) {
      this.publishedOnce = true;
      return;
    }
    try {
      await this.options.sink.applyStatus(status);
      this.options.metrics.statusWrites.inc({ result: 'ok' });
    } catch (err) {
      this.options.metrics.statusWrites.inc({ result: 'error' });
      throw err;
    }
    this.published = status;
    this.publishedOnce = true;
  }

  /**
   * The controller sets status.maintenance.approve to an event id once every node that event names
   * is drained; the agent then starts the event (Azure StartRequests), once, and records it.
   */
  private async handleApprovalRequest(): Promise<void> {
    const { clock, sink, provider, logger, metrics } = this.options;
    const interval = this.options.approvalCheckIntervalMs ?? DEFAULT_APPROVAL_CHECK_INTERVAL_MS;
    const pending = (this.events?.events ?? []).filter((e) => e.status === 'Scheduled' && !this.approvals.some((a) => a.eventId === e.id));
    if (pending.length === 0 || provider.name !== 'azure') {
      this.approvalCheckDueAt = undefined;
      return;
    }
    // The controller asks only once the node is drained, never the instant the event appears: the
    // first check comes at a random point of the interval, so a fleet that sees a wave together
    // does not follow its status writes with a read each, in step.
    this.approvalCheckDueAt ??= clock.now() + Math.floor(this.random() * interval);
    if (clock.now() < this.approvalCheckDueAt) return;
    this.approvalCheckDueAt = clock.now() + interval;
    const current = await sink.read({ fromCache: true });
    // Gone (deleted by someone): recreated on the next turn (ensurePresent).
    if (current === undefined) this.presenceCheckDueAt = clock.now();
    const maintenance = current?.status?.maintenance;
    if (this.options.dryRun === true) {
      // Even a request someone else wrote into the status is not acted on.
      const asked = maintenance?.approve ?? maintenance?.wouldApprove;
      const event = pending.find((e) => e.id === asked);
      if (asked === undefined || event === undefined || this.wouldHaveApproved.has(asked)) return;
      this.wouldHaveApproved.add(asked);
      logger.info('dry run: would approve scheduled event (StartRequests), not sent', { eventId: asked, eventType: event.type, resources: event.resources, requestedBy: maintenance?.approve === asked ? 'approve' : 'wouldApprove' });
      return;
    }
    const wanted = maintenance?.approve;
    const event = pending.find((e) => e.id === wanted);
    if (!wanted || !event) return;
    try {
      await provider.approve(wanted);
      metrics.approvals.inc({ result: 'ok' });
    } catch (err) {
      metrics.approvals.inc({ result: 'error' });
      logger.warn('approving the scheduled event failed; will retry', { eventId: wanted, error: (err as Error).message });
      return;
    }
    logger.info('approved scheduled event (StartRequests)', { eventId: wanted, eventType: event.type, resources: event.resources });
    const present = new Set((this.events?.events ?? []).map((e) => e.id));
    const kept = this.approvals.filter((a) => present.has(a.eventId));
    const past = this.approvals.filter((a) => !present.has(a.eventId)).slice(-MAX_PAST_APPROVALS);
    this.approvals = [...past, ...kept, { eventId: wanted, time: new Date(clock.now()).toISOString() }];
    await this.publish();
  }

  private noteEvents(snapshot: EventsSnapshot): void {
    const { metrics } = this.options;
    metrics.activeEvents.reset();
    for (const event of snapshot.events) {
      metrics.activeEvents.inc({ type: event.type });
      if (!this.seenEventIds.has(event.id)) {
        this.seenEventIds.add(event.id);
        metrics.eventsSeen.inc({ type: event.type });
        this.options.logger.info('maintenance event seen', { eventId: event.id, eventType: event.rawType, status: event.status, notBefore: event.notBefore });
      }
    }
    if (snapshot.spot) {
      metrics.activeEvents.inc({ type: 'SpotTermination' });
      const id = `spot:${snapshot.spot.terminationTime}`;
      if (!this.seenEventIds.has(id)) {
        this.seenEventIds.add(id);
        metrics.eventsSeen.inc({ type: 'SpotTermination' });
        this.options.logger.info('spot termination seen', { terminationTime: snapshot.spot.terminationTime });
      }
    }
  }

  private async timed<T>(kind: 'instance' | 'events', poll: () => Promise<T>): Promise<T> {
    const started = this.options.clock.now();
    const seconds = () => (this.options.clock.now() - started) / 1000;
    try {
      const result = await poll();
      this.options.metrics.pollDuration.observe({ kind, result: 'ok' }, seconds());
      return result;
    } catch (err) {
      this.options.metrics.pollDuration.observe({ kind, result: 'error' }, seconds());
      throw err;
    }
  }
}

/** Condition MetadataAvailable=False with a reason a person can filter on. */
export function availabilityFor(err: unknown): Availability {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof MetadataError)) return { available: false, reason: 'AgentError', message };
  const reason =
    err.kind === 'http'
      ? err.status === 429
        ? 'Throttled'
        : 'MetadataServiceError'
      : err.kind === 'timeout'
        ? 'MetadataServiceTimeout'
        : err.kind === 'connection'
          ? 'MetadataServiceUnreachable'
          : err.kind === 'malformed'
            ? 'MalformedAnswer'
            : err.kind === 'budget'
              ? 'Throttled'
              : 'Unsupported';
  return { available: false, reason, message };
}
