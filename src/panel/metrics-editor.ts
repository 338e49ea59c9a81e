/**
 * The Sweep tab's Metrics editor: the package's metrics (one line each, with Remove), a form to
 * add one — a name and where its number comes from: a `key=value` pair in the log, a regular
 * expression over the log, a column (a cell, or the column reduced) of a CSV output, a path in a
 * JSON output, the output picked among the package's — and Save. The server checks what is
 * saved; its `bad-metric` sentence is shown as it is.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  METRIC_BOUNDS,
  METRIC_REDUCERS,
  type MetricSpec
} from 'reproserver/contract';
import type { MetricsSession } from '../sweep/metrics';
import { button, h, input, table } from './dom';

type Source = MetricSpec['source'];

/** The form's fields as typed; `metricFromForm` makes a metric of them. */
export interface IMetricForm {
  name: string;
  source: Source;
  key: string;
  pattern: string;
  output: string;
  column: string;
  row: string;
  reduce: string;
  path: string;
}

/** A metric from the form, or the sentence saying what is missing. */
export function metricFromForm(
  form: IMetricForm,
  trans: TranslationBundle
): { ok: true; metric: MetricSpec } | { ok: false; problem: string } {
  const name = form.name.trim();
  if (!name) {
    return { ok: false, problem: trans.__('Give the metric a name.') };
  }
  switch (form.source) {
    case 'log-pair': {
      const key = form.key.trim();
      return {
        ok: true,
        metric: { name, source: 'log-pair', ...(key ? { key } : {}) }
      };
    }
    case 'log-regex':
      if (!form.pattern) {
        return {
          ok: false,
          problem: trans.__('Give the regular expression to look for.')
        };
      }
      return {
        ok: true,
        metric: { name, source: 'log-regex', pattern: form.pattern }
      };
    case 'csv': {
      if (!form.output) {
        return { ok: false, problem: trans.__('Pick the CSV output.') };
      }
      const columnText = form.column.trim();
      if (!columnText) {
        return {
          ok: false,
          problem: trans.__('Give the column: its header or its number from 0.')
        };
      }
      const column = /^\d+$/.test(columnText) ? Number(columnText) : columnText;
      const rowText = form.row.trim();
      if (rowText && !/^-?\d+$/.test(rowText)) {
        return {
          ok: false,
          problem: trans.__(
            'The row is a whole number from 0 (-1 for the last), or empty for the whole column.'
          )
        };
      }
      const metric: MetricSpec = {
        name,
        source: 'csv',
        output: form.output,
        column,
        ...(rowText
          ? { row: Number(rowText) }
          : form.reduce
            ? { reduce: form.reduce as (typeof METRIC_REDUCERS)[number] }
            : {})
      };
      return { ok: true, metric };
    }
    case 'json':
      if (!form.output) {
        return { ok: false, problem: trans.__('Pick the JSON output.') };
      }
      return {
        ok: true,
        metric: {
          name,
          source: 'json',
          output: form.output,
          path: form.path.trim()
        }
      };
  }
}

/** A metric in a few words: `log: loss=…`, `results.csv: column acc, mean`. */
export function describeMetric(
  metric: MetricSpec,
  trans: TranslationBundle
): string {
  switch (metric.source) {
    case 'log-pair':
      return trans.__('log: %1=…', metric.key ?? metric.name);
    case 'log-regex':
      return trans.__('log: /%1/', metric.pattern);
    case 'csv':
      return metric.row !== undefined
        ? trans.__(
            '%1: column %2, row %3',
            metric.output,
            metric.column,
            metric.row
          )
        : trans.__(
            '%1: column %2, %3',
            metric.output,
            metric.column,
            metric.reduce ?? 'last'
          );
    case 'json':
      return trans.__('%1: %2', metric.output, metric.path || '.');
  }
}

export class MetricsEditor {
  constructor(
    private readonly _metrics: MetricsSession,
    private readonly _trans: TranslationBundle,
    /** The package's outputs, by name (the CSV and JSON sources pick one). */
    outputs: readonly string[],
    /** After a save: the sweep on display is asked for again. */
    private readonly _saved: () => void
  ) {
    const trans = _trans;
    const sources: [Source, string][] = [
      ['log-pair', trans.__('Log: key=value pair')],
      ['log-regex', trans.__('Log: regular expression')],
      ['csv', trans.__('CSV output: column')],
      ['json', trans.__('JSON output: path')]
    ];
    this._name = input({
      class: 'jp-ReproServer-metricName',
      placeholder: trans.__('name'),
      'aria-label': trans.__('Metric name'),
      maxlength: 64
    });
    this._source = h(
      'select',
      {
        class: 'jp-mod-styled jp-ReproServer-metricSource',
        'aria-label': trans.__('Where the number comes from'),
        onchange: () => this._showFields()
      },
      ...sources.map(([value, label]) => h('option', { value }, label))
    );
    const field = (cls: string, placeholder: string, label: string) =>
      input({ class: cls, placeholder, 'aria-label': label });
    this._key = field(
      'jp-ReproServer-metricKey',
      trans.__('key (default: the name)'),
      trans.__('Key in the log')
    );
    this._pattern = field(
      'jp-ReproServer-metricPattern',
      trans.__('regular expression, e.g. loss ([0-9.]+)'),
      trans.__('Regular expression')
    );
    this._output = h(
      'select',
      {
        class: 'jp-mod-styled jp-ReproServer-metricOutput',
        'aria-label': trans.__('Output')
      },
      ...outputs.map(name => h('option', { value: name }, name))
    );
    this._column = field(
      'jp-ReproServer-metricColumn',
      trans.__('column header or number'),
      trans.__('Column')
    );
    this._row = field(
      'jp-ReproServer-metricRow',
      trans.__('row (empty: whole column)'),
      trans.__('Row')
    );
    this._reduce = h(
      'select',
      {
        class: 'jp-mod-styled jp-ReproServer-metricReduce',
        'aria-label': trans.__('How the column becomes one number')
      },
      ...METRIC_REDUCERS.map(r => h('option', { value: r }, r))
    );
    this._path = field(
      'jp-ReproServer-metricPath',
      trans.__('path, e.g. results.accuracy'),
      trans.__('Path in the JSON document')
    );
    this._list = h('div', { class: 'jp-ReproServer-metricList' });
    this._problem = h('div', {
      class: 'jp-ReproServer-error jp-ReproServer-metricProblem',
      role: 'alert'
    });
    this._save = button(
      trans.__('Save metrics'),
      () => void this._doSave(),
      {
        class: 'jp-ReproServer-metricSave',
        title: trans.__(
          'Remember these metrics for the package; every ended run’s values are extracted again'
        )
      },
      'accept'
    );
    this._revert = button(trans.__('Revert'), () => _metrics.revert(), {
      class: 'jp-ReproServer-metricRevert'
    });
    this.node = h(
      'div',
      { class: 'jp-ReproServer-metrics' },
      this._list,
      h(
        'div',
        { class: 'jp-ReproServer-row jp-ReproServer-metricForm' },
        this._name,
        this._source,
        this._key,
        this._pattern,
        this._output,
        this._column,
        this._row,
        this._reduce,
        this._path,
        button(trans.__('Add'), () => this._add(), {
          class: 'jp-ReproServer-metricAdd'
        })
      ),
      h('div', { class: 'jp-ReproServer-row' }, this._save, this._revert),
      this._problem
    );
    this._showFields();
    _metrics.changed.connect(this._render, this);
    this._render();
  }

  readonly node: HTMLElement;

  /** The tab is shown: the metrics are asked for the first time. */
  shown(): void {
    if (!this._metrics.loaded && !this._metrics.busy) {
      void this._metrics.load();
    }
  }

  dispose(): void {
    this._metrics.changed.disconnect(this._render, this);
  }

  private _showFields(): void {
    const source = this._source.value as Source;
    const file = source === 'csv' || source === 'json';
    this._key.hidden = source !== 'log-pair';
    this._pattern.hidden = source !== 'log-regex';
    this._output.hidden = !file;
    this._column.hidden = source !== 'csv';
    this._row.hidden = source !== 'csv';
    this._reduce.hidden = source !== 'csv';
    this._path.hidden = source !== 'json';
  }

  private _add(): void {
    const trans = this._trans;
    const made = metricFromForm(
      {
        name: this._name.value,
        source: this._source.value as Source,
        key: this._key.value,
        pattern: this._pattern.value,
        output: this._output.value,
        column: this._column.value,
        row: this._row.value,
        reduce: this._reduce.value,
        path: this._path.value
      },
      trans
    );
    if (!made.ok) {
      this._problem.textContent = made.problem;
      return;
    }
    if (!this._metrics.add(made.metric)) {
      this._problem.textContent = trans.__(
        'A package has at most %1 metrics; remove one first.',
        METRIC_BOUNDS.metrics
      );
      return;
    }
    this._problem.textContent = '';
    this._name.value = '';
  }

  private async _doSave(): Promise<void> {
    if (await this._metrics.save()) {
      this._saved();
    }
  }

  private _render(): void {
    const trans = this._trans;
    const metrics = this._metrics;
    this._list.replaceChildren(
      metrics.metrics.length === 0
        ? h(
            'p',
            { class: 'jp-ReproServer-muted' },
            trans.__(
              'No metrics yet: add one to see its value for each variant in the table and the plot.'
            )
          )
        : table(
            [trans.__('Metric'), trans.__('From'), ''],
            metrics.metrics.map(m =>
              h(
                'tr',
                { class: 'jp-ReproServer-metric', 'data-metric': m.name },
                h('td', {}, m.name),
                h('td', {}, describeMetric(m, trans)),
                h(
                  'td',
                  { class: 'jp-ReproServer-actions' },
                  button(trans.__('Remove'), () => metrics.remove(m.name), {
                    class: 'jp-ReproServer-metricRemove',
                    title: trans.__('Remove %1', m.name)
                  })
                )
              )
            )
          )
    );
    this._problem.textContent = metrics.problem ?? '';
    this._save.disabled = metrics.busy || !metrics.dirty;
    this._revert.disabled = metrics.busy || !metrics.dirty;
  }

  private _name: HTMLInputElement;
  private _source: HTMLSelectElement;
  private _key: HTMLInputElement;
  private _pattern: HTMLInputElement;
  private _output: HTMLSelectElement;
  private _column: HTMLInputElement;
  private _row: HTMLInputElement;
  private _reduce: HTMLSelectElement;
  private _path: HTMLInputElement;
  private _list: HTMLElement;
  private _problem: HTMLElement;
  private _save: HTMLButtonElement;
  private _revert: HTMLButtonElement;
}
