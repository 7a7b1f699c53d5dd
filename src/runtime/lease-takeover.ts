// Taking the controller's Lease whoever holds it: what `nodemeta controller --cleanup` (the chart's
// pre-delete hook, controller/cleanup.ts) does before it removes nodemeta's labels, taints and
// cordons, so that no replica re-adds them. The one place a takeover regardless of the holder is
// right (the release is being removed); leader election itself (leader-election.ts) never does it.

import type { Logger } from '../observability/logger.js';
import { sleep, type Clock } from '../time/clock.js';
import { LeaseConflictError, type LeaseStore } from './leader-election.js';

export interface LeaseTakeoverOptions {
  store: LeaseStore;
  identity: string;
  clock: Clock;
  logger: Logger;
  /** How long the taken Lease holds (long: the replicas must stay idle until they are deleted). */
  leaseDurationSeconds: number;
  /** The replicas' renew deadline: after it, a replica that lost the Lease has stopped writing. */
  renewDeadlineMs: number;
  signal?: AbortSignal;
}

/**
 * Takes the Lease whoever holds it, then waits until no other replica can still be writing.
 * Returns the previous holder ('' when none).
 */
export async function takeLease(options: LeaseTakeoverOptions): Promise<string> {
  const { store, identity, clock } = options;
  for (let attempt = 1; ; attempt++) {
    const now = new Date(clock.now());
    const desired = { holderIdentity: identity, leaseDurationSeconds: options.leaseDurationSeconds, acquireTime: now, renewTime: now };
    try {
      const current = await store.get();
      let previous = '';
      if (current === undefined) {
        await store.create({ ...desired, leaseTransitions: 0 });
      } else {
        previous = current.holderIdentity ?? '';
        const transitions = (current.leaseTransitions ?? 0) + (previous === identity ? 0 : 1);
        await store.update({ ...desired, leaseTransitions: transitions, resourceVersion: current.resourceVersion });
      }
      options.logger.info('cleanup: took the lease', { identity, previousHolder: previous, leaseDurationSeconds: options.leaseDurationSeconds });
      if (previous !== '' && previous !== identity) {
        options.logger.info('cleanup: waiting the renew deadline so the running replicas stop writing', { renewDeadlineMs: options.renewDeadlineMs });
        await sleep(clock, options.renewDeadlineMs, options.signal);
      }
      return previous;
    } catch (error) {
      // A replica renewed between our read and write: read again (its next renewal will then fail).
      if (!(error instanceof LeaseConflictError) || attempt >= 10) throw error;
    }
  }
}
