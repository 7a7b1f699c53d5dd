// What the controller process does when it loses its lease: it starts over in the same process.
//
// A lease is lost when the leader cannot renew it within the renew deadline, most often because the
// API server was unreachable (restarted, paused, overloaded) for longer than that. client-go's advice
// is never to resume work after that, and kube-controller-manager exits so that the kubelet
// restarts it. nodemeta keeps the advice without the container restart: runController() has
// already stopped every worker, closed the informers and dropped its caches when it returns
// 'lost-leadership', so running it again is a restart with fresh caches, minus a new process. A
// person then sees no restart count climbing on a control-plane blip, and no CrashLoopBackOff if
// the API server stays away for a while.
//
// Terms that end in quick succession back off (full jitter, 1 s doubling to 30 s); a term that
// lasted a while resets the backoff.

import type { Logger } from '../observability/logger.js';
import type { ControllerExit } from './controller.js';
import { Backoff, type Random } from '../time/backoff.js';
import { sleep, type Clock } from '../time/clock.js';

export interface TermOptions {
  clock: Clock;
  logger: Logger;
  random?: Random;
  /** A term that lasted at least this long resets the backoff (default 60 s). */
  stableAfterMs?: number;
}

export const TERM_BACKOFF = { baseMs: 1_000, capMs: 30_000 } as const;

/**
 * Runs `run` again each time it ends with 'lost-leadership', until it stops because `signal`
 * aborted. Resolves 'stopped'. `run` is given the term number (1 for the first).
 */
export async function runTerms(run: (term: number) => Promise<ControllerExit>, signal: AbortSignal, options: TermOptions): Promise<'stopped'> {
  const { clock, logger } = options;
  const backoff = new Backoff({ ...TERM_BACKOFF, random: options.random ?? Math.random });
  const stableAfterMs = options.stableAfterMs ?? 60_000;
  for (let term = 1; ; term++) {
    const startedAt = clock.now();
    const exit = await run(term);
    if (exit === 'stopped' || signal.aborted) return 'stopped';
    if (clock.now() - startedAt >= stableAfterMs) backoff.reset();
    const delayMs = backoff.next();
    logger.warn('leadership lost: every worker stopped; starting again in this process with fresh caches', { term, restartInMs: delayMs });
    await sleep(clock, delayMs, signal);
    if (signal.aborted) return 'stopped';
  }
}
