/**
 * CSV metrics of one output, all read in one pass: each is a cell (a data row, counted from the
 * end when negative) or a whole column reduced to one number. The first row is the header; blank
 * rows are skipped. Cells are parsed strictly; a reducer skips cells that are no number (`count`
 * counts the numbers). An unreadable file (an unterminated quote, a row too long) gives null.
 */
import type { Readable } from 'node:stream';
import { METRIC_BOUNDS, type MetricReducer } from './bounds';
import { CsvError, readCsv } from './csv-reader';
import { parseMetricNumber } from './numbers';

export interface CsvPick {
  column: string | number;
  row?: number;
  reduce?: MetricReducer;
}

/** One pick's state while the rows go by. */
interface Picker {
  index: number | null;
  onRow(row: number, cell: string | undefined): void;
  /** Has its value already (a cell from the start): later rows cannot change it. */
  done(): boolean;
  value(): number | null;
}

export async function csvValues(
  body: Readable,
  picks: CsvPick[]
): Promise<(number | null)[]> {
  const pickers = picks.map(makePicker);
  let header = true;
  let row = 0;
  try {
    await readCsv(body, {
      maxRowChars: METRIC_BOUNDS.lineBytes,
      onRow: fields => {
        if (fields.length === 1 && fields[0].trim() === '') {
          return 'continue';
        }
        if (header) {
          header = false;
          pickers.forEach((picker, i) => {
            const column = picks[i].column;
            if (typeof column === 'number') {
              picker.index = column;
            } else {
              const at = fields.findIndex(name => name.trim() === column);
              picker.index = at === -1 ? null : at;
            }
          });
          return 'continue';
        }
        for (const picker of pickers) {
          if (picker.index !== null && !picker.done()) {
            picker.onRow(row, fields[picker.index]);
          }
        }
        row++;
        return row >= METRIC_BOUNDS.csvRows || pickers.every(p => p.done())
          ? 'stop'
          : 'continue';
      }
    });
  } catch (error) {
    if (error instanceof CsvError) {
      return picks.map(() => null);
    }
    throw error;
  }
  return pickers.map(p => (p.index === null ? null : p.value()));
}

function makePicker(pick: CsvPick): Picker {
  if (pick.row !== undefined && pick.row >= 0) {
    const wanted = pick.row;
    let value: number | null = null;
    let seen = false;
    return {
      index: null,
      onRow(row, cell) {
        if (row === wanted) {
          value = parseMetricNumber(cell ?? '');
          seen = true;
        }
      },
      done: () => seen,
      value: () => value
    };
  }
  if (pick.row !== undefined) {
    // The last |row| cells, in a ring: -1 is the newest.
    const size = Math.min(-pick.row, METRIC_BOUNDS.csvRows);
    const ring: (number | null)[] = [];
    let rows = 0;
    return {
      index: null,
      onRow(_row, cell) {
        ring[rows % size] = parseMetricNumber(cell ?? '');
        rows++;
      },
      done: () => false,
      value: () => (rows >= size ? (ring[(rows - size) % size] ?? null) : null)
    };
  }
  const reduce = pick.reduce ?? 'last';
  let first: number | null = null;
  let last: number | null = null;
  let sum = 0;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  return {
    index: null,
    onRow(_row, cell) {
      const n = parseMetricNumber(cell ?? '');
      if (n === null) {
        return;
      }
      first ??= n;
      last = n;
      sum += n;
      count++;
      min = Math.min(min, n);
      max = Math.max(max, n);
    },
    done: () => reduce === 'first' && first !== null,
    value: () => {
      switch (reduce) {
        case 'first':
          return first;
        case 'last':
          return last;
        case 'sum':
          return count ? sum : null;
        case 'count':
          return count;
        case 'mean':
          return count ? sum / count : null;
        case 'min':
          return count ? min : null;
        case 'max':
          return count ? max : null;
      }
    }
  };
}
