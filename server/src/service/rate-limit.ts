/** At most `limit` events per key in any sliding window of `windowMs`. In memory: per process. */
export class RateLimiter {
  constructor(
    readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now
  ) {}

  /** Records one event for the key; false (and nothing recorded) when over the limit. */
  take(key: string): boolean {
    const now = this.now();
    const recent = (this._times.get(key) ?? []).filter(
      t => now - t < this.windowMs
    );
    if (recent.length >= this.limit) {
      this._times.set(key, recent);
      return false;
    }
    recent.push(now);
    this._times.set(key, recent);
    return true;
  }

  /** Milliseconds until the key may take one more event (0: it may now). */
  retryAfterMs(key: string): number {
    const now = this.now();
    const recent = (this._times.get(key) ?? []).filter(
      t => now - t < this.windowMs
    );
    if (recent.length < this.limit) {
      return 0;
    }
    // The oldest event in the window leaves it first.
    return recent[recent.length - this.limit] + this.windowMs - now;
  }

  private readonly _times = new Map<string, number[]>();
}
