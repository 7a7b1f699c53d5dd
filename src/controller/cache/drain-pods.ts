// The pods of the nodes that drain. While drain readiness is on, its index already holds every pod
// of the cluster from the controller's one cluster-wide pod informer: a draining node's pods are read
// from there (`fromIndex`), with no request and no second watch (docs/scaling.md, "One pod watch").
// Otherwise (readiness off, or its first list not back yet) each draining node's pods are listed with
// `fieldSelector=spec.nodeName=<node>`, as `kubectl drain` lists them, and kept current by ONE
// watch of every pod, whose events for other nodes are dropped as they arrive. The controller's
// memory then follows its work (nodes that drain, and their pods), not the size of the cluster: a
// 150,000-pod cluster with no maintenance costs it no pod and no watch at all.
//
// One watch rather than one per node: a wave of 500 nodes with a watch each held 500 connections
// to the API server, each of which client-node reopens every 30 s on a quiet node, and the
// controller's memory during a drain grew with them (docs/scaling.md).
//
// The watch and the lists must fit together so that no change is missed:
// - The watch starts from the resourceVersion of the first list; every later list starts after
//   that, so it sees at least that version (a list without resourceVersion is a quorum read), and
//   the watch has every change after it.
// - Events that arrive while a node is being listed wait, and only those newer than the list apply.
// - When the watch cannot resume (410 Gone: its version was compacted away) every node is listed
//   again, the first list starting the next watch, exactly as at the start.
// Until its list has come back a node's pods are unknown (undefined), never "none": a drain must
// not look finished on a cold cache.

import type { V1Pod } from '@kubernetes/client-node';
import { fromClientNodeError, isGone } from '../../api/kube-errors.js';
import type { Logger } from '../../observability/logger.js';
import { Backoff, type Random } from '../../time/backoff.js';
import { sleep, type Clock } from '../../time/clock.js';
import { continueToken, INFORMER_MAX_BACKOFF_MS, type ListPage } from '../../runtime/informer.js';
import { drainPodOf } from './cluster-state.js';
import type { DrainPod } from '../maintenance/drain-plan.js';

export type PodWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** The two requests this needs, as a small interface (client-node in production, a fake in tests). */
export interface PodSource {
  /** One page of the pods bound to `nodeName`, across namespaces. */
  list(nodeName: string, page: ListPage): Promise<{ items: V1Pod[]; metadata?: { resourceVersion?: string; continue?: string; _continue?: string } }>;
  /**
   * Watches every pod from `resourceVersion` (with bookmarks). `onDone` is called once, when the
   * stream ends: with undefined when it ended cleanly or timed out, with the error otherwise.
   * Resolves with a function that closes the stream.
   */
  watch(resourceVersion: string, onEvent: (type: PodWatchEventType, object: V1Pod) => void, onDone: (error: unknown) => void): Promise<() => void>;
}

export interface DrainPodsOptions {
  source: PodSource;
  clock: Clock;
  logger: Logger;
  /** A tracked node's pods changed, or its first list came back: reconcile it. */
  onChange: (nodeName: string) => void;
  /**
   * The pods bound to a node from drain readiness's index (readiness/drain-readiness.ts podsOn), or
   * undefined while it has none to give (readiness off, or not listed yet). Its changes requeue the
   * node through readiness's own change handler, so `onChange` is not called for these nodes.
   */
  fromIndex?: (nodeName: string) => DrainPod[] | undefined;
  /** A list or the watch failed (metrics). */
  onError?: (error: unknown) => void;
  /** First retry after a failed list or watch; doubles up to maxBackoffMs, with full jitter. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  random?: Random;
}

/** Pods a list request: a node holds at most a few hundred, so one page almost always. */
const POD_LIST_PAGE = 500;

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  pod: V1Pod;
}

/** One draining node: its pods by uid once listed; the events that arrive while it is listed. */
interface TrackedNode {
  pods: Map<string, DrainPod> | undefined;
  listedAt: string | undefined;
  /** Set while a list is in flight: the watch's events for this node wait here. */
  waiting: WatchEvent[] | undefined;
}

type WatchState =
  /** No watch: the next list to come back starts one. */
  | { kind: 'none' }
  /** The first list is in flight; lists of other nodes wait for the watch it starts. */
  | { kind: 'starting'; started: Promise<void> }
  | { kind: 'running'; resourceVersion: string; close: (() => void) | undefined; backoff: Backoff };

export class DrainPods {
  /** Nodes whose pods this lists and watches itself. */
  private readonly nodes = new Map<string, TrackedNode>();
  /** Nodes whose pods the readiness index serves now (count() only). */
  private readonly indexed = new Set<string>();
  private state: WatchState = { kind: 'none' };
  /** Bumped whenever the watch's continuity breaks: lists started before it are void. */
  private generation = 0;
  private stopped = false;
  private readonly stopController = new AbortController();

  constructor(private readonly options: DrainPodsOptions) {}

  /** The pods bound to `nodeName`, or undefined while they have not been listed yet (starting to track them if needed). */
  podsOn(nodeName: string): DrainPod[] | undefined {
    const indexed = this.stopped ? undefined : this.options.fromIndex?.(nodeName);
    if (indexed !== undefined) {
      // The index is complete from its first list on: our own list and watch of this node can go.
      this.indexed.add(nodeName);
      this.releaseTracked(nodeName);
      return indexed;
    }
    this.indexed.delete(nodeName);
    const tracked = this.nodes.get(nodeName);
    if (tracked === undefined) {
      if (!this.stopped) this.track(nodeName);
      return undefined;
    }
    return tracked.pods === undefined ? undefined : [...tracked.pods.values()];
  }

  /** The node's drain is over (or it is gone): forget its pods; the watch closes with the last one. */
  release(nodeName: string): void {
    this.indexed.delete(nodeName);
    this.releaseTracked(nodeName);
  }

  /** How many nodes' pods are tracked now, by the index or by this (a metric). */
  count(): number {
    return this.nodes.size + this.indexed.size;
  }

  /** True while the one pod watch is open (tests, metrics). */
  watching(): boolean {
    return this.state.kind === 'running' && this.state.close !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopController.abort();
    this.nodes.clear();
    this.indexed.clear();
    this.closeWatch();
  }

  /** Our own list and watch of the node end; the watch closes with the last node. */
  private releaseTracked(nodeName: string): void {
    if (!this.nodes.delete(nodeName)) return;
    if (this.nodes.size === 0) this.closeWatch();
  }

  private track(nodeName: string): void {
    const tracked: TrackedNode = { pods: undefined, listedAt: undefined, waiting: undefined };
    this.nodes.set(nodeName, tracked);
    void this.list(nodeName, tracked);
  }

  /** Lists the node's pods (after the watch has started, unless this list is to start it), retrying until it is released. */
  private async list(nodeName: string, tracked: TrackedNode): Promise<void> {
    const backoff = this.backoff();
    while (!this.stopped && this.nodes.get(nodeName) === tracked) {
      if (this.state.kind === 'starting') {
        await this.state.started;
        continue;
      }
      const generation = this.generation;
      // No watch yet: this list starts it, and the lists of other nodes wait for it.
      let startedWatch = () => {};
      const starting: WatchState | undefined = this.state.kind === 'none' ? { kind: 'starting', started: new Promise<void>((resolve) => (startedWatch = resolve)) } : undefined;
      if (starting !== undefined) this.state = starting;
      const giveUpStarting = () => {
        if (starting !== undefined && this.state === starting) this.state = { kind: 'none' };
      };
      tracked.waiting = [];
      try {
        const { items, resourceVersion } = await this.listPages(nodeName);
        if (this.stopped || this.nodes.get(nodeName) !== tracked) {
          giveUpStarting();
          return;
        }
        if (generation !== this.generation) {
          // The watch's continuity broke while this list was out: list again.
          giveUpStarting();
          continue;
        }
        tracked.pods = new Map();
        for (const pod of items) this.apply(tracked, { type: 'ADDED', pod });
        tracked.listedAt = resourceVersion;
        for (const event of tracked.waiting) if (newer(event.pod.metadata?.resourceVersion, resourceVersion)) this.apply(tracked, event);
        tracked.waiting = undefined;
        if (starting !== undefined) this.state = { kind: 'running', resourceVersion, close: undefined, backoff: this.backoff() };
        this.options.onChange(nodeName);
        if (starting !== undefined) void this.openWatch(this.generation);
        return;
      } catch (error) {
        tracked.waiting = undefined;
        giveUpStarting();
        if (this.stopped) return;
        this.options.onError?.(error);
        const delay = backoff.next();
        this.options.logger.warn('could not list the pods of a draining node, retrying', { node: nodeName, error: errorMessage(fromClientNodeError(error, 'GET', '/api/v1/pods')), retryInMs: delay });
        await sleep(this.options.clock, delay, this.stopController.signal);
      } finally {
        startedWatch();
      }
    }
  }

  private async listPages(nodeName: string): Promise<{ items: V1Pod[]; resourceVersion: string }> {
    let page = await this.options.source.list(nodeName, { limit: POD_LIST_PAGE });
    const items = [...page.items];
    for (let token = continueToken(page); token !== undefined; token = continueToken(page)) {
      page = await this.options.source.list(nodeName, { limit: POD_LIST_PAGE, _continue: token });
      items.push(...page.items);
    }
    const resourceVersion = page.metadata?.resourceVersion;
    if (resourceVersion === undefined || resourceVersion === '') throw new Error(`the pod list for node ${nodeName} carries no resourceVersion`);
    return { items, resourceVersion };
  }

  /** Opens (or reopens) the watch from the last version it saw, for as long as this generation lasts. */
  private async openWatch(generation: number): Promise<void> {
    const state = this.state;
    if (state.kind !== 'running' || generation !== this.generation || this.stopped) return;
    let ended = false;
    const onDone = (error: unknown) => {
      if (ended) return;
      ended = true;
      void this.watchEnded(generation, error);
    };
    try {
      const close = await this.options.source.watch(state.resourceVersion, (type, object) => this.onWatchEvent(generation, type, object), onDone);
      if (ended || this.state !== state || generation !== this.generation) close();
      else state.close = close;
    } catch (error) {
      onDone(error);
    }
  }

  private onWatchEvent(generation: number, type: PodWatchEventType, object: V1Pod): void {
    const state = this.state;
    if (state.kind !== 'running' || generation !== this.generation) return;
    if (type === 'ERROR') {
      // The server says the watch cannot go on (410 Gone mostly); it closes the stream next.
      if (isGone(object)) this.expire();
      return;
    }
    const resourceVersion = object.metadata?.resourceVersion;
    if (resourceVersion !== undefined && resourceVersion !== '') state.resourceVersion = resourceVersion;
    state.backoff.reset();
    if (type === 'BOOKMARK') return;
    const nodeName = object.spec?.nodeName;
    if (nodeName === undefined || nodeName === '') return;
    const tracked = this.nodes.get(nodeName);
    if (tracked === undefined) return;
    const event: WatchEvent = { type, pod: object };
    if (tracked.waiting !== undefined) {
      tracked.waiting.push(event);
      return;
    }
    if (tracked.pods === undefined || !newer(resourceVersion, tracked.listedAt)) return;
    this.apply(tracked, event);
    this.options.onChange(nodeName);
  }

  private async watchEnded(generation: number, error: unknown): Promise<void> {
    const state = this.state;
    if (state.kind !== 'running' || generation !== this.generation || this.stopped) return;
    state.close = undefined;
    if (isGone(error)) {
      this.expire();
      return;
    }
    if (error !== undefined && error !== null) {
      // The API server went away, or refused: resume from the last version after a backoff.
      this.options.onError?.(error);
      const delay = state.backoff.next();
      this.options.logger.warn('the pod watch failed, reopening', { error: errorMessage(fromClientNodeError(error, 'GET', '/api/v1/pods?watch=true')), retryInMs: delay });
      await sleep(this.options.clock, delay, this.stopController.signal);
    }
    if (this.nodes.size === 0) {
      if (this.state === state) this.state = { kind: 'none' };
      return;
    }
    await this.openWatch(generation);
  }

  /** The watch cannot resume: forget every node's pods and list them all again, the first list starting a new watch. */
  private expire(): void {
    const state = this.state;
    if (state.kind === 'running') state.close?.();
    this.generation++;
    this.state = { kind: 'none' };
    this.options.logger.info('the pod watch expired, listing the pods of draining nodes again', { nodes: this.nodes.size });
    for (const nodeName of [...this.nodes.keys()]) {
      // A fresh entry: a list in flight for the old one gives up when it comes back.
      const fresh: TrackedNode = { pods: undefined, listedAt: undefined, waiting: undefined };
      this.nodes.set(nodeName, fresh);
      void this.list(nodeName, fresh);
    }
  }

  private closeWatch(): void {
    const state = this.state;
    this.generation++;
    this.state = { kind: 'none' };
    if (state.kind === 'running') state.close?.();
  }

  private apply(tracked: TrackedNode, event: WatchEvent): void {
    const uid = event.pod.metadata?.uid;
    if (uid === undefined || tracked.pods === undefined) return;
    if (event.type === 'DELETED') tracked.pods.delete(uid);
    else tracked.pods.set(uid, drainPodOf(event.pod));
  }

  private backoff(): Backoff {
    const baseMs = this.options.initialBackoffMs ?? 500;
    return new Backoff({ baseMs, capMs: Math.max(baseMs, this.options.maxBackoffMs ?? INFORMER_MAX_BACKOFF_MS), random: this.options.random ?? Math.random });
  }
}

/**
 * Whether an event at `resourceVersion` is newer than a list at `listedAt`. Resource versions are
 * opaque to clients, but the API server's are etcd revisions, whole numbers that grow (its own
 * watch cache compares them so). One that is not a whole number is applied: replaying events in
 * order converges on the right state anyway, only a moment later.
 */
function newer(resourceVersion: string | undefined, listedAt: string | undefined): boolean {
  if (resourceVersion === undefined || listedAt === undefined || !/^\d+$/.test(resourceVersion) || !/^\d+$/.test(listedAt)) return true;
  return BigInt(resourceVersion) > BigInt(listedAt);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error !== null && typeof error === 'object' && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}
