import { Signal, type ISignal } from '@lumino/signaling';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type {
  BackendsResponse,
  PackageDetails,
  RunEdits,
  RunRecord,
  SaveOutputsResponse,
  SweepAxis,
  SweepRecord
} from 'reproserver/contract';
import { ReproServerError, type ReproServerClient } from '../api/client';
import { CompareSession } from '../compare/session';
import { RunEventStream, type StreamState } from '../api/events';
import { EditsModel, commandForEdits, type EditableLimits } from './edits';
import type { BackendChoice } from '../tokens';
import {
  ConsentMemory,
  nextRunBackend,
  weakExposures,
  type ConsentPrompt
} from './consent';
import { RunSession, isFinal } from './run';
import { versionMismatch } from './version';
import { SweepSession } from '../sweep/session';
import type { SweepCombine } from '../sweep/values';
import {
  uploadPath,
  uploadToWorkspace,
  type IWorkspaceContents
} from './workspace-upload';

/** What the panel can show as a whole. */
export type PanelPhase =
  /** Asking the server. */
  | 'loading'
  /** The companion server does not answer. */
  | 'unreachable'
  /** The package cannot be read (the reader's sentence is the message). */
  | 'error'
  | 'ready';

/** Options from the user's settings. */
export interface IPanelOptions {
  /** A memory limit of 0 stands for the server's default (`defaultLimits` of its backends). */
  limits: EditableLimits;
  /** The backend runs ask for. */
  backend: BackendChoice;
  /** Workspace folder pattern for outputs; empty = the server's default. */
  outputFolder: string;
  autoSave: boolean;
}

/** The run file a panel was opened from: runs name it, and keep what it locks. */
export interface IRunFileBinding {
  /** Its workspace path, sent with each run request. */
  path: string;
  /** Whether it says which fields are open (course mode). */
  locked: boolean;
  /** The edits a run request sends for the panel's edits. */
  request(edits: RunEdits): RunEdits;
}

/** A short message for the user. */
export interface INotice {
  kind: 'error' | 'info';
  text: string;
}

/**
 * Everything the panel of one package shows: the server's state, the package, the user's edits,
 * the run on display and the earlier runs. Only this class (through the client) does I/O;
 * widgets render it and call its methods.
 */
export class PackageSession {
  constructor(
    private readonly _client: ReproServerClient,
    path: string,
    options: IPanelOptions,
    private readonly _timing: { minDelayMs?: number } = {}
  ) {
    this._path = path;
    this._options = options;
  }

  get path(): string {
    return this._path;
  }

  get phase(): PanelPhase {
    return this._phase;
  }

  /** The sentence explaining `unreachable` or `error`. */
  get message(): string {
    return this._message;
  }

  get backends(): BackendsResponse | null {
    return this._backends;
  }

  /** The sentence saying that the companion server's version is not the extension's, or null. */
  get versionWarning(): string | null {
    return this._versionWarning;
  }

  /** Why no run can start here, or null. */
  get cannotRun(): string | null {
    const b = this._backends;
    if (b && b.default === null) {
      const reasons = b.backends
        .map(x => this._trans.__('%1: %2', x.name, x.detail))
        .join(' ');
      return this._trans
        .__('No backend can run experiments here. %1', reasons)
        .trim();
    }
    return null;
  }

  get details(): PackageDetails | null {
    return this._details;
  }

  get edits(): EditsModel | null {
    return this._edits;
  }

  /** The run on display. */
  get run(): RunSession | null {
    return this._run;
  }

  get streamState(): StreamState {
    return this._stream?.state ?? 'closed';
  }

  get history(): readonly RunRecord[] {
    return this._history;
  }

  get notice(): INotice | null {
    return this._notice;
  }

  get busy(): boolean {
    return this._busy;
  }

  get options(): IPanelOptions {
    return this._options;
  }

  /** The package's sweeps; null until the package is read. */
  get sweeps(): SweepSession | null {
    const sha256 = this._details?.sha256;
    if (!sha256) {
      return null;
    }
    if (this._sweeps?.packageSha256 !== sha256) {
      this._sweeps?.dispose();
      this._sweeps = new SweepSession(this._client, sha256);
    }
    return this._sweeps;
  }

  /**
   * Starts a sweep of the package: the current edits as its base, these axes, on the backend of
   * the settings, after the same consent a run asks for. The sweep session shows it, or says why
   * it did not start.
   */
  async startSweep(
    axes: SweepAxis[],
    combine: SweepCombine
  ): Promise<SweepRecord | null> {
    const sweeps = this.sweeps;
    if (!this._details || !this._edits || !sweeps) {
      return null;
    }
    let edits;
    try {
      edits = this._edits.toRunEdits();
    } catch (error) {
      this._setNotice('error', errorText(error));
      return null;
    }
    const accepted = await this._weakIsolationAccepted();
    if (accepted === null) {
      return null;
    }
    const record = await sweeps.create({
      package: this._details.sha256,
      edits,
      axes,
      combine,
      backend: this._options.backend,
      ...(accepted ? { acceptWeakIsolation: true } : {})
    });
    if (record) {
      void this.refreshHistory();
    }
    return record;
  }

  /** The package's comparisons and determinism checks; null until the package is read. */
  get compare(): CompareSession | null {
    const sha256 = this._details?.sha256;
    if (!sha256) {
      return null;
    }
    if (this._compare?.packageSha256 !== sha256) {
      this._compare?.dispose();
      this._compare = new CompareSession(this._client, sha256);
    }
    return this._compare;
  }

  /**
   * Runs the determinism check (the package twice, unmodified) on the backend runs go to, after
   * the same consent to weak isolation a run asks for.
   */
  async checkDeterminism(): Promise<void> {
    const compare = this.compare;
    if (!compare) {
      return;
    }
    const accepted = await this._weakIsolationAccepted();
    if (accepted === null) {
      return;
    }
    await compare.startCheck({
      backend: this._options.backend,
      ...(accepted ? { acceptWeakIsolation: true } : {})
    });
    void this.refreshHistory();
  }

  /** Shows a run by its id (a sweep's variant): its log and outputs, as History's Open does. */
  async openRunById(id: string): Promise<boolean> {
    try {
      this.openRun(await this._client.getRun(id));
      return true;
    } catch (error) {
      this._setNotice('error', errorText(error));
      return false;
    }
  }

  /** Where a run's outputs were saved, when they were. */
  saved(runId: string): SaveOutputsResponse | undefined {
    return this._saved.get(runId);
  }

  /** Anything but the log changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A different run is on display. */
  get runChanged(): ISignal<this, RunSession | null> {
    return this._runChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  setPath(path: string): void {
    this._path = path;
    this._changed.emit();
  }

  setOptions(options: IPanelOptions): void {
    this._options = options;
    this._changed.emit();
  }

  /** Asks the server about itself and the package. */
  async load(): Promise<void> {
    this._phase = 'loading';
    this._changed.emit();
    try {
      this._backends = await this._client.backends();
      void this._checkVersion();
    } catch (error) {
      this._fail(error);
      return;
    }
    try {
      const summary = await this._client.registerPackage(this._path);
      const details = await this._client.getPackage(summary.sha256);
      this._details = details;
      this._edits = new EditsModel(
        details.model,
        details.parameters,
        this._defaultLimits(),
        this._trans
      );
      this._phase = 'ready';
      this._message = '';
    } catch (error) {
      this._fail(error);
      return;
    }
    this._changed.emit();
    await this.refreshHistory();
  }

  async refreshHistory(): Promise<void> {
    if (!this._details) {
      return;
    }
    try {
      const list = await this._client.listRuns(this._details.sha256);
      this._history = [...list.runs].sort((a, b) =>
        b.createdAt.localeCompare(a.createdAt)
      );
      this._changed.emit();
    } catch (error) {
      this._setNotice('error', errorText(error));
    }
  }

  /**
   * How the user is asked before a run on a backend that isolates less than files + network, and
   * where their answers are kept. Without a prompt, such runs do not start.
   */
  /** The translation of the sentences the session says (notices, why no run can start). */
  setTranslator(trans: TranslationBundle): void {
    this._trans = trans;
    this._edits?.setTranslator(trans);
  }

  setConsent(prompt: ConsentPrompt, memory: ConsentMemory): void {
    this._consentPrompt = prompt;
    this._consentMemory = memory;
  }

  /** The run file the panel was opened from (`runfile/`), or null. */
  get runFile(): IRunFileBinding | null {
    return this._runFile;
  }

  /** Runs from now on name this run file and keep the fields it locks. */
  setRunFile(runFile: IRunFileBinding | null): void {
    this._runFile = runFile;
    this._changed.emit();
  }

  /** Starts a run with the current edits. */
  async start(): Promise<RunSession | null> {
    if (!this._details || !this._edits || this._busy) {
      return null;
    }
    if (this._run && !this._run.finished) {
      this._setNotice(
        'info',
        this._trans.__('A run of this package is still going on.')
      );
      return null;
    }
    let edits;
    try {
      edits = this._edits.toRunEdits();
    } catch (error) {
      this._setNotice('error', errorText(error));
      return null;
    }
    this._busy = true;
    this._notice = null;
    this._changed.emit();
    try {
      const accepted = await this._weakIsolationAccepted();
      if (accepted === null) {
        return null;
      }
      const runFile = this._runFile;
      const record = await this._client.createRun({
        package: this._details.sha256,
        // From a run file: its locked fields exactly as it sets them (`runfile/fields.ts`).
        edits: runFile ? runFile.request(edits) : edits,
        backend: this._options.backend,
        ...(accepted ? { acceptWeakIsolation: true } : {}),
        ...(runFile ? { runFile: runFile.path } : {})
      });
      this._fresh.add(record.id);
      this._show(record, true);
      void this.refreshHistory();
      return this._run;
    } catch (error) {
      if (
        error instanceof ReproServerError &&
        error.code === 'weak-isolation-consent'
      ) {
        // What the server isolates changed since it was asked: ask it again, and the user.
        void this._reloadBackends();
      }
      this._setNotice('error', errorText(error));
      return null;
    } finally {
      this._busy = false;
      this._changed.emit();
    }
  }

  /**
   * Whether the next run needs (and has) the user's consent to weak isolation: false when it does
   * not need it, true when the user accepted (now or before, for this package), null when the
   * run must not start (declined, or the server refuses such runs; the notice says so).
   */
  private async _weakIsolationAccepted(): Promise<boolean | null> {
    const backend = nextRunBackend(this._backends, this._options.backend);
    const exposures = weakExposures(backend);
    if (!backend || !exposures || !this._details) {
      return false;
    }
    if (this._backends?.weakIsolation === 'refuse') {
      this._setNotice(
        'error',
        this._trans.__(
          'This server refuses runs on the %1 backend here: it does not isolate experiments from your files and the network. Ask its administrator for Docker, or for a sandbox with Landlock or user namespaces.',
          backend.name
        )
      );
      return null;
    }
    const sha256 = this._details.sha256;
    if (this._consentMemory.covers(sha256, exposures)) {
      return true;
    }
    const accepted = this._consentPrompt
      ? await this._consentPrompt({
          packageName: this._details.name,
          backend: backend.name,
          exposures
        })
      : false;
    if (!accepted) {
      this._setNotice(
        'info',
        this._trans.__(
          'Not started: this backend does not isolate the experiment from your account.'
        )
      );
      return null;
    }
    this._consentMemory.remember(sha256, exposures);
    return true;
  }

  private async _reloadBackends(): Promise<void> {
    try {
      this._backends = await this._client.backends();
      this._changed.emit();
    } catch {
      // The next load or run says what is wrong with the server.
    }
  }

  async cancel(): Promise<void> {
    const run = this._run;
    if (!run || run.finished) {
      return;
    }
    try {
      const record = await this._client.cancelRun(run.id);
      if (isFinal(record.status)) {
        run.setRecord(record);
      }
    } catch (error) {
      this._setNotice('error', errorText(error));
    }
  }

  /** Shows an earlier run: its log (replayed from the start) and outputs. */
  openRun(record: RunRecord): void {
    this._show(record, false);
  }

  /** Sets the edits of an earlier run and runs again. */
  async rerun(record: RunRecord): Promise<RunSession | null> {
    this._edits?.applyRunEdits(record.edits);
    return this.start();
  }

  /** The `reproserver run …` line for a run's edits (the current edits without a record). */
  commandFor(record?: RunRecord): string {
    const edits = record ? record.edits : (this._edits?.toRunEdits() ?? {});
    const runId = record?.id ?? 'RUN';
    const out =
      (record && this._saved.get(record.id)?.folder) ??
      this.outputFolder(runId) ??
      `${stem(this._path)}.runs/${runId}`;
    return commandForEdits(this._path, edits, out);
  }

  /** The folder the outputs of a run go to per the settings; null = the server's default. */
  outputFolder(runId: string): string | null {
    const pattern = this._options.outputFolder.trim();
    if (!pattern) {
      return null;
    }
    const slash = this._path.lastIndexOf('/');
    const dir = slash === -1 ? '' : this._path.slice(0, slash + 1);
    return pattern
      .replace(/\{dir\}/g, dir)
      .replace(/\{package\}/g, stem(this._path))
      .replace(/\{run\}/g, runId)
      .replace(/^\/+/, '');
  }

  /** Saves a finished run's outputs into the workspace. */
  async save(runId: string): Promise<SaveOutputsResponse | null> {
    try {
      const result = await this._client.saveOutputs(
        runId,
        this.outputFolder(runId) ?? undefined
      );
      this._saved.set(runId, result);
      this._changed.emit();
      return result;
    } catch (error) {
      this._setNotice('error', errorText(error));
      return null;
    }
  }

  /** Replaces an input with a file of the workspace (a path relative to its root). */
  replaceInputWithWorkspaceFile(name: string, path: string): void {
    const clean = path.replace(/^\/+/, '');
    this._edits?.replaceInput(name, {
      source: { kind: 'workspace', path: clean },
      label: clean
    });
  }

  /** Where uploads from the user's computer are written: JupyterLab's contents manager. */
  setWorkspaceContents(contents: IWorkspaceContents): void {
    this._contents = contents;
  }

  /**
   * Writes a file of the user's computer into the workspace (beside the package, in
   * `reproserver-uploads/`) in chunks through JupyterLab's contents API, then makes that
   * workspace file the replacement of an input. Nothing goes to the companion server whole.
   */
  async replaceInputWithUpload(name: string, file: File): Promise<void> {
    const contents = this._contents;
    if (!contents) {
      this._setNotice(
        'error',
        this._trans.__("Uploads need JupyterLab's contents service.")
      );
      return;
    }
    const path = uploadPath(this._path, file.name);
    this._uploading.set(name, 0);
    this._changed.emit();
    try {
      await uploadToWorkspace(contents, file, path, fraction => {
        // Redraw at whole percents only: a large file has hundreds of chunks.
        const before = Math.floor((this._uploading.get(name) ?? 0) * 100);
        this._uploading.set(name, fraction);
        if (Math.floor(fraction * 100) !== before) {
          this._changed.emit();
        }
      });
      this.replaceInputWithWorkspaceFile(name, path);
    } catch (error) {
      this._setNotice(
        'error',
        this._trans.__(
          'The upload of %1 failed: %2',
          file.name,
          errorText(error)
        )
      );
    } finally {
      this._uploading.delete(name);
      this._changed.emit();
    }
  }

  /** Whether an upload for this input is under way. */
  isUploading(name: string): boolean {
    return this._uploading.has(name);
  }

  /** The fraction (0 to 1) of an input's upload sent so far; null when none is under way. */
  uploadProgress(name: string): number | null {
    return this._uploading.get(name) ?? null;
  }

  dismissNotice(): void {
    this._notice = null;
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._stopRun();
    this._sweeps?.dispose();
    this._compare?.dispose();
    Signal.clearData(this);
  }

  private _show(record: RunRecord, fresh: boolean): void {
    this._stopRun();
    const run = new RunSession(record);
    this._run = run;
    const stream = new RunEventStream(this._client, record.id, 0, {
      minDelayMs: this._timing.minDelayMs
    });
    this._stream = stream;
    stream.received.connect((_, message) => run.apply(message));
    stream.stateChanged.connect(() => this._changed.emit());
    run.changed.connect(this._onRunChanged, this);
    this._runChanged.emit(run);
    this._changed.emit();
    // The run's log carries the image build's progress too: nothing else to ask for.
    stream.start();
    if (!fresh && isFinal(record.status)) {
      run.setRecord(record);
    }
  }

  private _onRunChanged(run: RunSession): void {
    if (run.finished && !this._finishing.has(run.id)) {
      this._finishing.add(run.id);
      void this._onFinished(run);
    }
    this._changed.emit();
  }

  private async _onFinished(run: RunSession): Promise<void> {
    try {
      const record = await this._client.getRun(run.id);
      run.setRecord(record);
      const hasOutputs = record.outputs.length > 0;
      // Outputs of runs started here are saved by the setting; earlier runs on demand.
      if (
        this._fresh.has(run.id) &&
        this._options.autoSave &&
        hasOutputs &&
        !this._saved.has(run.id) &&
        (record.status === 'succeeded' || run.outputs.length > 0)
      ) {
        await this.save(run.id);
      }
    } catch (error) {
      this._setNotice('error', errorText(error));
    }
    await this.refreshHistory();
  }

  private _stopRun(): void {
    this._stream?.stop();
    this._stream = null;
    if (this._run) {
      this._run.changed.disconnect(this._onRunChanged, this);
    }
  }

  /** Asks the server its version once, when it first answers; says so if it is not ours. */
  private async _checkVersion(): Promise<void> {
    if (this._versionChecked) {
      return;
    }
    this._versionChecked = true;
    try {
      const { version } = await this._client.version();
      this._versionWarning = versionMismatch(version, this._trans);
    } catch {
      // Asked again at the next load; meanwhile other requests say what is wrong, if anything.
      this._versionChecked = false;
      return;
    }
    if (this._versionWarning) {
      this._changed.emit();
    }
  }

  private _fail(error: unknown): void {
    if (error instanceof ReproServerError && error.code === 'unreachable') {
      this._phase = 'unreachable';
    } else {
      this._phase = 'error';
    }
    this._message = errorText(error);
    this._changed.emit();
  }

  private _setNotice(kind: INotice['kind'], text: string): void {
    this._notice = { kind, text };
    this._changed.emit();
  }

  private _path: string;
  private _options: IPanelOptions;
  private _phase: PanelPhase = 'loading';
  private _message = '';
  private _versionChecked = false;
  private _versionWarning: string | null = null;
  private _trans: TranslationBundle = nullTranslator.load(
    'jupyterlab_reproserver'
  );
  /**
   * The limits a new run starts with: the user's settings, except a memory limit left at 0, which
   * is the server's default for this machine (it leaves room for JupyterLab where memory is
   * short, as on Binder); 2048 MiB from a server too old to say.
   */
  private _defaultLimits(): EditableLimits {
    const { memoryMiB, timeoutSeconds } = this._options.limits;
    return {
      memoryMiB:
        memoryMiB > 0
          ? memoryMiB
          : (this._backends?.defaultLimits?.memoryMiB ?? 2048),
      timeoutSeconds
    };
  }

  private _backends: BackendsResponse | null = null;
  private _runFile: IRunFileBinding | null = null;
  private _consentPrompt: ConsentPrompt | null = null;
  private _consentMemory = new ConsentMemory();
  private _details: PackageDetails | null = null;
  private _edits: EditsModel | null = null;
  private _run: RunSession | null = null;
  private _stream: RunEventStream | null = null;
  private _history: RunRecord[] = [];
  private _compare: CompareSession | null = null;
  private _sweeps: SweepSession | null = null;
  private _saved = new Map<string, SaveOutputsResponse>();
  private _finishing = new Set<string>();
  private _uploading = new Map<string, number>();
  private _contents: IWorkspaceContents | null = null;
  private _fresh = new Set<string>();
  private _notice: INotice | null = null;
  private _busy = false;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _runChanged = new Signal<this, RunSession | null>(this);
}

/** The file name without its directory and `.rpz`. */
export function stem(path: string): string {
  const name = path.split('/').pop() ?? path;
  return name.replace(/\.rpz$/i, '');
}

/** A sentence for any error. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
