/**
 * The disk limit of a Docker run. This engine's storage driver (overlay2 on ext4) cannot cap a
 * container's writable layer (`StorageOpt size` needs xfs with project quotas), so the layer's
 * size (`SizeRw`, which the engine measures by walking it) is asked for at an interval, and the
 * run is stopped once it is past the limit. The interval grows with the time a measure takes, so
 * that a layer of many files never keeps the engine busy. Together with the file-size limit
 * (RLIMIT_FSIZE, the same number), a run writes at most about the limit plus what it writes
 * between two measures.
 */
import type Docker from 'dockerode';

export const DISK_POLL_MS = 2000;

export class DiskWatch {
  constructor(
    private readonly container: Docker.Container,
    private readonly limitBytes: number,
    private readonly onExceeded: (usedBytes: number) => void
  ) {
    this._schedule(DISK_POLL_MS);
  }

  stop(): void {
    this._stopped = true;
    clearTimeout(this._timer);
  }

  private _schedule(ms: number): void {
    if (!this._stopped) {
      this._timer = setTimeout(() => void this._measure(), ms);
    }
  }

  private async _measure(): Promise<void> {
    const started = Date.now();
    let used: number | undefined;
    try {
      // The engine's `size` query (typed options lack it): SizeRw is the writable layer's size.
      const info = (await this.container.inspect({
        size: true
      } as Docker.ContainerInspectOptions)) as { SizeRw?: number };
      used = typeof info.SizeRw === 'number' ? info.SizeRw : undefined;
    } catch {
      // The container is going away; the runner sees it too.
    }
    if (this._stopped) {
      return;
    }
    if (used !== undefined && used > this.limitBytes) {
      this._stopped = true;
      this.onExceeded(used);
      return;
    }
    this._schedule(Math.max(DISK_POLL_MS, 10 * (Date.now() - started)));
  }

  private _timer: NodeJS.Timeout | undefined;
  private _stopped = false;
}
