/**
 * Runs at most N runs at once, in the order they were submitted. The queue holds ids only: the
 * records are the truth, so a restarted server rebuilds its queue from the runs still `queued`.
 */
export class RunQueue {
  constructor(
    private readonly concurrency: number,
    private readonly execute: (runId: string) => Promise<void>
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(
        `The number of concurrent runs must be at least 1, not ${concurrency}.`
      );
    }
  }

  /** Ids waiting, oldest first. */
  get waiting(): readonly string[] {
    return this._waiting;
  }

  /** Ids executing now. */
  get running(): ReadonlySet<string> {
    return this._running;
  }

  enqueue(runId: string): void {
    if (this._waiting.includes(runId) || this._running.has(runId)) {
      return;
    }
    this._waiting.push(runId);
    this._pump();
  }

  /** Takes a run out of the queue before it starts; false when it is not waiting. */
  remove(runId: string): boolean {
    const at = this._waiting.indexOf(runId);
    if (at === -1) {
      return false;
    }
    this._waiting.splice(at, 1);
    return true;
  }

  /** Resolves when nothing runs and nothing waits (tests and graceful shutdown). */
  async idle(): Promise<void> {
    while (this._running.size > 0 || this._waiting.length > 0) {
      await Promise.race(this._promises.values());
    }
  }

  /** Stops starting new runs; those running go on. */
  pause(): void {
    this._paused = true;
  }

  private _pump(): void {
    while (
      !this._paused &&
      this._running.size < this.concurrency &&
      this._waiting.length > 0
    ) {
      const runId = this._waiting.shift()!;
      this._running.add(runId);
      const promise = this.execute(runId)
        .catch(error =>
          console.error(`reproserver: run ${runId} failed unexpectedly`, error)
        )
        .finally(() => {
          this._running.delete(runId);
          this._promises.delete(runId);
          this._pump();
        });
      this._promises.set(runId, promise);
    }
  }

  private readonly _waiting: string[] = [];
  private readonly _running = new Set<string>();
  private readonly _promises = new Map<string, Promise<void>>();
  private _paused = false;
}
