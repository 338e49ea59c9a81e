/**
 * The results table of a sweep as data: its columns (variant, one per axis, status, exit code,
 * duration, one per metric), the rows in the order asked (sorted by any column, filtered by a
 * text over values and status) and the table as CSV. No DOM here: the view draws the visible
 * rows only, and these functions are what the tests check.
 */
import type {
  PackageModel,
  SweepRecord,
  SweepVariantRow
} from 'reproserver/contract';
import { fieldLabel } from 'reproserver/contract';
import { fieldHeader } from './fields';

/** What a column shows. */
export type ColumnKind =
  | { kind: 'variant' }
  | { kind: 'axis'; axis: number }
  | { kind: 'status' }
  | { kind: 'exitCode' }
  | { kind: 'duration' }
  | { kind: 'metric'; name: string };

export interface IColumn {
  /** Unique: what sorting and the plot's choices name. */
  id: string;
  header: string;
  /** In the CSV: the names `reproserver sweep` writes in its `sweep.csv`. */
  csvHeader: string;
  of: ColumnKind;
  /** Numbers sort as numbers and go right-aligned. */
  numeric: boolean;
}

/** The headers the caller translates. */
export interface IColumnHeaders {
  variant: string;
  status: string;
  exitCode: string;
  duration: string;
}

/** The columns of a sweep's table. */
export function sweepColumns(
  sweep: Pick<SweepRecord, 'axes' | 'metrics' | 'variants'>,
  model: PackageModel,
  headers: IColumnHeaders
): IColumn[] {
  const columns: IColumn[] = [
    {
      id: 'variant',
      header: headers.variant,
      csvHeader: 'variant',
      of: { kind: 'variant' },
      numeric: false
    }
  ];
  sweep.axes.forEach((axis, i) => {
    columns.push({
      id: `axis:${i}`,
      header: fieldHeader(axis.field, model),
      csvHeader: fieldLabel(axis.field),
      of: { kind: 'axis', axis: i },
      numeric: sweep.variants.every(v => isNumber(v.values[i]))
    });
  });
  columns.push(
    {
      id: 'status',
      header: headers.status,
      csvHeader: 'status',
      of: { kind: 'status' },
      numeric: false
    },
    {
      id: 'exitCode',
      header: headers.exitCode,
      csvHeader: 'exit_code',
      of: { kind: 'exitCode' },
      numeric: true
    },
    {
      id: 'duration',
      header: headers.duration,
      csvHeader: 'duration_s',
      of: { kind: 'duration' },
      numeric: true
    }
  );
  const names = new Set(sweep.metrics.map(m => m.name));
  // Values of metrics the record does not list (a package's metrics changed since) show too.
  for (const row of sweep.variants) {
    for (const name of Object.keys(row.metrics)) {
      names.add(name);
    }
    if (names.size >= 64) {
      break;
    }
  }
  for (const name of names) {
    columns.push({
      id: `metric:${name}`,
      header: name,
      csvHeader: name,
      of: { kind: 'metric', name },
      numeric: true
    });
  }
  return columns;
}

/** A cell's raw value: text, a number, or null when there is none. */
export function cellValue(
  row: SweepVariantRow,
  column: IColumn
): string | number | null {
  const of = column.of;
  switch (of.kind) {
    case 'variant':
      return row.id;
    case 'axis': {
      const value = row.values[of.axis] ?? null;
      return value !== null && column.numeric ? Number(value) : value;
    }
    case 'status':
      return row.status;
    case 'exitCode':
      return row.exitCode;
    case 'duration':
      return row.durationMs;
    case 'metric':
      return row.metrics[of.name] ?? null;
  }
}

function isNumber(text: string | undefined): boolean {
  return (
    text !== undefined && text.trim() !== '' && Number.isFinite(Number(text))
  );
}

/** A sort: the column and its direction. */
export interface ISort {
  column: string;
  descending: boolean;
}

/**
 * The rows matching the filter, in the sort's order (stable: equal cells keep the sweep's
 * order; rows without a value go last either way). The filter is case-insensitive text found in
 * the variant id, any axis value or the status (as the table shows it, `statusText`).
 */
export function visibleRows(
  rows: readonly SweepVariantRow[],
  columns: readonly IColumn[],
  sort: ISort | null,
  filter: string,
  statusText: (status: string) => string = s => s
): SweepVariantRow[] {
  const needle = filter.trim().toLowerCase();
  let out = needle
    ? rows.filter(
        row =>
          row.id.toLowerCase().includes(needle) ||
          row.values.some(v => v.toLowerCase().includes(needle)) ||
          (row.status !== null &&
            (row.status.includes(needle) ||
              statusText(row.status).toLowerCase().includes(needle)))
      )
    : [...rows];
  const column = sort && columns.find(c => c.id === sort.column);
  if (sort && column) {
    const sign = sort.descending ? -1 : 1;
    const keyed = out.map((row, position) => ({
      row,
      position,
      value: cellValue(row, column)
    }));
    keyed.sort((a, b) => {
      if (a.value === null || b.value === null) {
        if (a.value === b.value) {
          return a.position - b.position;
        }
        return a.value === null ? 1 : -1;
      }
      const order =
        typeof a.value === 'number' && typeof b.value === 'number'
          ? a.value - b.value
          : COLLATOR.compare(String(a.value), String(b.value));
      return order !== 0 ? sign * order : a.position - b.position;
    });
    out = keyed.map(k => k.row);
  }
  return out;
}

/** Text sorts as people expect: `v2` before `v10`, case aside. */
const COLLATOR = new Intl.Collator(undefined, {
  numeric: true,
  sensitivity: 'base'
});

/** One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
export function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The table as CSV, in the order given (the view passes its sorted and filtered rows), in the
 * layout of the CLI's `sweep.csv`: `variant`, each axis's value as given, `status` (`deleted`
 * once the run is gone), `exit_code`, `duration_s`, then one column per metric.
 */
export function sweepCsv(
  rows: readonly SweepVariantRow[],
  columns: readonly IColumn[]
): string {
  const lines = [columns.map(c => csvField(c.csvHeader)).join(',')];
  for (const row of rows) {
    lines.push(
      columns
        .map(c => {
          switch (c.of.kind) {
            case 'axis':
              // The value as given, not the number it sorts by.
              return csvField(row.values[c.of.axis] ?? null);
            case 'status':
              return csvField(row.status ?? 'deleted');
            case 'duration':
              return csvField(
                row.durationMs === null
                  ? null
                  : (row.durationMs / 1000).toFixed(3)
              );
            default:
              return csvField(cellValue(row, c));
          }
        })
        .join(',')
    );
  }
  return lines.join('\n') + '\n';
}
