// Lease-based leader election, the client-go algorithm: only the holder of a fresh Lease works;
// a holder that cannot renew within renewDeadline stops its work at once (it may no longer be the
// leader: another replica can take over after leaseDuration), and releases the Lease on a graceful
// shutdown so that the other replica takes over without waiting for it to expire.

import { Backoff, type Random } from '../time/backoff.js';
import { sleep, type Clock } from '../time/clock.js';
import type { Logger } from '../observability/logger.js';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
  /** Optimistic concurrency: an update with a stale resourceVersion fails with LeaseConflictError. */
  resourceVersion?: string;
}

export class LeaseConflictError extends Error {
  override name = 'LeaseConflictError';
}

/** Where the Lease lives; the Kubernetes implementation is in src/kube/client-node/lease-store.ts. */
export interface LeaseStore {
  /** undefined when the Lease does not exist. */
  get(): Promise<LeaseRecord | undefined>;
  /** Throws LeaseConflictError when it already exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Throws LeaseConflictError when `record.resourceVersion` is stale. */
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

export interface LeaderElectionOptions {
  identity: string;
  store: LeaseStore;
  clock: Clock;
  logger: Logger;
  /** How long a Lease is valid without renewal (client-go default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leadership (default 10 s). */
  renewDeadlineMs?: number;
  /**
   * Between attempts (default 2 s). After a failed request the next one waits a full-jitter backoff
   * instead: random(0, min(2 × retryPeriod, retryPeriod × 2ⁿ)), never past the renew deadline.
   */
  retryPeriodMs?: number;
  /** Uniform numbers in [0, 1) for that backoff's jitter (default Math.random). */
  random?: Random;
  /** Called when this replica becomes leader; `signal` aborts the moment leadership is lost. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called once when leadership ends, lost or released. */
  onStoppedLeading(): void;
  /** Called when a different leader is observed (for logs and metrics). */
  onNewLeader?(identity: string): void;
}

/**
 * Runs the election until `signal` aborts. Resolves after leadership was lost (the caller should
 * exit: a fresh process starts clean) or after a graceful stop, when the Lease has been released.
 */
export async function runLeaderElection(options: LeaderElectionOptions, signal: AbortSignal): Promise<'lost' | 'stopped'> {
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  const { clock, logger, identity } = options;
  // Expiry is judged by our own clock from when we last saw the record change, never by the
  // renewTime written by another machine (clock skew between replicas must not matter).
  let observed: { record: LeaseRecord; at: number } | undefined;
  let lastLeader: string | undefined;

  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = clock.now();
    const current = await options.store.get();
    const desired: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: new Date(now),
      renewTime: new Date(now),
      leaseTransitions: 0,
    };
    if (!current) {
      observed = { record: await options.store.create(desired), at: now };
      return true;
    }
    if (!observed || observed.record.resourceVersion !== current.resourceVersion) observed = { record: current, at: now };
    const holder = current.holderIdentity ?? '';
    if (holder !== lastLeader) {
      lastLeader = holder;
      if (holder && holder !== identity) options.onNewLeader?.(holder);
    }
    const heldByOther = holder !== '' && holder !== identity;
    const expiresAt = observed.at + (current.leaseDurationSeconds ?? Math.ceil(leaseDurationMs / 1000)) * 1000;
    if (heldByOther && expiresAt > now) return false;
    if (holder === identity) {
      desired.acquireTime = current.acquireTime;
      desired.leaseTransitions = current.leaseTransitions ?? 0;
    } else {
      desired.leaseTransitions = (current.leaseTransitions ?? 0) + 1;
    }
    observed = { record: await options.store.update({ ...desired, resourceVersion: current.resourceVersion }), at: now };
    return true;
  };

  // An answer (held, or held by another) is followed by the next attempt one retry period later.
  // A failed request is retried after the one backoff (time/backoff.ts), full jitter from the retry
  // period, capped at twice it: while the API server is away the replicas ask about as often as
  // they did with a fixed period, but not in step with each other.
  const failures = new Backoff({ baseMs: retryPeriodMs, capMs: 2 * retryPeriodMs, random: options.random ?? Math.random });
  // A failure is logged once, then retried quietly (debug) while it stays the same: a missing
  // namespace must not fill the log every retry period. A new error, or the end of it, is logged.
  let failing: string | undefined;
  /** Whether we hold the Lease, and how long to wait before the next attempt. */
  const attempt = async (): Promise<{ held: boolean; waitMs: number }> => {
    try {
      const held = await tryAcquireOrRenew();
      if (failing !== undefined) logger.info('leader election: lease requests work again', { after: failing });
      failing = undefined;
      failures.reset();
      return { held, waitMs: retryPeriodMs };
    } catch (err) {
      if (err instanceof LeaseConflictError) return { held: false, waitMs: retryPeriodMs };
      const message = err instanceof Error ? err.message : String(err);
      const waitMs = failures.next();
      if (message === failing) logger.debug('leader election: lease request failed again', { error: message, retryInMs: waitMs });
      else logger.warn('leader election: lease request failed, retrying', { error: message, retryInMs: waitMs });
      failing = message;
      return { held: false, waitMs };
    }
  };

  // Candidate: try until we hold the Lease.
  while (!signal.aborted) {
    const { held, waitMs } = await attempt();
    if (held) break;
    await sleep(clock, waitMs, signal);
  }
  if (signal.aborted) return 'stopped';

  logger.info('leader election: became leader', { identity });
  const leading = new AbortController();
  options.onStartedLeading(leading.signal);

  // Leader: renew every retryPeriod; give up when no renewal succeeded within renewDeadline.
  let lastRenew = clock.now();
  let outcome: 'lost' | 'stopped' = 'stopped';
  let waitMs = retryPeriodMs;
  while (!signal.aborted) {
    // A retry never sleeps past the renew deadline: the loss is seen on time, not a backoff later.
    await sleep(clock, Math.min(waitMs, Math.max(0, lastRenew + renewDeadlineMs - clock.now())), signal);
    if (signal.aborted) break;
    const renewed = await attempt();
    waitMs = renewed.waitMs;
    if (renewed.held) {
      lastRenew = clock.now();
    } else if (clock.now() - lastRenew >= renewDeadlineMs || (observed && observed.record.holderIdentity !== identity)) {
      outcome = 'lost';
      break;
    }
  }
  leading.abort();
  if (outcome === 'lost') {
    logger.error('leader election: lost the lease, stopping work', { identity });
  } else {
    await release(options, observed?.record);
  }
  options.onStoppedLeading();
  return outcome;
}

async function release(options: LeaderElectionOptions, record: LeaseRecord | undefined): Promise<void> {
  if (!record || record.holderIdentity !== options.identity) return;
  try {
    // An empty holder with a 1 s duration lets the next candidate acquire at once.
    await options.store.update({ ...record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new Date(options.clock.now()) });
    options.logger.info('leader election: released the lease', { identity: options.identity });
  } catch (err) {
    options.logger.warn('leader election: could not release the lease', { error: (err as Error).message });
  }
}
