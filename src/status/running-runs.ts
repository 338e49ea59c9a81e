import { Signal, type ISignal } from '@lumino/signaling';
import type { PackageSession } from '../model/package';

/** What the count needs of an open package: its session, and when it closes. */
export interface IRunHost {
  readonly content: { readonly session: PackageSession };
  readonly disposed: ISignal<unknown, void>;
}

/** What the count needs of the tracker of open packages (`IReproServerTracker`). */
export interface IRunHosts<T extends IRunHost> {
  forEach(fn: (host: T) => void): void;
  readonly widgetAdded: ISignal<unknown, T>;
}

/**
 * The runs going on across the open ReproServer panels: how many, and in which panels. Follows
 * each panel's session as it changes (a run starts, ends, another run is shown) and forgets the
 * panels that close.
 */
export class RunningRuns<T extends IRunHost> {
  constructor(private readonly _hosts: IRunHosts<T>) {
    _hosts.widgetAdded.connect(this._onAdded, this);
    _hosts.forEach(host => this._watch(host));
    this._count = this._countNow();
  }

  /** How many open panels have a run that has not ended. */
  get count(): number {
    return this._count;
  }

  /** The count changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The open panels whose run has not ended, in the order they were opened. */
  get hosts(): T[] {
    return [...this._watched.keys()].filter(isRunning);
  }

  /** The panel to show after `current`: the next running one, round the list. */
  next(current: T | null): T | null {
    const running = this.hosts;
    if (running.length === 0) {
      return null;
    }
    const at = current ? running.indexOf(current) : -1;
    return running[(at + 1) % running.length];
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._hosts.widgetAdded.disconnect(this._onAdded, this);
    for (const [host, stop] of this._watched) {
      stop();
      this._watched.delete(host);
    }
    Signal.clearData(this);
  }

  private _onAdded(_: unknown, host: T): void {
    this._watch(host);
    this._update();
  }

  private _watch(host: T): void {
    if (this._watched.has(host)) {
      return;
    }
    const session = host.content.session;
    // The session says `changed` when its run starts, changes status or ends.
    const onChanged = (): void => this._update();
    const onClosed = (): void => {
      this._watched.get(host)?.();
      this._watched.delete(host);
      this._update();
    };
    session.changed.connect(onChanged);
    host.disposed.connect(onClosed);
    this._watched.set(host, () => {
      session.changed.disconnect(onChanged);
      host.disposed.disconnect(onClosed);
    });
  }

  private _update(): void {
    const count = this._countNow();
    if (count !== this._count) {
      this._count = count;
      this._changed.emit();
    }
  }

  private _countNow(): number {
    return this.hosts.length;
  }

  private _count = 0;
  private _disposed = false;
  /** Each watched panel, with what stops watching it. */
  private readonly _watched = new Map<T, () => void>();
  private readonly _changed = new Signal<this, void>(this);
}

function isRunning(host: IRunHost): boolean {
  const run = host.content.session.run;
  return run !== null && !run.finished;
}
