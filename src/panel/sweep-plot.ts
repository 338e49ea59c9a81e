import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { SweepVariantRow } from 'reproserver/contract';
import { plotSpec, VEGALITE_MIME } from '../sweep/plot-spec';
import type { IColumn } from '../sweep/table';
import { h } from './dom';

/**
 * A sweep's plot: a metric (or the duration) against an axis, both chosen here, drawn by the
 * renderer JupyterLab's rendermime registry has for Vega-Lite (its vega5 extension), so it looks,
 * themes and exports (its … menu: SVG, PNG) like any plot in JupyterLab. Without the registry or
 * that renderer (an extension disabled), it says so and draws nothing.
 */
export class SweepPlot {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _rendermime: IRenderMimeRegistry | null
  ) {
    const trans = _trans;
    this._x = h('select', {
      class: 'jp-mod-styled jp-ReproServer-plotX',
      'aria-label': trans.__('Plot against'),
      onchange: () => this._draw()
    });
    this._y = h('select', {
      class: 'jp-mod-styled jp-ReproServer-plotY',
      'aria-label': trans.__('Plot what'),
      onchange: () => this._draw()
    });
    this._host = h('div', { class: 'jp-ReproServer-plotHost' });
    this._message = h('p', { class: 'jp-ReproServer-muted' });
    this.node = h(
      'div',
      { class: 'jp-ReproServer-sweepPlot' },
      h(
        'div',
        { class: 'jp-ReproServer-row' },
        h('label', {}, trans.__('Plot'), ' ', this._y),
        h('label', {}, trans.__('against'), ' ', this._x)
      ),
      this._message,
      this._host
    );
  }

  readonly node: HTMLElement;

  /** The columns to choose from and the rows to draw; redraws only when the plot changes. */
  setData(columns: readonly IColumn[], rows: readonly SweepVariantRow[]): void {
    this._columns = columns;
    this._rows = rows;
    const axes = columns.filter(c => c.of.kind === 'axis');
    const values = columns.filter(
      c => c.of.kind === 'metric' || c.of.kind === 'duration'
    );
    // Metrics first: what the user chose to measure, before the duration.
    values.sort((a, b) =>
      a.of.kind === b.of.kind ? 0 : a.of.kind === 'metric' ? -1 : 1
    );
    fillSelect(this._x, axes);
    fillSelect(this._y, values);
    this._draw();
  }

  dispose(): void {
    this._renderer?.dispose();
    this._renderer = null;
  }

  private async _draw(): Promise<void> {
    const trans = this._trans;
    const x = this._columns.find(c => c.id === this._x.value);
    const y = this._columns.find(c => c.id === this._y.value);
    if (!x || !y) {
      return;
    }
    const others = this._columns.filter(
      c => c.of.kind === 'axis' && c.id !== x.id
    );
    const spec = plotSpec(this._rows, x, y, others, {
      variant: trans.__('Variant'),
      others: trans.__('Other fields'),
      description: (yTitle, xTitle) => trans.__('%1 against %2', yTitle, xTitle)
    });
    const key = spec ? JSON.stringify(spec) : '';
    if (key === this._drawn) {
      return;
    }
    this._drawn = key;
    if (!spec) {
      this._clear();
      this._message.textContent = trans.__(
        'Nothing to plot yet: no variant has a value of %1.',
        y.header
      );
      return;
    }
    const registry = this._rendermime;
    if (
      !registry ||
      registry.preferredMimeType({ [VEGALITE_MIME]: {} }, 'any') !==
        VEGALITE_MIME
    ) {
      this._clear();
      this._message.textContent = trans.__(
        "JupyterLab's Vega-Lite renderer is not available (@jupyterlab/vega5-extension), so the plot cannot be drawn."
      );
      return;
    }
    this._message.textContent = '';
    // A new renderer per plot: Vega's view is made for one spec.
    const renderer = registry.createRenderer(VEGALITE_MIME);
    const model = mimeModel(spec);
    this._clear();
    this._renderer = renderer;
    this._host.append(renderer.node);
    try {
      await renderer.renderModel(model);
    } catch (error) {
      if (this._renderer === renderer) {
        this._message.textContent = trans.__(
          'The plot cannot be drawn: %1',
          error instanceof Error ? error.message : String(error)
        );
      }
    }
  }

  private _clear(): void {
    this._renderer?.dispose();
    this._renderer = null;
    this._host.replaceChildren();
  }

  private _x: HTMLSelectElement;
  private _y: HTMLSelectElement;
  private _host: HTMLElement;
  private _message: HTMLElement;
  private _columns: readonly IColumn[] = [];
  private _rows: readonly SweepVariantRow[] = [];
  private _renderer: IRenderMime.IRenderer | null = null;
  private _drawn = '';
}

/**
 * The model a renderer draws: rendermime's `MimeModel` in substance, made here so the panel
 * needs nothing of `@jupyterlab/rendermime` at run time but its registry. Trusted: the spec is
 * the panel's own, its data the server's numbers and the user's values.
 */
function mimeModel(spec: Record<string, unknown>): IRenderMime.IMimeModel {
  return {
    trusted: true,
    data: { [VEGALITE_MIME]: spec as IRenderMime.IMimeModel['data'][string] },
    metadata: {},
    setData: () => undefined
  };
}

/** Sets a select's options to these columns, keeping the choice when it is still there. */
function fillSelect(
  select: HTMLSelectElement,
  columns: readonly IColumn[]
): void {
  const ids = columns.map(c => c.id).join('\n');
  if (select.dataset.ids === ids) {
    return;
  }
  const chosen = select.value;
  select.dataset.ids = ids;
  select.replaceChildren(
    ...columns.map(c => h('option', { value: c.id }, c.header))
  );
  if (columns.some(c => c.id === chosen)) {
    select.value = chosen;
  }
}
