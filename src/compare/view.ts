/**
 * The comparison of two runs in the History tab: the edits that separate them, each output with
 * its state, and for a changed one its view on demand — a unified diff (text, SVG; an SVG also
 * side by side), the changed cells of a CSV with a tolerance, two PNGs side by side with their
 * difference image — and the logs' diff.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type {
  OutputComparison,
  OutputDetail,
  TextDiff
} from 'reproserver/contract';
import { button, h, input, table } from '../panel/dom';
import type { CompareSession } from './session';

/** A unified diff, each line classed by its kind (added, removed, hunk header, context). */
export function renderDiff(
  diff: TextDiff,
  trans: TranslationBundle
): HTMLElement {
  if (diff.tooLarge) {
    return h('p', { class: 'jp-ReproServer-muted' }, diff.tooLarge);
  }
  if (!diff.diff) {
    return h(
      'p',
      { class: 'jp-ReproServer-muted' },
      trans.__('No difference.')
    );
  }
  const lines = diff.diff.replace(/\n$/, '').split('\n');
  return h(
    'pre',
    { class: 'jp-ReproServer-diff' },
    ...lines.map((line, index) =>
      h(
        'span',
        {
          // The first two lines name the files (`--- a`, `+++ b`).
          class:
            index < 2
              ? 'jp-ReproServer-diff-file'
              : line.startsWith('@@')
                ? 'jp-ReproServer-diff-hunk'
                : line.startsWith('+')
                  ? 'jp-ReproServer-diff-added'
                  : line.startsWith('-')
                    ? 'jp-ReproServer-diff-removed'
                    : 'jp-ReproServer-diff-context'
        },
        line + '\n'
      )
    )
  );
}

function stateLabel(
  state: OutputComparison['state'],
  trans: TranslationBundle
): string {
  switch (state) {
    case 'identical':
      return trans.__('identical');
    case 'changed':
      return trans.__('changed');
    case 'only-a':
      return trans.__('only in A');
    case 'only-b':
      return trans.__('only in B');
  }
}

export class CompareView {
  constructor(
    private readonly _session: CompareSession,
    private readonly _trans: TranslationBundle
  ) {
    this.node = h('div', { class: 'jp-ReproServer-compare' });
    _session.changed.connect(this.render, this);
    this.render();
  }

  readonly node: HTMLElement;

  dispose(): void {
    this._session.changed.disconnect(this.render, this);
    this._urls.forEach(url => URL.revokeObjectURL(url));
  }

  render(): void {
    const trans = this._trans;
    const session = this._session;
    const summary = session.summary;
    if (!summary) {
      this.node.replaceChildren(
        session.problem
          ? h(
              'div',
              { class: 'jp-ReproServer-error', role: 'alert' },
              session.problem
            )
          : ''
      );
      return;
    }
    const differences =
      summary.differences.length === 0
        ? h(
            'p',
            { class: 'jp-ReproServer-muted' },
            trans.__('The two runs have the same settings.')
          )
        : h(
            'ul',
            { class: 'jp-ReproServer-compareEdits' },
            ...summary.differences.map(d =>
              h(
                'li',
                {},
                trans.__(
                  '%1: %2 → %3',
                  d.field,
                  d.a ?? trans.__('as recorded'),
                  d.b ?? trans.__('as recorded')
                )
              )
            )
          );
    this.node.replaceChildren(
      h(
        'div',
        { class: 'jp-ReproServer-compareHead' },
        h(
          'strong',
          {},
          summary.identical
            ? trans.__('Every output is identical.')
            : trans.__('The outputs differ.')
        ),
        ' ',
        h(
          'span',
          { class: 'jp-ReproServer-muted' },
          `A ${summary.a} · B ${summary.b}`
        ),
        button(
          trans.__('Close comparison'),
          () => session.close(),
          {},
          'minimal'
        )
      ),
      session.problem
        ? h(
            'div',
            { class: 'jp-ReproServer-error', role: 'alert' },
            session.problem
          )
        : '',
      h('h4', {}, trans.__('What separates the runs')),
      differences,
      h('h4', {}, trans.__('Outputs')),
      table(
        [trans.__('Output'), trans.__('State'), trans.__('View'), ''],
        summary.outputs.map(output => this._outputRow(output))
      ),
      ...summary.outputs
        .map(output => session.detail(output.name))
        .filter((detail): detail is OutputDetail => detail !== undefined)
        .map(detail => this._detail(detail)),
      h('h4', {}, trans.__('Log')),
      session.logDiff
        ? renderDiff(session.logDiff, trans)
        : button(trans.__('Compare the logs'), () => void session.loadLog())
    );
  }

  private _outputRow(output: OutputComparison): HTMLTableRowElement {
    const trans = this._trans;
    return h(
      'tr',
      {
        class: `jp-ReproServer-compareOutput jp-ReproServer-compare-${output.state}`,
        'data-output': output.name
      },
      h('td', {}, output.name),
      h('td', {}, stateLabel(output.state, trans)),
      h('td', {}, output.view),
      h(
        'td',
        { class: 'jp-ReproServer-actions' },
        output.state === 'identical'
          ? ''
          : button(
              trans.__('Show'),
              () => void this._session.loadDetail(output.name)
            )
      )
    );
  }

  private _detail(detail: OutputDetail): HTMLElement {
    const trans = this._trans;
    const { output } = detail;
    const parts: (HTMLElement | string)[] = [
      h('h5', {}, `${output.name} (${stateLabel(output.state, trans)})`)
    ];
    if (detail.csv) {
      parts.push(this._csv(detail));
    }
    if (output.view === 'png' || output.view === 'svg') {
      parts.push(this._sideBySide(output, detail));
    }
    if (detail.image) {
      parts.push(
        h(
          'p',
          {},
          detail.image.differingPixels !== null
            ? trans.__(
                '%1 pixels differ (%2 %).',
                detail.image.differingPixels,
                ((detail.image.ratio ?? 0) * 100).toFixed(3)
              )
            : (detail.image.note ?? '')
        )
      );
    }
    if (detail.text && !detail.csv) {
      parts.push(renderDiff(detail.text, trans));
    }
    if (output.view === 'binary') {
      const side = (facts: OutputComparison['a']) =>
        facts
          ? trans.__('%1 bytes, sha256 %2', facts.size, facts.sha256)
          : trans.__('absent');
      parts.push(
        h('p', {}, `A: ${side(output.a)}`),
        h('p', {}, `B: ${side(output.b)}`)
      );
    }
    return h(
      'div',
      { class: 'jp-ReproServer-compareDetail', 'data-output': output.name },
      ...parts
    );
  }

  private _csv(detail: OutputDetail): HTMLElement {
    const trans = this._trans;
    const csv = detail.csv!;
    const tolerance = input({
      type: 'number',
      min: '0',
      step: 'any',
      value: String(csv.tolerance.absolute),
      'aria-label': trans.__('Tolerance')
    });
    const relative = input({
      type: 'number',
      min: '0',
      step: 'any',
      value: String(csv.tolerance.relative),
      'aria-label': trans.__('Relative tolerance')
    });
    const verdict =
      csv.verdict === 'within-tolerance'
        ? trans.__('Changed only within the tolerance.')
        : csv.verdict === 'identical'
          ? trans.__('Same cells.')
          : trans.__('%1 changed cells.', csv.changedCells);
    return h(
      'div',
      { class: 'jp-ReproServer-compareCsv' },
      h(
        'div',
        {},
        h('label', {}, trans.__('Tolerance'), ' ', tolerance),
        ' ',
        h('label', {}, trans.__('Relative tolerance'), ' ', relative),
        ' ',
        button(
          trans.__('Apply'),
          () =>
            void this._session.loadDetail(detail.output.name, {
              absolute: Number(tolerance.value) || 0,
              relative: Number(relative.value) || 0
            })
        )
      ),
      h('p', {}, csv.tooLarge ?? verdict),
      table(
        [trans.__('Row'), trans.__('Column'), 'A', 'B', trans.__('Delta')],
        csv.cells.map(cell =>
          h(
            'tr',
            {
              class: cell.withinTolerance
                ? 'jp-ReproServer-compareCell jp-mod-within'
                : 'jp-ReproServer-compareCell'
            },
            h('td', {}, String(cell.row)),
            h('td', {}, cell.columnName ?? String(cell.column)),
            h('td', {}, cell.a ?? ''),
            h('td', {}, cell.b ?? ''),
            h('td', {}, cell.delta === null ? '' : String(cell.delta))
          )
        )
      )
    );
  }

  /** A and B side by side (and the difference image of a PNG), fetched as blobs. */
  private _sideBySide(
    output: OutputComparison,
    detail: OutputDetail
  ): HTMLElement {
    const trans = this._trans;
    const summary = this._session.summary!;
    const figure = (label: string, load: () => Promise<Blob>) => {
      const img = h('img', {
        alt: label,
        class: 'jp-ReproServer-compareImage'
      });
      void load().then(
        blob => {
          const url = URL.createObjectURL(blob);
          this._urls.push(url);
          img.src = url;
        },
        () =>
          img.replaceWith(
            h(
              'span',
              { class: 'jp-ReproServer-muted' },
              trans.__('(not shown)')
            )
          )
      );
      return h('figure', {}, img, h('figcaption', {}, label));
    };
    const client = this._session.client;
    return h(
      'div',
      { class: 'jp-ReproServer-compareImages' },
      output.a
        ? figure('A', () =>
            client.image({ run: summary.a, output: output.name })
          )
        : '',
      output.b
        ? figure('B', () =>
            client.image({ run: summary.b, output: output.name })
          )
        : '',
      detail.image?.differingPixels
        ? figure(trans.__('Difference'), () =>
            client.image({ a: summary.a, b: summary.b, output: output.name })
          )
        : ''
    );
  }

  private _urls: string[] = [];
}
