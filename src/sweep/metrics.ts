/**
 * A package's metrics as the Sweep tab edits them: the list the server remembers
 * (`GET /api/packages/{sha256}/metrics`), a pending copy the user adds to and removes from, and
 * Save, which replaces the remembered list (`PUT`). The server checks every metric (a bad
 * regular expression, a name used twice…) and refuses with `bad-metric` and a sentence: that
 * sentence is what the tab shows, so the panel does not keep a second copy of those rules.
 */
import { Signal, type ISignal } from '@lumino/signaling';
import {
  METRIC_BOUNDS,
  type MetricList,
  type MetricSpec
} from 'reproserver/contract';

/** What the metrics ask of the client. */
export interface IMetricsClient {
  packageMetrics(sha256: string): Promise<MetricList>;
  setPackageMetrics(sha256: string, list: MetricList): Promise<MetricList>;
}

export class MetricsSession {
  constructor(
    private readonly _client: IMetricsClient,
    readonly packageSha256: string
  ) {}

  /** The list, loaded, added to, removed from, saved. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The metrics as edited (the remembered ones until something is added or removed). */
  get metrics(): readonly MetricSpec[] {
    return this._pending;
  }

  /** Whether the list differs from the one the server remembers. */
  get dirty(): boolean {
    return JSON.stringify(this._pending) !== JSON.stringify(this._saved);
  }

  get loaded(): boolean {
    return this._loaded;
  }

  /** Whether a load or a save is under way. */
  get busy(): boolean {
    return this._busy;
  }

  /** The last failure, as a sentence (the server's own for a refusal); null after a success. */
  get problem(): string | null {
    return this._problem;
  }

  async load(): Promise<void> {
    this._busy = true;
    this._emit();
    try {
      const list = await this._client.packageMetrics(this.packageSha256);
      this._saved = list.metrics;
      this._pending = [...list.metrics];
      this._loaded = true;
      this._problem = null;
    } catch (error) {
      this._problem = errorText(error);
    } finally {
      this._busy = false;
      this._emit();
    }
  }

  /**
   * Adds a metric to the pending list; a metric of the same name is replaced (its new source).
   * False, with nothing changed, past `METRIC_BOUNDS.metrics`.
   */
  add(spec: MetricSpec): boolean {
    const others = this._pending.filter(m => m.name !== spec.name);
    if (others.length >= METRIC_BOUNDS.metrics) {
      return false;
    }
    const at = this._pending.findIndex(m => m.name === spec.name);
    this._pending =
      at < 0
        ? [...this._pending, spec]
        : this._pending.map((m, i) => (i === at ? spec : m));
    this._emit();
    return true;
  }

  remove(name: string): void {
    this._pending = this._pending.filter(m => m.name !== name);
    this._emit();
  }

  /** Puts the pending list back as remembered. */
  revert(): void {
    this._pending = [...this._saved];
    this._problem = null;
    this._emit();
  }

  /** Saves the pending list; true once the server remembers it. */
  async save(): Promise<boolean> {
    if (this._busy) {
      return false;
    }
    this._busy = true;
    this._emit();
    try {
      const list = await this._client.setPackageMetrics(this.packageSha256, {
        metrics: [...this._pending]
      });
      this._saved = list.metrics;
      this._pending = [...list.metrics];
      this._problem = null;
      return true;
    } catch (error) {
      this._problem = errorText(error);
      return false;
    } finally {
      this._busy = false;
      this._emit();
    }
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _saved: readonly MetricSpec[] = [];
  private _pending: MetricSpec[] = [];
  private _loaded = false;
  private _busy = false;
  private _problem: string | null = null;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
