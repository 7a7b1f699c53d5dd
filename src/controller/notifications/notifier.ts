// The notification sinks of the leader, and the outbox that makes their delivery survive a leader
// change (docs/notifications.md):
//
// 1. A reconcile whose step makes a transition records it in status.notifications.pending, in the
//    same status write as the transition (next()): a transition and its notification are stored
//    together or not at all, at no extra request.
// 2. What is stored and not yet sent by this process is handed to the sinks that want it (track()):
//    right after that write, and on any reconcile that reads a pending entry it does not know, which
//    is how a new leader picks up what the old one recorded and did not confirm.
// 3. Once every such sink has sent it (or dropped it: full queue, retries exhausted, sink removed),
//    the node is reconciled again shortly after (onSettled, debounced so one write confirms several),
//    and that reconcile leaves the entry out: it rides on the node's next step write, or goes alone
//    as a background report (status-reports.ts) at the lowest priority.
// So nothing recorded is lost, and a notification is sent again only if a leader change falls
// between its delivery and that confirmation: at most once more. Only the leader reconciles, so only
// the leader sends; the sinks also check, before every attempt, that this replica still leads.

import type { NodeMetadata, NotificationsStatus, PendingNotification } from '../../api/nodemetadata.js';
import type { Logger } from '../../observability/logger.js';
import type { Random } from '../../time/backoff.js';
import type { Clock, TimerHandle } from '../../time/clock.js';
import type { NotificationSinkConfig, NotificationsConfig, UrlSource } from '../config/config.js';
import type { MaintenanceStep } from '../maintenance/state-machine.js';
import { notificationId, type NodeFacts } from './formats.js';
import { WebhookSink, type SinkCounters, type SinkItem, type SinkOutcome } from './sink.js';
import { nextOutbox, pendingKey, recordedTransitions } from './transitions.js';
import { resolveUrl as resolveUrlFromSource, UrlSourceError, type WebhookClient } from './transport.js';

/** What the reconciler asks of the notifications (NodeReconciler's `notifications` option). */
export interface NotificationOutbox {
  /** status.notifications after `step`: its transitions recorded, the finished entries left out. */
  next(nodeName: string, stored: NotificationsStatus | undefined, step: MaintenanceStep, now: Date): NotificationsStatus | undefined;
  /** What the API server stores for the node now: every pending entry not yet handed to the sinks goes to them. */
  track(nodeName: string, nodeMetadata: NodeMetadata): void;
  /** The node is gone: what this process remembers of it goes (its queued notifications are still sent). */
  forget(nodeName: string): void;
}

export interface NotifierOptions {
  clock: Clock;
  logger: Logger;
  /** A new sink's HTTP client (transport.ts createWebhookClient: its own connections, the proxy variables). */
  newClient: (sinkName: string) => WebhookClient;
  /** Where URLs come from (default: the process's environment and files). */
  resolveUrl?: (source: UrlSource) => Promise<string>;
  counters?: SinkCounters;
  random?: Random;
  userAgent: string;
  isLeading: () => boolean;
  /** Every sink is done with the node's pending entries: reconcile it to leave them out of its status. */
  onSettled: (nodeName: string) => void;
  /** Deliveries within this long are confirmed by one status write (default 1 s). */
  settleDelayMs?: number;
}

/** Per pending entry: the sinks that still have to send (or drop) it. Empty: finished. */
type Tracked = Map<string, Set<string>>;

export class Notifier implements NotificationOutbox {
  private config: NotificationsConfig = { clusterName: '', sinks: [] };
  private readonly sinks = new Map<string, WebhookSink>();
  /** Each sink's HTTP client, closed with the sink. */
  private readonly clients = new Map<string, WebhookClient>();
  private readonly nodes = new Map<string, Tracked>();
  private readonly settleTimers = new Map<string, TimerHandle>();
  private stopped = false;
  private readonly resolveUrl: (source: UrlSource) => Promise<string>;

  constructor(private readonly options: NotifierOptions) {
    this.resolveUrl = options.resolveUrl ?? ((source) => resolveUrlFromSource(source));
  }

  /** The configuration in force (at start and after each accepted reload): sinks added, changed, removed. */
  configure(config: NotificationsConfig): void {
    if (this.stopped) return;
    this.config = config;
    const names = new Set(config.sinks.map((sink) => sink.name));
    for (const [name, sink] of this.sinks) {
      if (names.has(name)) continue;
      sink.stop(true);
      this.sinks.delete(name);
      this.closeClient(name);
      this.options.logger.info('notification sink removed', { sink: name });
    }
    for (const sinkConfig of config.sinks) {
      const existing = this.sinks.get(sinkConfig.name);
      if (existing !== undefined) existing.reconfigure(sinkConfig);
      else this.sinks.set(sinkConfig.name, this.newSink(sinkConfig));
      void this.checkUrl(sinkConfig);
    }
  }

  /** Stops every sink (leadership lost, shutdown): what was not sent stays pending in the statuses. */
  stop(): void {
    this.stopped = true;
    for (const sink of this.sinks.values()) sink.stop(false);
    for (const name of this.clients.keys()) this.closeClient(name);
    for (const timer of this.settleTimers.values()) this.options.clock.clearTimeout(timer);
    this.settleTimers.clear();
  }

  /** Notifications waiting per sink (the metric's gauge). */
  depths(): Map<string, number> {
    return new Map([...this.sinks].map(([name, sink]) => [name, sink.depth()]));
  }

  /** Resolves once every sink's queue is empty (tests, and a graceful stop that may wait a little). */
  async idle(): Promise<void> {
    await Promise.all([...this.sinks.values()].map((sink) => sink.idle()));
  }

  next(nodeName: string, stored: NotificationsStatus | undefined, step: MaintenanceStep, now: Date): NotificationsStatus | undefined {
    const recorded = recordedTransitions(step, now).filter((entry) => this.wanted(entry));
    const change = nextOutbox(stored, recorded, (entry) => this.finished(nodeName, entry));
    if (change.overflow.length > 0) {
      // Still in the sinks' queues; only a leader change before they are sent would lose them.
      this.options.logger.warn('notification outbox full: the oldest entries are no longer kept for a new leader', { node: nodeName, transitions: change.overflow.map((entry) => entry.transition) });
    }
    return change.next;
  }

  track(nodeName: string, nodeMetadata: NodeMetadata): void {
    // Stopped (no longer leading): nothing is handed over, and nothing new counts as finished, so no
    // write of this replica could leave out an entry that was never sent.
    if (this.stopped) return;
    const pending = nodeMetadata.status?.notifications?.pending ?? [];
    let tracked = this.nodes.get(nodeName);
    if (tracked === undefined) {
      if (pending.length === 0) return;
      tracked = new Map();
      this.nodes.set(nodeName, tracked);
    }
    const stored = new Set(pending.map(pendingKey));
    // Finished and no longer stored: the confirmation is written, nothing to remember.
    for (const [key, remaining] of tracked) if (remaining.size === 0 && !stored.has(key)) tracked.delete(key);
    const facts = nodeFacts(nodeName, nodeMetadata);
    for (const entry of pending) {
      const key = pendingKey(entry);
      if (tracked.has(key)) continue;
      const sinks = [...this.sinks.values()].filter((sink) => sink.wants(entry.transition));
      const remaining = new Set(sinks.map((sink) => sink.name));
      tracked.set(key, remaining);
      const item: SinkItem = { node: nodeName, key, notification: { id: notificationId(nodeName, entry), cluster: this.config.clusterName, node: facts, entry } };
      for (const sink of sinks) sink.offer(item);
      if (remaining.size === 0) this.scheduleSettle(nodeName);
    }
    if (tracked.size === 0) this.nodes.delete(nodeName);
  }

  forget(nodeName: string): void {
    this.nodes.delete(nodeName);
    const timer = this.settleTimers.get(nodeName);
    if (timer !== undefined) this.options.clock.clearTimeout(timer);
    this.settleTimers.delete(nodeName);
  }

  /** Nodes with entries this process remembers (tests: memory follows the work). */
  trackedNodes(): number {
    return this.nodes.size;
  }

  private wanted(entry: PendingNotification): boolean {
    for (const sink of this.sinks.values()) if (sink.wants(entry.transition)) return true;
    return false;
  }

  private finished(nodeName: string, entry: PendingNotification): boolean {
    return this.nodes.get(nodeName)?.get(pendingKey(entry))?.size === 0;
  }

  private newSink(config: NotificationSinkConfig): WebhookSink {
    const { options } = this;
    const client = options.newClient(config.name);
    this.clients.set(config.name, client);
    if (client.route !== 'direct') options.logger.info('notification sink sends through a proxy', { sink: config.name, proxy: client.route });
    return new WebhookSink({
      config,
      transport: client.send,
      resolveUrl: this.resolveUrl,
      clock: options.clock,
      logger: options.logger,
      ...(options.counters === undefined ? {} : { counters: options.counters }),
      ...(options.random === undefined ? {} : { random: options.random }),
      userAgent: options.userAgent,
      isLeading: options.isLeading,
      onFinished: (item, outcome) => this.onFinished(config.name, item, outcome),
    });
  }

  /** Closes a client once its sink's request in flight (if any) is done: stop() aborted it. */
  private closeClient(name: string): void {
    const client = this.clients.get(name);
    this.clients.delete(name);
    void client?.close();
  }

  private onFinished(sinkName: string, item: SinkItem, _outcome: SinkOutcome): void {
    const remaining = this.nodes.get(item.node)?.get(item.key);
    if (remaining === undefined || !remaining.delete(sinkName)) return;
    if (remaining.size === 0) this.scheduleSettle(item.node);
  }

  private scheduleSettle(nodeName: string): void {
    if (this.stopped || this.settleTimers.has(nodeName)) return;
    const timer = this.options.clock.setTimeout(() => {
      this.settleTimers.delete(nodeName);
      this.options.onSettled(nodeName);
    }, this.options.settleDelayMs ?? 1_000);
    this.settleTimers.set(nodeName, timer);
  }

  /** A sink whose URL cannot be read says so once, when configured (its notifications retry meanwhile). */
  private async checkUrl(config: NotificationSinkConfig): Promise<void> {
    try {
      await this.resolveUrl(config.urlFrom);
    } catch (error) {
      this.options.logger.error('notification sink has no usable URL', { sink: config.name, error: error instanceof UrlSourceError ? error.message : 'cannot read the URL' });
    }
  }
}

function nodeFacts(name: string, nodeMetadata: NodeMetadata): NodeFacts {
  const status = nodeMetadata.status;
  const facts: NodeFacts = { name };
  if (status?.provider !== undefined) facts.provider = status.provider;
  if (status?.instance?.region !== undefined) facts.region = status.instance.region;
  if (status?.instance?.zone !== undefined) facts.zone = status.instance.zone;
  return facts;
}
