import type { PackageSession } from './model/package';
import type { RunSession } from './model/run';

/**
 * Watches the runs of one panel's session and calls `onEnd` when a run ends while the panel is
 * not visible (the user started it and went to another tab), so that the plugin can say so with
 * JupyterLab's notifications. Runs that had already ended when shown (opened from the history,
 * or restored) say nothing.
 */
export class RunEndWatcher {
  constructor(
    private readonly _session: PackageSession,
    private readonly _isVisible: () => boolean,
    private readonly _onEnd: (run: RunSession) => void
  ) {
    _session.runChanged.connect(this._onRunChanged, this);
    this._onRunChanged(_session, _session.run);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._session.runChanged.disconnect(this._onRunChanged, this);
    this._run?.changed.disconnect(this._onRunUpdated, this);
    this._run = null;
  }

  private _onRunChanged(_: PackageSession, run: RunSession | null): void {
    this._run?.changed.disconnect(this._onRunUpdated, this);
    this._run = run;
    this._wasFinished = run?.finished ?? true;
    run?.changed.connect(this._onRunUpdated, this);
  }

  private _onRunUpdated(run: RunSession): void {
    const ended = run.finished && !this._wasFinished;
    this._wasFinished = run.finished;
    if (ended && !this._isVisible()) {
      this._onEnd(run);
    }
  }

  private _run: RunSession | null = null;
  private _wasFinished = true;
  private _disposed = false;
}
