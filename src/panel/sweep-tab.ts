import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { SweepRecord } from 'reproserver/contract';
import { CompareSession } from '../compare/session';
import { CompareView } from '../compare/view';
import type { PackageSession } from '../model/package';
import { csvPath, exportCsv, type IWorkspaceFiles } from '../sweep/export';
import type { SweepSession } from '../sweep/session';
import { sweepColumns, sweepCsv } from '../sweep/table';
import { button, h } from './dom';
import { MetricsEditor } from './metrics-editor';
import { statusLabel } from './run';
import { SweepForm } from './sweep-form';
import { SweepPlot } from './sweep-plot';
import { SweepTable } from './sweep-table';

/** What the Sweep tab asks of JupyterLab. */
export interface ISweepTabServices {
  /** Asks the user for a workspace file (an input axis's values); null when cancelled. */
  pickWorkspaceFile(inputName: string): Promise<string | null>;
  /** Shows the Run tab, once a variant's run is opened there. */
  showRun(): void;
  /** Where the CSV export writes (JupyterLab's contents manager); without it, no export. */
  files?: IWorkspaceFiles;
  /** Asks before the export replaces a file; without it, never replaces. */
  confirmReplace?(path: string): Promise<boolean>;
  /** Shows the exported file in the file browser. */
  openFile?(path: string): void;
  /** JupyterLab's renderers: the plot is drawn by its Vega-Lite one. */
  rendermime?: IRenderMimeRegistry | null;
}

/**
 * The Sweep tab: the form that starts a sweep, the package's metrics (their editor), then the
 * sweep on display (the newest, or one chosen among the package's sweeps) with its progress,
 * Cancel all, its live results table, the CSV export, the comparison of two variants picked in
 * the table, and the plot. The sweeps and metrics are asked for the first time the tab is shown.
 */
export class SweepTab {
  constructor(
    private readonly _session: PackageSession,
    private readonly _trans: TranslationBundle,
    private readonly _services: ISweepTabServices
  ) {
    const trans = _trans;
    this._sweeps = _session.sweeps!;
    this._form = new SweepForm(_session, trans, _services.pickWorkspaceFile);
    // The table's own picks, apart from History's: the same comparison view and client.
    const shared = _session.compare!;
    this._compare = new CompareSession(shared.client, shared.packageSha256);
    this._compareView = new CompareView(this._compare, trans);
    this._table = new SweepTable(trans, {
      openRun: runId => void this._openRun(runId),
      compare: {
        isPicked: runId => this._compare.picked.includes(runId),
        toggle: runId => this._compare.toggle(runId)
      }
    });
    this._compareButton = button(
      trans.__('Pick two variants to compare'),
      () => void this._compare.compare(),
      {
        class: 'jp-ReproServer-sweepCompare',
        title: trans.__(
          'Compare the outputs and logs of the two variants picked in the table'
        ),
        disabled: true
      }
    );
    this._compare.changed.connect(this._renderCompare, this);
    const outputs = (_session.details?.model.files ?? [])
      .filter(f => f.writtenBy.length > 0)
      .map(f => f.name);
    this._metrics = new MetricsEditor(
      this._sweeps.metrics,
      trans,
      outputs,
      () => void this._sweeps.refreshAfterMetrics()
    );
    this._plot = new SweepPlot(trans, _services.rendermime ?? null);
    this._export = button(
      trans.__('Export CSV'),
      () => void this._exportCsv(),
      {
        class: 'jp-ReproServer-sweepExport',
        title: trans.__(
          'Write this table into the workspace, beside the package'
        )
      }
    );
    this._exported = h('span', {
      class: 'jp-ReproServer-muted jp-ReproServer-sweepExported',
      role: 'status'
    });
    this._table.toolbar.append(
      this._compareButton,
      h('span', { class: 'jp-ReproServer-spacer' }),
      this._exported,
      this._export
    );
    this._picker = h('select', {
      class: 'jp-mod-styled jp-ReproServer-sweepPicker',
      'aria-label': trans.__('Sweep on display'),
      onchange: (e: Event) =>
        void this._sweeps.show((e.target as HTMLSelectElement).value)
    });
    this._progress = h('span', {
      class: 'jp-ReproServer-sweepProgress',
      role: 'status'
    });
    this._cancel = button(
      trans.__('Cancel all'),
      () => void this._sweeps.cancel(),
      {
        class: 'jp-ReproServer-sweepCancel',
        title: trans.__('Cancel every run of this sweep that has not ended')
      }
    );
    this._problem = h('div', { class: 'jp-ReproServer-error', role: 'alert' });
    this._results = h(
      'div',
      { class: 'jp-ReproServer-sweepCurrent' },
      h(
        'div',
        { class: 'jp-ReproServer-row jp-ReproServer-sweepHead' },
        this._picker,
        this._progress,
        h('span', { class: 'jp-ReproServer-spacer' }),
        this._cancel
      ),
      this._table.node,
      this._compareView.node,
      h('h3', {}, trans.__('Plot')),
      this._plot.node
    );
    this.node = h(
      'div',
      { class: 'jp-ReproServer-sweep' },
      h('h3', {}, trans.__('New sweep')),
      this._form.node,
      this._problem,
      h('h3', {}, trans.__('Metrics')),
      this._metrics.node,
      this._results
    );
    this._sweeps.changed.connect(this._render, this);
    this._render();
  }

  readonly node: HTMLElement;

  /** The results table (tests sort and filter it). */
  get table(): SweepTable {
    return this._table;
  }

  get form(): SweepForm {
    return this._form;
  }

  /** The tab is on display: the first time, the package's sweeps are asked for. */
  shown(): void {
    if (!this._listed) {
      this._listed = true;
      void this._sweeps.refreshList();
    }
    this._metrics.shown();
    this._form.refresh();
  }

  dispose(): void {
    this._sweeps.changed.disconnect(this._render, this);
    this._compare.changed.disconnect(this._renderCompare, this);
    this._compareView.dispose();
    this._compare.dispose();
    this._metrics.dispose();
    this._table.dispose();
    this._plot.dispose();
  }

  private _render(): void {
    const trans = this._trans;
    const sweeps = this._sweeps;
    this._form.refresh();
    this._problem.textContent = sweeps.problem ?? '';
    const current = sweeps.current;
    this._results.hidden = current === null;
    if (!current) {
      return;
    }
    this._renderPicker(current);
    this._progress.textContent = progressText(current, trans);
    this._cancel.hidden = current.ended;
    this._cancel.disabled = sweeps.busy;
    const model = this._session.details?.model;
    if (!model) {
      return;
    }
    const columns = sweepColumns(current, model, {
      variant: trans.__('Variant'),
      status: trans.__('Status'),
      exitCode: trans.__('Exit code'),
      duration: trans.__('Duration')
    });
    this._table.setData(columns, current.variants);
    this._plot.setData(columns, current.variants);
  }

  private _renderCompare(): void {
    const two = this._compare.picked.length === 2;
    this._compareButton.disabled = !two;
    this._compareButton.textContent = two
      ? this._trans.__('Compare the two picked variants')
      : this._trans.__('Pick two variants to compare');
    this._table.redraw();
  }

  private _renderPicker(current: SweepRecord): void {
    const trans = this._trans;
    const list = [...this._sweeps.sweeps];
    if (!list.some(s => s.id === current.id)) {
      list.unshift(current);
    }
    const ids = list.map(s => s.id).join('\n');
    if (this._picker.dataset.ids !== ids) {
      this._picker.dataset.ids = ids;
      this._picker.replaceChildren(
        ...list.map(s =>
          h(
            'option',
            { value: s.id },
            trans._n(
              'Sweep of %2 (%1 run)',
              'Sweep of %2 (%1 runs)',
              s.total,
              new Date(s.createdAt).toLocaleString()
            )
          )
        )
      );
    }
    this._picker.value = current.id;
  }

  private async _openRun(runId: string): Promise<void> {
    if (await this._session.openRunById(runId)) {
      this._services.showRun();
    }
  }

  private async _exportCsv(): Promise<void> {
    const trans = this._trans;
    const current = this._sweeps.current;
    const files = this._services.files;
    if (!current || !files) {
      this._exported.textContent = trans.__(
        "Exporting needs JupyterLab's contents service."
      );
      return;
    }
    const path = csvPath(this._session.path, current.id);
    const csv = sweepCsv(this._table.rows, this._table.columns);
    this._export.disabled = true;
    try {
      const written = await exportCsv(
        files,
        path,
        csv,
        this._services.confirmReplace ?? (async () => false)
      );
      this._exported.textContent = written
        ? trans.__('Saved as %1', written)
        : trans.__('Not exported: %1 was kept.', path);
    } catch (error) {
      this._exported.textContent = trans.__(
        'The export failed: %1',
        error instanceof Error ? error.message : String(error)
      );
    } finally {
      this._export.disabled = false;
    }
  }

  private _sweeps: SweepSession;
  private _compare: CompareSession;
  private _compareView: CompareView;
  private _compareButton: HTMLButtonElement;
  private _metrics: MetricsEditor;
  private _form: SweepForm;
  private _table: SweepTable;
  private _plot: SweepPlot;
  private _export: HTMLButtonElement;
  private _exported: HTMLElement;
  private _picker: HTMLSelectElement;
  private _progress: HTMLElement;
  private _cancel: HTMLButtonElement;
  private _problem: HTMLElement;
  private _results: HTMLElement;
  private _listed = false;
}

/** `3 of 10 ended · 2 Succeeded, 1 Failed, 7 Queued`. */
export function progressText(
  sweep: SweepRecord,
  trans: TranslationBundle
): string {
  const counts = Object.entries(sweep.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${statusLabel(status, trans)}`)
    .join(', ');
  if (sweep.creating) {
    return trans.__(
      'Creating the runs: %1 of %2 · %3',
      sweep.variants.length,
      sweep.total,
      counts
    );
  }
  return sweep.ended
    ? trans._n('Ended: %1 run · %2', 'Ended: %1 runs · %2', sweep.total, counts)
    : trans._n('%1 run · %2', '%1 runs · %2', sweep.total, counts);
}
