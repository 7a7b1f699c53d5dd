// What the drain readiness metrics count (docs/metrics.md): per node its last verdict, reduced to
// whether it is ready, its blocked pods by reason and whether a maintenance event is pending on it.
// Kept as the reconciler evaluates; the gauges sum it when scraped. No per-node label: at 5,000
// nodes that would be 5,000 series per metric.

import type { ReadinessLook } from './drain-readiness.js';
import { DrainBlocker } from './verdict.js';

interface NodeTally {
  ready: boolean;
  /** Blocked pods by reason (only reasons that occur). */
  blocked: Partial<Record<DrainBlocker, number>>;
  eventPending: boolean;
}

export class ReadinessTally {
  private readonly nodes = new Map<string, NodeTally>();

  /** A node's look: a verdict replaces what was counted; off forgets it; cold keeps the last count. */
  observed(nodeName: string, look: ReadinessLook, eventPending: boolean): void {
    if (look.kind === 'off') {
      this.nodes.delete(nodeName);
      return;
    }
    if (look.kind === 'cold') {
      const known = this.nodes.get(nodeName);
      if (known !== undefined) known.eventPending = eventPending;
      return;
    }
    const blocked: NodeTally['blocked'] = {};
    for (const blocker of look.verdict.blockers) {
      const reason = blocker.reason as DrainBlocker;
      blocked[reason] = (blocked[reason] ?? 0) + 1;
    }
    this.nodes.set(nodeName, { ready: look.verdict.blockedPods === 0, blocked, eventPending });
  }

  forget(nodeName: string): void {
    this.nodes.delete(nodeName);
  }

  /** Everything counted goes (drain readiness switched off). */
  clear(): void {
    this.nodes.clear();
  }

  notReady(): number {
    let count = 0;
    for (const tally of this.nodes.values()) if (!tally.ready) count++;
    return count;
  }

  pendingNotReady(): number {
    let count = 0;
    for (const tally of this.nodes.values()) if (!tally.ready && tally.eventPending) count++;
    return count;
  }

  /** Blocked pods by reason, every reason present (0 when none). */
  blockedByReason(): Record<DrainBlocker, number> {
    const sums = Object.fromEntries(Object.values(DrainBlocker).map((reason) => [reason, 0])) as Record<DrainBlocker, number>;
    for (const tally of this.nodes.values()) {
      for (const [reason, count] of Object.entries(tally.blocked) as [DrainBlocker, number][]) sums[reason] += count;
    }
    return sums;
  }
}
