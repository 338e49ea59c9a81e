import type { TranslationBundle } from '@jupyterlab/translation';
import type { SweepVariantRow } from 'reproserver/contract';
import {
  cellValue,
  visibleRows,
  type IColumn,
  type ISort
} from '../sweep/table';
import { formatDuration, h, input } from './dom';
import { statusLabel } from './run';

/** The height of a row, in pixels: fixed, so that the rows in view follow from the scroll. */
export const ROW_HEIGHT = 26;
/** Rows drawn above and below the ones in view, so a short scroll shows no blank. */
const OVERSCAN = 10;
/** Rows in view at most: the scroller's CSS max-height (420px), in rows. */
const VIEW_ROWS = Math.ceil(420 / ROW_HEIGHT);

/**
 * A sweep's results table, windowed: only the rows in view (and a few around) are in the page,
 * between two spacer rows that keep the scroll bar true, so a table of 10,000 variants scrolls
 * and sorts as fast as one of ten. Sorted by any column (click its header; again to reverse),
 * filtered by a text over the variants' values and status. Drawn with ui-components' table
 * classes (`jp-sortable-table`, `jp-sorted-header`, `jp-sort-icon`).
 */
export class SweepTable {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _actions: {
      /** Shows a variant's run (its log and outputs). */
      openRun(runId: string): void;
      /** Picks runs to compare: a checkbox per variant with a run; none without it. */
      compare?: {
        isPicked(runId: string): boolean;
        toggle(runId: string): void;
      };
    }
  ) {
    const trans = _trans;
    this._filter = input({
      class: 'jp-ReproServer-sweepFilter',
      type: 'search',
      placeholder: trans.__('Filter by value or status'),
      'aria-label': trans.__('Filter the variants'),
      oninput: () => this._refilter()
    });
    this._shown = h('span', {
      class: 'jp-ReproServer-muted jp-ReproServer-sweepShown'
    });
    this._head = h('tr', { class: 'jp-sortable-table-tr' });
    this._body = h('tbody', {});
    this._scroller = h(
      'div',
      { class: 'jp-ReproServer-sweepScroller' },
      h(
        'table',
        {
          class:
            'jp-sortable-table jp-ReproServer-table jp-ReproServer-sweepTable'
        },
        h('thead', {}, this._head),
        this._body
      )
    );
    // Browsers send at most one scroll event per frame, before painting it: drawing here puts
    // the rows in that very frame (a requestAnimationFrame would draw them one frame late).
    this._scroller.addEventListener('scroll', () => this._draw(), {
      passive: true
    });
    this.toolbar = h(
      'div',
      { class: 'jp-ReproServer-row jp-ReproServer-sweepTools' },
      this._filter,
      this._shown
    );
    this.node = h(
      'div',
      { class: 'jp-ReproServer-sweepResults' },
      this.toolbar,
      this._scroller
    );
  }

  readonly node: HTMLElement;
  /** The row of the filter: the tab adds its buttons (Export CSV) to it. */
  readonly toolbar: HTMLElement;

  /** The rows in the order and selection shown (the CSV export writes these). */
  get rows(): readonly SweepVariantRow[] {
    return this._visible;
  }

  get columns(): readonly IColumn[] {
    return this._columns;
  }

  get sort(): ISort | null {
    return this._sort;
  }

  /** New rows (a poll) or new columns (another sweep). */
  setData(columns: IColumn[], rows: readonly SweepVariantRow[]): void {
    const ids = columns.map(c => c.id).join('\n');
    if (ids !== this._columnIds) {
      this._columnIds = ids;
      this._columns = columns;
      if (this._sort && !columns.some(c => c.id === this._sort!.column)) {
        this._sort = null;
      }
      this._drawHead();
    } else {
      this._columns = columns;
    }
    this._rows = rows;
    this._refilter();
  }

  /** Sorts by a column; the same column again reverses the order. */
  sortBy(columnId: string, descending?: boolean): void {
    const same = this._sort?.column === columnId;
    this._sort = {
      column: columnId,
      descending: descending ?? (same ? !this._sort!.descending : false)
    };
    this._drawHead();
    this._refilter();
  }

  /** Draws the rows again (the picks to compare changed). */
  redraw(): void {
    this._draw();
  }

  setFilter(text: string): void {
    this._filter.value = text;
    this._refilter();
  }

  dispose(): void {
    this._rows = [];
    this._visible = [];
  }

  private _refilter(): void {
    this._visible = visibleRows(
      this._rows,
      this._columns,
      this._sort,
      this._filter.value,
      status => statusLabel(status, this._trans)
    );
    this._shown.textContent =
      this._visible.length === this._rows.length
        ? this._trans._n('%1 variant', '%1 variants', this._rows.length)
        : this._trans.__(
            '%1 of %2 variants',
            this._visible.length,
            this._rows.length
          );
    this._draw();
  }

  private _drawHead(): void {
    const trans = this._trans;
    this._head.replaceChildren(
      ...this._columns.map(column => {
        const sorted = this._sort?.column === column.id;
        // ui-components' table shows its sort direction so, in a `jp-sort-icon`.
        const icon = h(
          'span',
          { class: 'jp-sort-icon', 'aria-hidden': 'true' },
          sorted && this._sort!.descending ? '▾' : '▴'
        );
        return h(
          'th',
          {
            class:
              (sorted ? 'jp-sorted-header ' : '') +
              (column.numeric ? 'jp-ReproServer-numeric' : ''),
            'data-column': column.id,
            'aria-sort': sorted
              ? this._sort!.descending
                ? 'descending'
                : 'ascending'
              : 'none',
            title: trans.__('Sort by %1', column.header),
            tabindex: 0,
            onclick: () => this.sortBy(column.id),
            onkeydown: (e: Event) => {
              const key = (e as KeyboardEvent).key;
              if (key === 'Enter' || key === ' ') {
                e.preventDefault();
                this.sortBy(column.id);
              }
            }
          },
          h(
            'div',
            { class: 'jp-sortable-table-th-wrapper' },
            h('label', {}, column.header),
            icon
          )
        );
      })
    );
  }

  /** Puts the rows in view (and the overscan) in the page, between the two spacers. */
  private _draw(): void {
    const total = this._visible.length;
    // At least a full scroller: a table still growing into it is measured small.
    const viewRows = Math.max(
      VIEW_ROWS,
      Math.ceil(this._scroller.clientHeight / ROW_HEIGHT)
    );
    const top = Math.floor(this._scroller.scrollTop / ROW_HEIGHT);
    const first = Math.max(0, Math.min(top, total) - OVERSCAN);
    const last = Math.min(total, top + viewRows + OVERSCAN);
    const spacer = (rows: number) =>
      h(
        'tr',
        { class: 'jp-ReproServer-sweepSpacer', 'aria-hidden': 'true' },
        h('td', {
          colspan: Math.max(1, this._columns.length),
          style: `height: ${rows * ROW_HEIGHT}px`
        })
      );
    const drawn: HTMLElement[] = [];
    if (first > 0) {
      drawn.push(spacer(first));
    }
    for (let i = first; i < last; i++) {
      drawn.push(this._drawRow(this._visible[i], i));
    }
    if (last < total) {
      drawn.push(spacer(total - last));
    }
    this._body.replaceChildren(...drawn);
  }

  private _drawRow(row: SweepVariantRow, position: number): HTMLElement {
    const trans = this._trans;
    const cells = this._columns.map(column => {
      const of = column.of;
      if (of.kind === 'variant') {
        const run = row.run;
        const compare = this._actions.compare;
        return h(
          'td',
          {},
          run && compare
            ? h('input', {
                type: 'checkbox',
                class: 'jp-ReproServer-sweepPick',
                checked: compare.isPicked(run),
                title: trans.__('Pick %1 to compare (two at most)', row.id),
                'aria-label': trans.__('Compare %1', row.id),
                onchange: () => compare.toggle(run)
              })
            : '',
          run
            ? h(
                'a',
                {
                  href: '#',
                  class: 'jp-ReproServer-link jp-ReproServer-sweepOpen',
                  title: trans.__('Show the log and outputs of %1', row.id),
                  onclick: (e: Event) => {
                    e.preventDefault();
                    this._actions.openRun(run);
                  }
                },
                row.id
              )
            : row.id
        );
      }
      if (of.kind === 'status') {
        return h(
          'td',
          { class: 'jp-ReproServer-sweepStatus' },
          row.status
            ? h(
                'span',
                {
                  class: `jp-ReproServer-badge jp-ReproServer-status-${row.status}`
                },
                statusLabel(row.status, trans)
              )
            : h('span', { class: 'jp-ReproServer-muted' }, trans.__('deleted'))
        );
      }
      const value = cellValue(row, column);
      let text: string;
      if (value === null) {
        text = '';
      } else if (of.kind === 'duration') {
        text = formatDuration(Number(value));
      } else if (of.kind === 'axis') {
        text = row.values[of.axis] ?? '';
      } else if (of.kind === 'metric') {
        text = formatMetric(Number(value));
      } else {
        text = String(value);
      }
      return h(
        'td',
        {
          class: column.numeric ? 'jp-ReproServer-numeric' : null,
          title: text.length > 24 ? text : null
        },
        text
      );
    });
    return h(
      'tr',
      {
        class: 'jp-sortable-table-tr jp-ReproServer-sweepRow',
        'data-variant': row.id,
        'aria-rowindex': position + 2
      },
      ...cells
    );
  }

  private _filter: HTMLInputElement;
  private _shown: HTMLElement;
  private _head: HTMLTableRowElement;
  private _body: HTMLTableSectionElement;
  private _scroller: HTMLElement;
  private _columns: IColumn[] = [];
  private _columnIds = '';
  private _rows: readonly SweepVariantRow[] = [];
  private _visible: SweepVariantRow[] = [];
  private _sort: ISort | null = null;
}

/** A metric as the table shows it: at most 6 significant digits, no float noise. */
export function formatMetric(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }
  return String(Number(value.toPrecision(6)));
}
