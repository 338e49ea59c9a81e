/**
 * The sweeps of one package as the panel follows them: the list, the sweep on display and its
 * rows, kept live by asking `GET /api/sweeps/{id}` every `POLL_MS` while the sweep has runs that
 * have not ended, and never once they all have. A poll asks only for the rows changed since the
 * previous answer (`?since=<revision>`) and puts them in place (`withChangedRows`): a sweep of
 * 10,000 variants is read whole once, not every 2 s.
 *
 * Why polling and not the events socket: that socket carries one run's log and events, so
 * following a sweep that way would take one socket per variant (up to 10,000) for a table that
 * needs only each run's status, duration and metrics; the sweep record has exactly those, for
 * every row, in one bounded answer.
 */
import { Signal, type ISignal } from '@lumino/signaling';
import type {
  SweepRecord,
  SweepSpec,
  SweepSummary
} from 'reproserver/contract';
import { MetricsSession, type IMetricsClient } from './metrics';

/** What the sweep session asks of the client (the package's metrics too). */
export interface ISweepClient extends IMetricsClient {
  createSweep(request: SweepSpec): Promise<SweepRecord>;
  listSweeps(packageSha256: string): Promise<{ sweeps: SweepSummary[] }>;
  /** With `since`: only the rows changed after that revision (`incremental: true`). */
  getSweep(id: string, since?: string): Promise<SweepRecord>;
  cancelSweep(id: string): Promise<SweepRecord>;
}

/** How often a sweep with unended runs is asked for again. */
export const POLL_MS = 2000;

export class SweepSession {
  constructor(
    private readonly _client: ISweepClient,
    readonly packageSha256: string,
    private readonly _pollMs = POLL_MS
  ) {
    this.metrics = new MetricsSession(_client, packageSha256);
  }

  /** The package's metrics: the table's and the plot's metric columns. */
  readonly metrics: MetricsSession;

  /** The package's sweeps, newest first (as last listed). */
  get sweeps(): readonly SweepSummary[] {
    return this._sweeps;
  }

  /** The sweep on display, with its rows. */
  get current(): SweepRecord | null {
    return this._current;
  }

  /** The last failure, as a sentence; null after a success. */
  get problem(): string | null {
    return this._problem;
  }

  /** Whether a request that changes things (create, cancel) is under way. */
  get busy(): boolean {
    return this._busy;
  }

  /** Anything changed: the list, the sweep on display, its rows, a problem. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Lists the package's sweeps; shows the newest when none is on display. */
  async refreshList(): Promise<void> {
    try {
      const list = await this._client.listSweeps(this.packageSha256);
      this._sweeps = list.sweeps;
      this._problem = null;
      if (!this._current && list.sweeps.length > 0) {
        await this.show(list.sweeps[0].id);
        return;
      }
    } catch (error) {
      this._problem = errorText(error);
    }
    this._emit();
  }

  /** Shows a sweep and follows it while it has unended runs. */
  async show(id: string): Promise<void> {
    this._stopPolling();
    this._showing = id;
    try {
      const record = await this._client.getSweep(id);
      if (this._showing !== id || this._disposed) {
        return;
      }
      this._setCurrent(record);
    } catch (error) {
      this._problem = errorText(error);
      this._emit();
    }
  }

  /** Creates a sweep and shows it. */
  async create(spec: SweepSpec): Promise<SweepRecord | null> {
    if (this._busy) {
      return null;
    }
    this._busy = true;
    this._problem = null;
    this._emit();
    try {
      const record = await this._client.createSweep(spec);
      this._stopPolling();
      this._showing = record.id;
      this._setCurrent(record);
      void this._relist();
      return record;
    } catch (error) {
      this._problem = errorText(error);
      return null;
    } finally {
      this._busy = false;
      this._emit();
    }
  }

  /** Cancels every unended run of the sweep on display. */
  async cancel(): Promise<void> {
    const current = this._current;
    if (!current || current.ended || this._busy) {
      return;
    }
    this._busy = true;
    this._emit();
    try {
      const record = await this._client.cancelSweep(current.id);
      if (this._showing === record.id) {
        this._setCurrent(record);
      }
    } catch (error) {
      this._problem = errorText(error);
    } finally {
      this._busy = false;
      this._emit();
    }
  }

  /**
   * Asks for the sweep on display again, now and once more after `POLL_MS`: after the metrics
   * are saved, the server extracts every ended run's values again in the background, so the
   * new columns come at once and their values a moment later.
   */
  async refreshAfterMetrics(): Promise<void> {
    const id = this._current?.id;
    if (!id) {
      return;
    }
    await this.show(id);
    if (this._current?.ended && !this._disposed) {
      this._stopPolling();
      this._timer = setTimeout(() => {
        this._timer = null;
        if (this._showing === id) {
          void this.show(id);
        }
      }, this._pollMs);
    }
  }

  dismissProblem(): void {
    this._problem = null;
    this._emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._stopPolling();
    this.metrics.dispose();
    Signal.clearData(this);
  }

  private _setCurrent(record: SweepRecord): void {
    const wasEnded = this._current?.id === record.id && this._current.ended;
    this._current = record;
    this._problem = null;
    this._emit();
    if (!record.ended) {
      this._schedule(record.id);
    } else if (!wasEnded) {
      // Its counts in the list are stale now.
      void this._relist();
    }
  }

  private _schedule(id: string): void {
    this._stopPolling();
    if (this._disposed) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this._poll(id);
    }, this._pollMs);
  }

  private async _poll(id: string): Promise<void> {
    const known = this._current?.id === id ? this._current : null;
    try {
      let record = await this._client.getSweep(id, known?.revision);
      if (record.incremental) {
        if (this._current !== known || !known) {
          // Replaced meanwhile (shown again, cancelled): that answer is newer, and goes on.
          return;
        }
        record = sameMetrics(known, record)
          ? withChangedRows(known, record)
          : // New metric columns: every row's values are new, so every row is asked for.
            await this._client.getSweep(id);
      }
      if (this._showing === id && !this._disposed) {
        this._setCurrent(record);
      }
    } catch (error) {
      // Said once, and asked again: a server restart must not stop the table for good.
      if (this._showing === id && !this._disposed) {
        this._problem = errorText(error);
        this._emit();
        this._schedule(id);
      }
    }
  }

  private async _relist(): Promise<void> {
    try {
      this._sweeps = (await this._client.listSweeps(this.packageSha256)).sweeps;
      this._emit();
    } catch {
      // The list is a convenience; the sweep on display says what matters.
    }
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _sweeps: SweepSummary[] = [];
  private _current: SweepRecord | null = null;
  private _showing: string | null = null;
  private _problem: string | null = null;
  private _busy = false;
  private _disposed = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _changed = new Signal<this, void>(this);
}

/**
 * The sweep as `changed` (an incremental answer) says, with its rows put in place in `known`'s:
 * a row changed replaces the one of the same variant; a row new (a run created since, in the
 * background, in variant order) goes after the others. Everything but the rows is `changed`'s.
 */
export function withChangedRows(
  known: SweepRecord,
  changed: SweepRecord
): SweepRecord {
  const variants = [...known.variants];
  const at = new Map(variants.map((row, i) => [row.id, i]));
  for (const row of changed.variants) {
    const i = at.get(row.id);
    if (i === undefined) {
      at.set(row.id, variants.length);
      variants.push(row);
    } else {
      variants[i] = row;
    }
  }
  const merged: SweepRecord = { ...changed, variants };
  delete merged.incremental;
  return merged;
}

function sameMetrics(a: SweepRecord, b: SweepRecord): boolean {
  return JSON.stringify(a.metrics) === JSON.stringify(b.metrics);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
