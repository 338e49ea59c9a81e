/**
 * Comparisons as the panel follows them: two runs picked in History, their comparison (the
 * summary, then each changed output's detail on demand), and the package's determinism check
 * (the latest per backend, a check started from the overview, polled until it is decided).
 */
import { Signal, type ISignal } from '@lumino/signaling';
import type {
  CompareSummary,
  DeterminismCheck,
  DeterminismList,
  OutputDetail,
  StartDeterminismRequest,
  TextDiff
} from 'reproserver/contract';

/** What comparisons ask of the client. */
export interface ICompareClient {
  compareRuns(a: string, b: string): Promise<CompareSummary>;
  compareOutput(
    a: string,
    b: string,
    name: string,
    tolerance?: { absolute?: number; relative?: number }
  ): Promise<OutputDetail>;
  compareLogs(a: string, b: string): Promise<TextDiff>;
  image(
    source:
      { run: string; output: string } | { a: string; b: string; output: string }
  ): Promise<Blob>;
  startDeterminism(
    packageSha256: string,
    request: StartDeterminismRequest
  ): Promise<DeterminismCheck>;
  listDeterminism(packageSha256: string): Promise<DeterminismList>;
  getDeterminism(id: string): Promise<DeterminismCheck>;
}

/** How often a determinism check still running is asked for again. */
export const CHECK_POLL_MS = 2000;

const messageOf = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

export class CompareSession {
  constructor(
    readonly client: ICompareClient,
    readonly packageSha256: string,
    private readonly _pollMs = CHECK_POLL_MS
  ) {}

  /** Anything changed: the picks, the comparison, a detail, the determinism checks. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The runs picked for comparison, in the order picked (at most two). */
  get picked(): readonly string[] {
    return this._picked;
  }

  /** Picks or unpicks a run; a third pick drops the oldest. */
  toggle(runId: string): void {
    this._picked = this._picked.includes(runId)
      ? this._picked.filter(id => id !== runId)
      : [...this._picked, runId].slice(-2);
    this._changed.emit();
  }

  /** The comparison on display (of the runs picked when it was asked for). */
  get summary(): CompareSummary | null {
    return this._summary;
  }

  /** Each output's detail, once asked for. */
  detail(name: string): OutputDetail | undefined {
    return this._details.get(name);
  }

  get logDiff(): TextDiff | null {
    return this._log;
  }

  /** The last failure, as a sentence; null after a success. */
  get problem(): string | null {
    return this._problem;
  }

  /** Compares the two picked runs (A the one picked first). */
  async compare(): Promise<void> {
    const [a, b] = this._picked;
    if (!a || !b) {
      return;
    }
    try {
      this._summary = await this.client.compareRuns(a, b);
      this._details.clear();
      this._log = null;
      this._problem = null;
    } catch (error) {
      this._problem = messageOf(error);
    }
    this._changed.emit();
  }

  /** Asks for an output's detail (CSV with the tolerance given). */
  async loadDetail(
    name: string,
    tolerance?: { absolute?: number; relative?: number }
  ): Promise<void> {
    const summary = this._summary;
    if (!summary) {
      return;
    }
    try {
      this._details.set(
        name,
        await this.client.compareOutput(summary.a, summary.b, name, tolerance)
      );
      this._problem = null;
    } catch (error) {
      this._problem = messageOf(error);
    }
    this._changed.emit();
  }

  async loadLog(): Promise<void> {
    const summary = this._summary;
    if (!summary) {
      return;
    }
    try {
      this._log = await this.client.compareLogs(summary.a, summary.b);
    } catch (error) {
      this._problem = messageOf(error);
    }
    this._changed.emit();
  }

  /** Closes the comparison on display. */
  close(): void {
    this._summary = null;
    this._details.clear();
    this._log = null;
    this._changed.emit();
  }

  /** The latest determinism check of each backend (pair), newest first. */
  get checks(): readonly DeterminismCheck[] {
    return this._checks;
  }

  /** Whether a check is being started or is running. */
  get checking(): boolean {
    return this._starting || this._checks.some(c => c.state === 'running');
  }

  async loadChecks(): Promise<void> {
    try {
      this._checks = (
        await this.client.listDeterminism(this.packageSha256)
      ).checks;
    } catch (error) {
      this._problem = messageOf(error);
    }
    this._changed.emit();
    this._pollRunning();
  }

  /** Starts a determinism check on this backend ('auto': the server's default). */
  async startCheck(request: StartDeterminismRequest): Promise<void> {
    this._starting = true;
    this._changed.emit();
    try {
      const check = await this.client.startDeterminism(
        this.packageSha256,
        request
      );
      this._checks = [
        check,
        ...this._checks.filter(
          c => c.backends.join('+') !== check.backends.join('+')
        )
      ];
      this._problem = null;
    } catch (error) {
      this._problem = messageOf(error);
    } finally {
      this._starting = false;
    }
    this._changed.emit();
    this._pollRunning();
  }

  dispose(): void {
    this._disposed = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    Signal.clearData(this);
  }

  /** Asks again for the checks still running, until none is. */
  private _pollRunning(): void {
    if (this._timer !== null || this._disposed) {
      return;
    }
    if (!this._checks.some(c => c.state === 'running')) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void (async () => {
        const next: DeterminismCheck[] = [];
        for (const check of this._checks) {
          next.push(
            check.state === 'running'
              ? await this.client.getDeterminism(check.id).catch(() => check)
              : check
          );
        }
        if (this._disposed) {
          return;
        }
        this._checks = next;
        this._changed.emit();
        this._pollRunning();
      })();
    }, this._pollMs);
  }

  private _changed = new Signal<this, void>(this);
  private _picked: string[] = [];
  private _summary: CompareSummary | null = null;
  private _details = new Map<string, OutputDetail>();
  private _log: TextDiff | null = null;
  private _problem: string | null = null;
  private _checks: DeterminismCheck[] = [];
  private _starting = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _disposed = false;
}
