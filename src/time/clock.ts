// Time as a dependency, the one Clock of the code base: components take a Clock so that tests drive
// them with a fake one and many agents can share one process (docs/architecture.md, "Layering rules": one of each mechanism).
//
// src/time/ is the lowest floor: it imports nothing of ours, so the agent, the controller, the
// emulator, runtime/ and observability/ (which runtime/ itself imports: its logger) all use it
// without an import that runs back up the layering.

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

function realClock(unref: boolean): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (callback, delayMs) => {
      const timer = setTimeout(callback, delayMs);
      if (unref) timer.unref();
      return timer;
    },
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
}

/**
 * Real time. A pending timer keeps the process running, as Node's own timers do: the agent's
 * `--once` and the controller's `--cleanup` wait out a retry or a deadline with nothing else open.
 */
export const systemClock: Clock = realClock(false);

/**
 * Real time whose pending timers never keep the process running (unref): the long-running
 * controller's requeues, limiter waits and retries must not hold a process that is stopping.
 */
export const unrefSystemClock: Clock = realClock(true);

/**
 * Resolves after `ms` on `clock`, or at once when `signal` aborts: it never rejects. A caller that
 * must stop when aborted looks at `signal.aborted` afterwards (or calls `signal.throwIfAborted()`).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
