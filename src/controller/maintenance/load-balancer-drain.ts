// Load balancers first (docs/maintenance.md, "Load balancers first"): after the node is labelled
// node.kubernetes.io/exclude-from-external-load-balancers and before its first eviction, the drain
// waits drain.loadBalancerDrainDelay, so that the cloud takes the node out of the LoadBalancer
// backend pools and the connections through it end. Pure: the time the label was first seen is in
// status.maintenance.excludedTime (a restart or a new leader resumes the wait), `now` is the input's.
//
// The deadline rule wins: the wait never runs past the moment the drain must start to end before
// NotBefore (the state machine's drainForcedAt), and a wait cut short says so in one Event.

import type { MaintenanceStatus } from '../../api/nodemetadata.js';
import { rfc3339Seconds } from '../../time/rfc3339.js';

const SECOND_MS = 1_000;

export interface LoadBalancerDrain {
  /** Epoch ms of the first eviction: excludedTime + delay, or the drain's deadline if that comes first. */
  endMs: number;
  /** The deadline came first: the wait is shorter than drain.loadBalancerDrainDelay. */
  cut: boolean;
  /** Epoch ms excludedTime + delay: when the full wait would have ended. */
  fullEndMs: number;
}

/**
 * `status` with excludedTime recorded the first time the node is known to carry the exclusion label
 * (whoever added it). Rounded up to the second (status times are whole seconds), so the wait is
 * never shorter than the delay. Unchanged with no delay configured.
 */
export function recordExclusion(status: MaintenanceStatus, delayMs: number, labelled: boolean, now: Date): MaintenanceStatus {
  if (delayMs <= 0 || status.excludedTime !== undefined || !labelled) return status;
  return { ...status, excludedTime: rfc3339Seconds(Math.ceil(now.getTime() / SECOND_MS) * SECOND_MS) };
}

/** The wait before the first eviction, or undefined when there is none (no delay, or the label was never seen). */
export function loadBalancerDrain(status: MaintenanceStatus, delayMs: number, deadlineMs: number): LoadBalancerDrain | undefined {
  if (delayMs <= 0 || status.excludedTime === undefined) return undefined;
  const fullEndMs = Date.parse(status.excludedTime) + delayMs;
  if (Number.isNaN(fullEndMs)) return undefined;
  return fullEndMs <= deadlineMs ? { endMs: fullEndMs, cut: false, fullEndMs } : { endMs: deadlineMs, cut: true, fullEndMs };
}

/** Whether the wait recorded in status.maintenance.loadBalancerDrainUntil was already cut (its Event was written). */
export function announcedCut(status: MaintenanceStatus, wait: LoadBalancerDrain): boolean {
  const until = status.loadBalancerDrainUntil === undefined ? NaN : Date.parse(status.loadBalancerDrainUntil);
  return !Number.isNaN(until) && until < wait.fullEndMs;
}

/** The message of the Event that says a wait was cut by the deadline (EventReasons.LoadBalancerDrainCut). */
export function cutMessage(event: string, wait: LoadBalancerDrain, delayMs: number, notBefore: string | undefined): string {
  const waitedS = Math.max(0, Math.round((wait.endMs - (wait.fullEndMs - delayMs)) / 1000));
  const why = notBefore === undefined ? 'the event has started' : `the drain must start by ${rfc3339Seconds(wait.endMs)} to end before NotBefore ${notBefore}`;
  return `${event}: the load balancers get ${waitedS}s of drain.loadBalancerDrainDelay ${Math.round(delayMs / 1000)}s before the first eviction: ${why}`;
}
