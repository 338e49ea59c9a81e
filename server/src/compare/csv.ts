/**
 * Two CSV files compared cell by cell: rows and columns by position, a number compared with a
 * tolerance (absolute and/or relative) so that "changed only within tolerance" is said as such.
 */
import type { CsvCellChange, CsvDiff } from '../contract/wire';
import { COMPARE_BOUNDS, type CompareBounds } from './bounds';

export interface Tolerance {
  /** |b − a| at most this is within tolerance. */
  absolute: number;
  /** |b − a| at most this × max(|a|, |b|) is within tolerance. */
  relative: number;
}

export const NO_TOLERANCE: Tolerance = { absolute: 0, relative: 0 };

export type CsvBounds = Pick<
  CompareBounds,
  'csvRows' | 'csvColumns' | 'csvCellsListed'
>;

/** Rows of cells (RFC 4180: quoted cells may hold separators, quotes and newlines). */
export function parseCsv(
  text: string,
  separator = ',',
  bounds: Pick<CsvBounds, 'csvRows' | 'csvColumns'> = COMPARE_BOUNDS
): string[][] | { tooLarge: string } {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  const endCell = () => {
    row.push(cell);
    cell = '';
  };
  const endRow = () => {
    endCell();
    rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        cell += c;
      }
      i++;
      continue;
    }
    if (c === '"' && cell === '') {
      quoted = true;
    } else if (c === separator) {
      endCell();
      if (row.length >= bounds.csvColumns) {
        return { tooLarge: `more than ${bounds.csvColumns} columns` };
      }
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
      }
      endRow();
      if (rows.length > bounds.csvRows) {
        return { tooLarge: `more than ${bounds.csvRows} rows` };
      }
    } else {
      cell += c;
    }
    i++;
  }
  if (cell !== '' || row.length > 0) {
    endRow();
  }
  return rows;
}

/** A cell as a number: a plain decimal or scientific literal, surrounding spaces allowed. */
function numberOf(cell: string | null): number | null {
  if (cell === null) {
    return null;
  }
  const trimmed = cell.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) {
    return null;
  }
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

export function withinTolerance(
  a: number,
  b: number,
  tolerance: Tolerance
): boolean {
  const delta = Math.abs(b - a);
  return (
    delta <= tolerance.absolute ||
    delta <= tolerance.relative * Math.max(Math.abs(a), Math.abs(b))
  );
}

/** Compares two parsed tables; the header (row 0) names columns when both rows are the same. */
export function compareTables(
  a: string[][],
  b: string[][],
  tolerance: Tolerance,
  bounds: Pick<CsvBounds, 'csvCellsListed'> = COMPARE_BOUNDS
): CsvDiff {
  const columnsOf = (rows: string[][]) =>
    rows.reduce((n, row) => Math.max(n, row.length), 0);
  const header =
    a.length > 0 && b.length > 0 && a[0].join('\0') === b[0].join('\0')
      ? a[0]
      : null;
  const cells: CsvCellChange[] = [];
  let changedCells = 0;
  let allWithin = true;
  const rows = Math.max(a.length, b.length);
  for (let r = 0; r < rows; r++) {
    const rowA = a[r];
    const rowB = b[r];
    const columns = Math.max(rowA?.length ?? 0, rowB?.length ?? 0);
    for (let c = 0; c < columns; c++) {
      const cellA = rowA?.[c] ?? null;
      const cellB = rowB?.[c] ?? null;
      if (cellA === cellB) {
        continue;
      }
      const numberA = numberOf(cellA);
      const numberB = numberOf(cellB);
      const delta =
        numberA !== null && numberB !== null ? numberB - numberA : null;
      const within =
        numberA !== null &&
        numberB !== null &&
        withinTolerance(numberA, numberB, tolerance);
      allWithin &&= within;
      changedCells++;
      if (cells.length < bounds.csvCellsListed) {
        cells.push({
          row: r,
          column: c,
          columnName: header?.[c] ?? null,
          a: cellA,
          b: cellB,
          delta,
          withinTolerance: within
        });
      }
    }
  }
  const sameShape = a.length === b.length && columnsOf(a) === columnsOf(b);
  return {
    verdict:
      changedCells === 0 && sameShape
        ? 'identical'
        : allWithin && sameShape
          ? 'within-tolerance'
          : 'changed',
    rows: { a: a.length, b: b.length },
    columns: { a: columnsOf(a), b: columnsOf(b) },
    tolerance,
    changedCells,
    cells,
    tooLarge: null
  };
}

/** Two CSV texts compared; too large (rows, columns) says so instead. */
export function compareCsv(
  a: string,
  b: string,
  separator: string,
  tolerance: Tolerance,
  bounds: CsvBounds = COMPARE_BOUNDS
): CsvDiff {
  const tableA = parseCsv(a, separator, bounds);
  const tableB = parseCsv(b, separator, bounds);
  if (!Array.isArray(tableA) || !Array.isArray(tableB)) {
    const why = (
      !Array.isArray(tableA) ? tableA : (tableB as { tooLarge: string })
    ).tooLarge;
    return {
      verdict: 'changed',
      rows: { a: 0, b: 0 },
      columns: { a: 0, b: 0 },
      tolerance,
      changedCells: 0,
      cells: [],
      tooLarge: `Too large to compare cell by cell (${why}).`
    };
  }
  return compareTables(tableA, tableB, tolerance, bounds);
}
