// A counting semaphore: at most `limit` holders at once, the others wait in arrival order. The
// controller's cap on evictions in flight across every node that drains (--max-concurrent-evictions).

export class Semaphore {
  private held = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`a semaphore needs a whole limit of at least 1 (got ${limit})`);
  }

  async acquire(): Promise<void> {
    if (this.held < this.limit) {
      this.held++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Hands the slot to the next waiter, if any (it stays held), else frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.held = Math.max(0, this.held - 1);
  }

  /** Runs `task` holding one slot. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  inUse(): number {
    return this.held;
  }
}
