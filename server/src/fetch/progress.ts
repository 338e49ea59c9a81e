/**
 * Download progress for people: bytes so far, the rate over the last few seconds (a stall shows
 * as a falling rate, not hidden in an average since the start), and the time left at that rate.
 */
export interface DownloadProgress {
  bytes: number;
  /** Bytes in all, when the server said. */
  total: number | null;
  /** Bytes per second over the last seconds; null until measured. */
  rate: number | null;
  /** Seconds left at that rate; null when the total or the rate is unknown. */
  etaSeconds: number | null;
}

const WINDOW_MS = 5000;
/** Reports at most this often (and always the last). */
export const PROGRESS_INTERVAL_MS = 250;

export class ProgressMeter {
  constructor(private readonly now: () => number = Date.now) {}

  /** Records the byte count; returns the progress when a report is due. */
  update(
    bytes: number,
    total: number | null,
    force = false
  ): DownloadProgress | undefined {
    const t = this.now();
    this._samples.push([t, bytes]);
    while (this._samples.length > 2 && t - this._samples[0][0] > WINDOW_MS) {
      this._samples.shift();
    }
    if (!force && t - this._reported < PROGRESS_INTERVAL_MS) {
      return undefined;
    }
    this._reported = t;
    return this.current(bytes, total);
  }

  /** Starts again from `bytes` (after a resumed or restarted transfer). */
  reset(bytes: number): void {
    this._samples = [[this.now(), bytes]];
  }

  private current(bytes: number, total: number | null): DownloadProgress {
    const [t0, b0] = this._samples[0];
    const elapsed = (this.now() - t0) / 1000;
    const rate = elapsed >= 0.2 ? Math.max(0, (bytes - b0) / elapsed) : null;
    const etaSeconds =
      total !== null && rate !== null && rate > 0
        ? Math.max(0, Math.round((total - bytes) / rate))
        : null;
    return {
      bytes,
      total,
      rate: rate === null ? null : Math.round(rate),
      etaSeconds
    };
  }

  private _samples: [number, number][] = [];
  private _reported = 0;
}
