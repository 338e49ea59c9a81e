/**
 * Summarises `METADATA/trace.sqlite3`: per run, the processes, the programs executed and the files
 * read and written. The database is untrusted input, so it is opened read-only from a private
 * temporary copy, and any failure becomes `{ status: 'unreadable' }` rather than an exception.
 */
import Database from 'better-sqlite3';
import { errorMessage } from '../describe';
import type { TraceModel, TraceRunSummary } from './model';

const MODE_READ = 0x01;
const MODE_WRITE = 0x02;
const MODE_SOCKET = 0x20;

function columns(db: Database.Database, table: string): Set<string> {
  const rows = db.prepare(`PRAGMA table_info(${table})`).all() as {
    name: string;
  }[];
  return new Set(rows.map(row => row.name));
}

/** Reads the trace at `dbPath` (a private copy). Never throws. */
export function summariseTrace(dbPath: string): TraceModel {
  let db: Database.Database | null = null;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const processCols = columns(db, 'processes');
    const openedCols = columns(db, 'opened_files');
    const executedCols = columns(db, 'executed_files');
    for (const [table, cols, needed] of [
      ['processes', processCols, ['run_id']],
      ['opened_files', openedCols, ['run_id', 'name', 'mode']],
      ['executed_files', executedCols, ['run_id', 'name']]
    ] as const) {
      for (const column of needed) {
        if (!cols.has(column)) {
          return {
            status: 'unreadable',
            reason: `the trace table ${table} has no column ${column}`
          };
        }
      }
    }
    const runs = new Map<number, TraceRunSummary>();
    const runOf = (id: number): TraceRunSummary => {
      let run = runs.get(id);
      if (run === undefined) {
        run = {
          run: id,
          processes: 0,
          programs: [],
          filesRead: [],
          filesWritten: []
        };
        runs.set(id, run);
      }
      return run;
    };
    // Threads are recorded as processes since 0.7; they are not separate programs, so skip them.
    const threadFilter = processCols.has('is_thread')
      ? 'WHERE is_thread = 0'
      : '';
    const counts = db
      .prepare(
        `SELECT run_id AS run, COUNT(*) AS n FROM processes ${threadFilter} GROUP BY run_id`
      )
      .all() as { run: number; n: number }[];
    for (const { run, n } of counts) {
      runOf(Number(run)).processes = Number(n);
    }
    const seenPrograms = new Map<number, Set<string>>();
    for (const row of db
      .prepare('SELECT run_id AS run, name FROM executed_files ORDER BY id')
      .iterate() as Iterable<{
      run: number;
      name: string;
    }>) {
      const seen = seenPrograms.get(row.run) ?? new Set<string>();
      seenPrograms.set(row.run, seen);
      if (!seen.has(row.name)) {
        seen.add(row.name);
        runOf(Number(row.run)).programs.push(String(row.name));
      }
    }
    const dirColumn = openedCols.has('is_directory') ? 'is_directory' : '0';
    const seenFiles = new Map<
      number,
      { read: Set<string>; written: Set<string> }
    >();
    for (const row of db
      .prepare(
        `SELECT run_id AS run, name, mode, ${dirColumn} AS dir FROM opened_files ORDER BY id`
      )
      .iterate() as Iterable<{
      run: number;
      name: string;
      mode: number;
      dir: number;
    }>) {
      if (row.dir || (row.mode & MODE_SOCKET) !== 0) {
        continue;
      }
      const seen = seenFiles.get(row.run) ?? {
        read: new Set<string>(),
        written: new Set<string>()
      };
      seenFiles.set(row.run, seen);
      const summary = runOf(Number(row.run));
      if ((row.mode & MODE_READ) !== 0 && !seen.read.has(row.name)) {
        seen.read.add(row.name);
        summary.filesRead.push(String(row.name));
      }
      if ((row.mode & MODE_WRITE) !== 0 && !seen.written.has(row.name)) {
        seen.written.add(row.name);
        summary.filesWritten.push(String(row.name));
      }
    }
    return {
      status: 'ok',
      runs: [...runs.values()].sort((a, b) => a.run - b.run)
    };
  } catch (error) {
    return { status: 'unreadable', reason: errorMessage(error) };
  } finally {
    db?.close();
  }
}
