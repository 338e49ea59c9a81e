/**
 * A ReproServer panel opened on a run file (`.rpzrun`): reads the run file through the companion
 * server (`GET /api/runfiles`), opens its package, applies its edits, and in course mode makes
 * every run request name the run file and carry exactly its values for the locked fields (the
 * server refuses anything else). Locked fields are read-only in the panel: the Parameters, Inputs
 * and Sweep tabs (the panel draws them in a disabled fieldset when `session.runFile.locked`) and
 * the limits in the toolbar, unless the run file opens them.
 */
import type { RunFileRecord } from 'reproserver/contract';
import type { ReproServerClient } from '../api/client';
import { ImportFlow, progressText } from '../import/flow';
import type { PackageSession } from '../model/package';
import { errorText } from '../model/package';
import type { RpzPanel } from '../panel/panel';
import { isOpen, lockedRequest, runFileEdits } from './fields';
import { RunFileView, type IRunFileViewServices } from './view';
import { folderOf } from './write';

export class RunFileController {
  constructor(
    private readonly _panel: RpzPanel,
    private readonly _client: ReproServerClient,
    private readonly _path: string,
    private readonly _services: IRunFileViewServices
  ) {
    this.view = new RunFileView(_panel.session, _services);
    // Above the tabs, always in sight: the instructions and the fields the user may change.
    const tabs = _panel.node.querySelector('.jp-ReproServer-tabHost');
    _panel.node.insertBefore(this.view.node, tabs);
    _panel.session.changed.connect(this._onSessionChanged, this);
    _panel.disposed.connect(() => this.dispose());
  }

  readonly view: RunFileView;

  get record(): RunFileRecord | null {
    return this._record;
  }

  /** Reads the run file and opens its package (or says where to get it). */
  async open(): Promise<void> {
    const session = this._panel.session;
    let record: RunFileRecord;
    try {
      record = await this._client.readRunFile(this._path);
    } catch (error) {
      this.view.setRecord(null);
      this.view.node.replaceChildren(
        this._services.trans.__(
          'This run file cannot be opened: %1',
          errorText(error)
        )
      );
      this.view.node.classList.add('jp-ReproServer-malformed');
      return;
    }
    this._record = record;
    this.view.setRecord(record);
    const configured = runFileEdits(record);
    session.setRunFile({
      path: record.path,
      locked: record.locked,
      request: edits => lockedRequest(edits, configured, record.runFile.open)
    });
    const backend = record.runFile.backend;
    if (backend === 'docker' || backend === 'sandbox') {
      // The backend the run file asks for, over the settings' default.
      session.setOptions({ ...session.options, backend });
    }
    if (record.packagePath !== null) {
      await this._openPackage(record.packagePath);
      return;
    }
    const source = record.runFile.package.source ?? null;
    // No package to read: the panel's "Reading the package…" would wait forever (style/base.css).
    this._panel.addClass('jp-ReproServer-packageMissing');
    this.view.setPackageState({
      kind: 'missing',
      source,
      fetch: source ? () => void this._fetch(source) : null
    });
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._panel.session.changed.disconnect(this._onSessionChanged, this);
    this._flow?.cancel();
    this.view.dispose();
  }

  private async _openPackage(path: string): Promise<void> {
    this.view.setPackageState({ kind: 'ready' });
    this._panel.removeClass('jp-ReproServer-packageMissing');
    this._panel.session.setPath(path);
    await this._panel.session.load();
  }

  /** Fetches the package into the run file's folder (`POST /api/imports`), then opens it. */
  private async _fetch(source: string): Promise<void> {
    const trans = this._services.trans;
    this.view.setPackageState({
      kind: 'fetching',
      progress: trans.__('Looking up %1…', source)
    });
    const flow = new ImportFlow(this._client, {
      progress: record =>
        this.view.setPackageState({
          kind: 'fetching',
          progress: progressText(record, trans)
        }),
      // A run file names one package: a record with several is not the one it means.
      choose: async () => null
    });
    this._flow = flow;
    const outcome = await flow.run(source, folderOf(this._path) || undefined);
    this._flow = null;
    if (outcome.kind === 'done') {
      // The run file names the package by its path when it has one; else the fetched file it is.
      let path = outcome.path;
      try {
        path = (await this._client.readRunFile(this._path)).packagePath ?? path;
      } catch {
        // The fetched file is the package; the run's check says if it is not the one meant.
      }
      await this._openPackage(path);
      return;
    }
    this.view.setPackageState({
      kind: 'missing',
      source,
      fetch: () => void this._fetch(source),
      ...(outcome.kind === 'failed' ? { error: outcome.message } : {})
    });
  }

  /** A new edits model (a load, a reload): the run file's edits again, and what it locks. */
  private _onSessionChanged(session: PackageSession): void {
    const record = this._record;
    const edits = session.edits;
    if (!record || !edits) {
      return;
    }
    if (edits !== this._applied) {
      this._applied = edits;
      edits.applyRunEdits(runFileEdits(record));
      this.view.setEdits(edits);
    }
    if (record.locked) {
      this._lockLimits(record);
    }
  }

  /** The toolbar's limit fields: read-only unless the run file opens them. */
  private _lockLimits(record: RunFileRecord): void {
    const trans = this._services.trans;
    const names: Record<string, string> = {
      [trans.__('Memory limit (MiB)')]: 'limit memoryMiB',
      [trans.__('Time limit (seconds)')]: 'limit timeoutSeconds'
    };
    const fields = this._panel.controls.node.querySelectorAll<HTMLInputElement>(
      'input.jp-ReproServer-limit'
    );
    for (const field of fields) {
      const key = names[field.getAttribute('aria-label') ?? ''];
      if (key && !isOpen(record.runFile.open, key)) {
        field.disabled = true;
        field.title = trans.__('Set by the run file');
      }
    }
  }

  private _record: RunFileRecord | null = null;
  private _applied: unknown = null;
  private _flow: ImportFlow | null = null;
  private _disposed = false;
}
