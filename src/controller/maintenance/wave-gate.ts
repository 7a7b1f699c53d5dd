// Evictions wait until the wave's cordons are done. A pod evicted from one doomed node and scheduled
// onto another doomed node that is not cordoned yet is evicted twice, and its second eviction may
// come too late. So while any node waits for its taint and cordon (the fast path), and for a short
// settle time after the last one (the rest of the wave's statuses arrive within about one agent
// poll), no drain starts evicting. The hold is bounded per node: a drain never waits longer than
// maxHold for a wave that keeps growing, and a drain forced by its deadline waits the same bound.

import type { Clock } from '../../time/clock.js';

export interface WaveGateOptions {
  clock: Clock;
  /** Evictions start once no node has needed protection for this long (drain.waveSettleTime, read at each use: it reloads). */
  settleMs: () => number;
  /** The longest a node's evictions are held (default 10 × settle, at least 10 s). */
  maxHoldMs?: number;
}

export class WaveGate {
  /** Nodes queued or in flight on the fast path. */
  private readonly pending = new Set<string>();
  private lastActivityMs = Number.NEGATIVE_INFINITY;
  /** When each held node's evictions were first held. */
  private readonly heldSince = new Map<string, number>();

  constructor(private readonly options: WaveGateOptions) {}

  /** `nodeName` needs its taint and cordon: evictions wait. */
  protecting(nodeName: string): void {
    this.pending.add(nodeName);
    this.lastActivityMs = this.options.clock.now();
  }

  /** `nodeName` has its taint and cordon (or needs none any more, or is gone). */
  protectedNode(nodeName: string): void {
    if (!this.pending.delete(nodeName)) return;
    this.lastActivityMs = this.options.clock.now();
  }

  /** Nodes waiting for protection now. */
  pendingCount(): number {
    return this.pending.size;
  }

  /**
   * How long `nodeName` must still hold its evictions, or undefined when they may go. A node that
   * waits for its own protection holds until it has it (the reconciler cordons it anyway first).
   */
  holdMs(nodeName: string): number | undefined {
    const now = this.options.clock.now();
    const settleMs = this.options.settleMs();
    const settled = this.pending.size === 0 && now - this.lastActivityMs >= settleMs;
    if (settled) {
      this.heldSince.delete(nodeName);
      return undefined;
    }
    const since = this.heldSince.get(nodeName) ?? now;
    this.heldSince.set(nodeName, since);
    const maxHold = this.options.maxHoldMs ?? Math.max(10_000, 10 * settleMs);
    const left = since + maxHold - now;
    if (left <= 0) {
      this.heldSince.delete(nodeName);
      return undefined;
    }
    const untilSettled = this.pending.size === 0 ? this.lastActivityMs + settleMs - now : Math.max(settleMs, 100);
    return Math.max(1, Math.min(left, untilSettled));
  }

  /** The node's drain is over or gone. */
  forget(nodeName: string): void {
    this.heldSince.delete(nodeName);
    this.pending.delete(nodeName);
  }
}
