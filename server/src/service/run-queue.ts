/**
 * Runs at most N runs at once, in the order they were submitted. The queue holds ids only: the
 * records are the truth, so a restarted server rebuilds its queue from the runs still `queued`.
 *
 * On a server shared by several users each run has an owner, and one owner runs at most
 * `perOwner` at once: their other runs wait while other users' runs, submitted later, go first
 * (one student's 100-variant sweep takes `perOwner` of the slots, not all of them). Among the
 * owners under their cap, the oldest waiting run goes next. A run without an owner (a single-user
 * server) has no cap but the concurrency.
 *
 * Each owner's runs wait in a FIFO of their own, so choosing the next run looks at one head per
 * owner, never at every waiting run (a sweep may queue 10,000).
 */
export class RunQueue {
  constructor(
    private readonly concurrency: number,
    private readonly execute: (runId: string) => Promise<void>,
    options: { perOwner?: number } = {}
  ) {
    for (const [what, value] of [
      ['concurrent runs', concurrency],
      ['concurrent runs per user', options.perOwner ?? 1]
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(
          `The number of ${what} must be at least 1, not ${value}.`
        );
      }
    }
    this._perOwner = options.perOwner ?? Infinity;
  }

  /** Ids waiting, oldest first. */
  get waiting(): readonly string[] {
    return [...this._waiting.entries()]
      .sort((a, b) => a[1].seq - b[1].seq)
      .map(([id]) => id);
  }

  /** Ids executing now. */
  get running(): ReadonlySet<string> {
    return this._running;
  }

  /** Queues a run; `owner`: the user whose cap it counts against (a shared server). */
  enqueue(runId: string, owner?: string): void {
    if (this._waiting.has(runId) || this._running.has(runId)) {
      return;
    }
    const key = owner ?? NO_OWNER;
    this._waiting.set(runId, { key, seq: this._seq++ });
    let fifo = this._fifos.get(key);
    if (!fifo) {
      fifo = [];
      this._fifos.set(key, fifo);
    }
    fifo.push(runId);
    this._pump();
  }

  /** Takes a run out of the queue before it starts; false when it is not waiting. */
  remove(runId: string): boolean {
    const entry = this._waiting.get(runId);
    if (!entry) {
      return false;
    }
    this._waiting.delete(runId);
    const fifo = this._fifos.get(entry.key)!;
    // Cancels come newest first (a sweep's), so the search from the end is short.
    fifo.splice(fifo.lastIndexOf(runId), 1);
    if (fifo.length === 0) {
      this._fifos.delete(entry.key);
    }
    return true;
  }

  /** Resolves when nothing runs and nothing waits (tests and graceful shutdown). */
  async idle(): Promise<void> {
    while (this._running.size > 0 || this._waiting.size > 0) {
      await Promise.race(this._promises.values());
    }
  }

  /** Stops starting new runs; those running go on. */
  pause(): void {
    this._paused = true;
  }

  /** The oldest waiting run of an owner under their cap, taken out of the queue. */
  private _next(): { runId: string; key: string } | undefined {
    let best: { key: string; seq: number } | undefined;
    for (const [key, fifo] of this._fifos) {
      if (
        key !== NO_OWNER &&
        (this._runningOf.get(key) ?? 0) >= this._perOwner
      ) {
        continue;
      }
      const seq = this._waiting.get(fifo[0])!.seq;
      if (!best || seq < best.seq) {
        best = { key, seq };
      }
    }
    if (!best) {
      return undefined;
    }
    const fifo = this._fifos.get(best.key)!;
    const runId = fifo.shift()!;
    if (fifo.length === 0) {
      this._fifos.delete(best.key);
    }
    this._waiting.delete(runId);
    return { runId, key: best.key };
  }

  private _pump(): void {
    while (!this._paused && this._running.size < this.concurrency) {
      const next = this._next();
      if (!next) {
        return;
      }
      const { runId, key } = next;
      this._running.add(runId);
      this._runningOf.set(key, (this._runningOf.get(key) ?? 0) + 1);
      const promise = this.execute(runId)
        .catch(error =>
          console.error(`reproserver: run ${runId} failed unexpectedly`, error)
        )
        .finally(() => {
          this._running.delete(runId);
          this._promises.delete(runId);
          const left = this._runningOf.get(key)! - 1;
          if (left === 0) {
            this._runningOf.delete(key);
          } else {
            this._runningOf.set(key, left);
          }
          this._pump();
        });
      this._promises.set(runId, promise);
    }
  }

  private readonly _perOwner: number;
  /** Waiting run → its owner's key and its place in the submission order. */
  private readonly _waiting = new Map<string, { key: string; seq: number }>();
  /** Each owner's waiting runs, oldest first; an owner with none has no entry. */
  private readonly _fifos = new Map<string, string[]>();
  private readonly _running = new Set<string>();
  /** Runs executing per owner key. */
  private readonly _runningOf = new Map<string, number>();
  private readonly _promises = new Map<string, Promise<void>>();
  private _seq = 0;
  private _paused = false;
}

/** The key of runs without an owner: not a user name (those never start with a NUL). */
const NO_OWNER = '\0';
