// Status writes that are only a report (the controller's conditions changed, its maintenance step
// did not) written off the reconcile's path, the way Events are. A cold start of 5,000 nodes costs
// one label write, one status write and one Event a node; when each reconcile waited for its status
// write, the labels users schedule on came at a third of the rate limit (100 s for 5,000 nodes at
// 200 requests/s). Handed over here, the reports wait behind the labels and follow them.
//
// Per node only the latest report waits (a newer one replaces it), and a node never has two writes
// of its status in flight: a write of the maintenance step (which carries the conditions too) first
// takes the node's report back (supersede), waiting for one already sent, so that an older report
// can never land after it and set back the step.

import type { ControllerStatus, NodeMetadata } from '../../api/nodemetadata.js';
import type { Logger } from '../../observability/logger.js';
import { Backoff, type Random } from '../../time/backoff.js';
import type { Clock, TimerHandle } from '../../time/clock.js';
import { NotLeaderError } from '../cache/cluster-state.js';

export interface StatusReportsOptions {
  /** The write (applyControllerStatus as a report). */
  write: (name: string, status: ControllerStatus) => Promise<NodeMetadata>;
  /** A report was written: what the API server stored (for read-your-writes). */
  written: (name: string, stored: NodeMetadata) => void;
  clock: Clock;
  logger: Logger;
  /** Reports written at once (default 4). */
  concurrency?: number;
  random?: Random;
}

interface InFlight {
  status: ControllerStatus;
  done: Promise<void>;
  /** A write of the step came meanwhile: if this one fails, it is not retried. */
  superseded: boolean;
}

export class StatusReports {
  private readonly waiting = new Map<string, ControllerStatus>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly failures = new Map<string, Backoff>();
  /** A failed report waits out its backoff here, holding no writer. */
  private readonly retries = new Map<string, TimerHandle>();
  private readonly retrying = new Map<string, ControllerStatus>();
  private writers = 0;
  private stopped = false;

  constructor(private readonly options: StatusReportsOptions) {}

  /**
   * Hands over the node's latest report. One equal to what waits, is being written or waits out a
   * retry is not taken twice: false then (the caller's Events for it were recorded already).
   */
  submit(name: string, status: ControllerStatus): boolean {
    if (this.stopped) return false;
    const same = (other: ControllerStatus | undefined) => other !== undefined && JSON.stringify(other) === JSON.stringify(status);
    if (same(this.latest(name))) return false;
    this.cancelRetry(name);
    this.waiting.set(name, status);
    this.pump();
    return true;
  }

  /**
   * A write of the node's maintenance step comes: the waiting report is dropped (the step's write
   * carries the conditions), and one being written is waited for.
   */
  async supersede(name: string): Promise<void> {
    this.waiting.delete(name);
    this.cancelRetry(name);
    const inFlight = this.inFlight.get(name);
    if (inFlight === undefined) return;
    inFlight.superseded = true;
    await inFlight.done;
  }

  /** The node's latest report not yet written (waiting, being written, or waiting out a retry). */
  latest(name: string): ControllerStatus | undefined {
    return this.waiting.get(name) ?? this.retrying.get(name) ?? this.inFlight.get(name)?.status;
  }

  /** Reports waiting or being written (tests, metrics). */
  pending(): number {
    return this.waiting.size + this.inFlight.size + this.retries.size;
  }

  /** The process stops: nothing more is written. */
  stop(): void {
    this.stopped = true;
    this.drop();
  }

  /** Forgets every report not yet sent. */
  drop(): void {
    this.waiting.clear();
    for (const name of [...this.retries.keys()]) this.cancelRetry(name);
  }

  private cancelRetry(name: string): void {
    const timer = this.retries.get(name);
    if (timer === undefined) return;
    this.options.clock.clearTimeout(timer);
    this.retries.delete(name);
    this.retrying.delete(name);
  }

  private pump(): void {
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    while (!this.stopped && this.writers < concurrency) {
      let name: string | undefined;
      for (const candidate of this.waiting.keys()) {
        if (this.inFlight.has(candidate)) continue;
        name = candidate;
        break;
      }
      if (name === undefined) return;
      const status = this.waiting.get(name)!;
      this.waiting.delete(name);
      this.writers++;
      const entry: InFlight = { status, done: Promise.resolve(), superseded: false };
      entry.done = this.writeOne(name, entry).finally(() => {
        this.writers--;
        this.inFlight.delete(name);
        this.pump();
      });
      this.inFlight.set(name, entry);
    }
  }

  private async writeOne(name: string, entry: InFlight): Promise<void> {
    const { status } = entry;
    try {
      this.options.written(name, await this.options.write(name, status));
      this.failures.delete(name);
    } catch (error) {
      if (error instanceof NotLeaderError) {
        // No longer the leader: what waits is dropped (the next leader reports from its own caches).
        this.drop();
        return;
      }
      if (this.stopped || entry.superseded) return;
      // Retried after a backoff, unless a newer report (or the step's write) takes its place meanwhile.
      let backoff = this.failures.get(name);
      if (backoff === undefined) {
        backoff = new Backoff({ baseMs: 500, capMs: 30_000, random: this.options.random ?? Math.random });
        this.failures.set(name, backoff);
      }
      const delay = backoff.next();
      this.options.logger.warn('could not write a status report, retrying', { node: name, error: error instanceof Error ? error.message : String(error), retryInMs: delay });
      const timer = this.options.clock.setTimeout(() => {
        this.retries.delete(name);
        this.retrying.delete(name);
        if (this.stopped || this.waiting.has(name)) return;
        this.waiting.set(name, status);
        this.pump();
      }, delay);
      this.retries.set(name, timer);
      this.retrying.set(name, status);
    }
  }
}
