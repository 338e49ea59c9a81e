/**
 * Summarises `METADATA/trace.sqlite3`: per run, the processes, the programs executed and the files
 * read and written. The database is untrusted input, so:
 * - it is read from a private copy: in memory when small (`TRACE_IN_MEMORY_BYTES`), else a file
 *   opened read-only (which fails on a missing file rather than creating one); node:sqlite
 *   refuses extension loading (`allowExtension` is false by default, and SQL's
 *   `load_extension()` with it), and `trusted_schema` is off;
 * - only real tables are read: the summary refuses a database where a table it queries is a
 *   view (a recursive view never ends), a virtual table, or has generated columns (an expression
 *   per row read), or where any trigger exists;
 * - rows are read in table order (`ORDER BY rowid`: ReproZip's `id` is the rowid, and a table
 *   where it is not is never sorted), temporary storage stays in memory;
 * - every query has a LIMIT (`maxTraceRows`), names are cut at `maxTraceNameBytes`, and the lists
 *   kept are capped, so the work is bounded by the limits whatever the tables hold (node:sqlite
 *   has no progress handler to stop a query midway);
 * - integers are read as BigInt (node:sqlite would throw on one past 2^53) and converted here, so
 *   a huge value skips its row instead of making the whole trace unreadable;
 * - any failure becomes `{ status: 'unreadable' }` rather than an exception.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { errorMessage } from '../describe';
import type { TraceCopy } from './layout';
import { readLimits, type ReadLimits } from './limits';
import type { TraceModel, TraceRunSummary } from './model';

const MODE_READ = 0x01;
const MODE_WRITE = 0x02;
const MODE_SOCKET = 0x20;

/** The tables the summary queries. */
const TABLES = ['processes', 'opened_files', 'executed_files'] as const;

/** Objects read from sqlite_master at most: a trace has a handful. */
const MAX_SCHEMA_OBJECTS = 10_000;

/**
 * The largest trace summarised from memory (`DatabaseSync.deserialize`, from Node.js 24), which
 * spares a small package's read a scratch file to write and remove: about 8 ms of its first
 * `reproserver inspect` (bench/cli/startup.mjs). Larger ones, and all of them on a Node.js
 * without it, are copied to a file. SQLite holds a copy of the bytes while they are read.
 */
export const TRACE_IN_MEMORY_BYTES =
  typeof (DatabaseSync.prototype as { deserialize?: unknown }).deserialize ===
  'function'
    ? 8 * 1024 * 1024
    : 0;

/** `DatabaseSync` with `deserialize` (Node.js 24), which the type definitions may not have yet. */
interface Deserializable {
  deserialize(bytes: Uint8Array): void;
}

/**
 * Opens the trace (a file path, or a copy taken by `readLayout`) as the summary reads it: a file
 * read-only (a missing file is an error, not a new database), no extension loading, no
 * functions from the schema, temporary storage in memory. Exported for its tests.
 */
export function openTrace(source: string | TraceCopy): DatabaseSync {
  const copy = typeof source === 'string' ? { file: source } : source;
  // allowExtension is false by default; said here so that no one turns it on unawares.
  const db =
    'file' in copy
      ? new DatabaseSync(copy.file, { readOnly: true, allowExtension: false })
      : new DatabaseSync(':memory:', { allowExtension: false });
  try {
    if ('bytes' in copy) {
      (db as unknown as Deserializable).deserialize(copy.bytes);
    }
    // Functions in the schema (views, defaults) may only be the harmless built-ins.
    db.exec('PRAGMA trusted_schema = OFF');
    // A GROUP BY's temporary b-tree stays in memory (bounded by the limits), never in a shared
    // temporary folder.
    db.exec('PRAGMA temp_store = MEMORY');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Prepares `sql`, its integers read as BigInt: a value past 2^53 must not throw mid-table. */
function query(db: DatabaseSync, sql: string): StatementSync {
  const statement = db.prepare(sql);
  statement.setReadBigInts(true);
  return statement;
}

function columns(db: DatabaseSync, table: string): Set<string> {
  const rows = query(db, `PRAGMA table_info(${table})`).all() as {
    name: string;
  }[];
  return new Set(rows.map(row => row.name));
}

/**
 * Why the schema cannot be trusted for the summary's queries, or null. Only the catalogue is read:
 * nothing here evaluates a view or an expression.
 */
function schemaProblem(db: DatabaseSync): string | null {
  const objects = query(
    db,
    `SELECT type, name, substr(sql, 1, 64) AS head FROM sqlite_master LIMIT ${MAX_SCHEMA_OBJECTS + 1}`
  ).all() as { type: string; name: string; head: string | null }[];
  if (objects.length > MAX_SCHEMA_OBJECTS) {
    return `the trace database has more than ${MAX_SCHEMA_OBJECTS} schema objects`;
  }
  const trigger = objects.find(object => object.type === 'trigger');
  if (trigger !== undefined) {
    return `the trace database has a trigger (${String(trigger.name).slice(0, 100)})`;
  }
  for (const table of TABLES) {
    // SQLite names are case-insensitive: a view called PROCESSES answers for processes.
    const object = objects.find(o => String(o.name).toLowerCase() === table);
    if (object === undefined) {
      continue; // reported below as a missing column
    }
    if (object.type !== 'table') {
      return `${table} is a ${object.type}, not a table`;
    }
    if (/^\s*create\s+virtual\s/i.test(object.head ?? '')) {
      return `${table} is a virtual table`;
    }
    const generated = (
      query(db, `PRAGMA table_xinfo(${table})`).all() as {
        name: string;
        hidden: bigint;
      }[]
    ).find(column => column.hidden === 2n || column.hidden === 3n);
    if (generated !== undefined) {
      return `${table} has a generated column (${String(generated.name).slice(0, 100)})`;
    }
  }
  return null;
}

/** Collects per-run summaries, within the limits. */
class Summaries {
  readonly runs = new Map<number, TraceRunSummary>();
  private readonly files = new Map<
    number,
    { read: Set<string>; written: Set<string>; programs: Set<string> }
  >();
  /** What was left out, for one warning each. */
  readonly cut = new Set<string>();

  constructor(private readonly limits: ReadLimits) {}

  /** The summary of run `id`, or null when it is not a run id or one run too many. */
  run(id: unknown): TraceRunSummary | null {
    const run = Number(id);
    if (!Number.isSafeInteger(run)) {
      this.cut.add('rows whose run_id is not an integer were skipped');
      return null;
    }
    let summary = this.runs.get(run);
    if (summary === undefined) {
      if (this.runs.size >= this.limits.maxRuns) {
        this.cut.add(
          `runs past the first ${this.limits.maxRuns} (limit maxRuns) were skipped`
        );
        return null;
      }
      summary = {
        run,
        processes: 0,
        programs: [],
        filesRead: [],
        filesWritten: []
      };
      this.runs.set(run, summary);
      this.files.set(run, {
        read: new Set(),
        written: new Set(),
        programs: new Set()
      });
    }
    return summary;
  }

  /** Adds `name` to a list of the run, once, up to `maxTraceFilesPerRun`. */
  add(
    summary: TraceRunSummary,
    list: 'programs' | 'filesRead' | 'filesWritten',
    name: string
  ): void {
    const sets = this.files.get(summary.run)!;
    const seen =
      list === 'programs'
        ? sets.programs
        : list === 'filesRead'
          ? sets.read
          : sets.written;
    if (seen.has(name)) {
      return;
    }
    if (seen.size >= this.limits.maxTraceFilesPerRun) {
      this.cut.add(
        `lists were cut at ${this.limits.maxTraceFilesPerRun} names per run (limit maxTraceFilesPerRun)`
      );
      return;
    }
    seen.add(name);
    summary[list].push(name);
  }

  /** A name from a row, or null when it is not text or longer than the limit. */
  name(value: unknown): string | null {
    if (typeof value !== 'string') {
      return null;
    }
    if (value.length > this.limits.maxTraceNameBytes) {
      this.cut.add(
        `names longer than ${this.limits.maxTraceNameBytes} characters (limit maxTraceNameBytes) were skipped`
      );
      return null;
    }
    return value;
  }
}

/**
 * Reads the trace (a private copy: a file path, or what `readLayout` took). Never throws. What
 * the limits left out is said in `warnings`.
 */
export function summariseTrace(
  source: string | TraceCopy,
  limits: ReadLimits = readLimits(),
  warnings: string[] = []
): TraceModel {
  let db: DatabaseSync | null = null;
  try {
    db = openTrace(source);
    const problem = schemaProblem(db);
    if (problem !== null) {
      return { status: 'unreadable', reason: problem };
    }
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
    const rows = limits.maxTraceRows;
    // One more character than allowed, so a longer name shows as longer without being copied.
    const nameLength = limits.maxTraceNameBytes + 1;
    const summaries = new Summaries(limits);
    const full = (table: string, count: number): void => {
      if (count >= rows) {
        summaries.cut.add(
          `only the first ${rows} rows of ${table} were read (limit maxTraceRows)`
        );
      }
    };
    // Threads are recorded as processes since 0.7; they are not separate programs, so skip them.
    const threadFilter = processCols.has('is_thread')
      ? 'WHERE is_thread = 0'
      : '';
    const counts = query(
      db,
      `SELECT run, COUNT(*) AS n FROM (SELECT run_id AS run FROM processes ${threadFilter} LIMIT ${rows}) GROUP BY run LIMIT ${limits.maxRuns + 1}`
    ).all() as { run: unknown; n: bigint }[];
    let processRows = 0;
    for (const { run, n } of counts) {
      processRows += Number(n);
      const summary = summaries.run(run);
      if (summary !== null) {
        summary.processes = Number(n);
      }
    }
    full('processes', processRows);
    let count = 0;
    for (const row of query(
      db,
      `SELECT run_id AS run, substr(name, 1, ${nameLength}) AS name FROM executed_files ORDER BY rowid LIMIT ${rows}`
    ).iterate() as Iterable<{ run: unknown; name: unknown }>) {
      count++;
      const summary = summaries.run(row.run);
      const name = summaries.name(row.name);
      if (summary !== null && name !== null) {
        summaries.add(summary, 'programs', name);
      }
    }
    full('executed_files', count);
    const dirColumn = openedCols.has('is_directory') ? 'is_directory' : '0';
    count = 0;
    for (const row of query(
      db,
      `SELECT run_id AS run, substr(name, 1, ${nameLength}) AS name, mode, ${dirColumn} AS dir FROM opened_files ORDER BY rowid LIMIT ${rows}`
    ).iterate() as Iterable<{
      run: unknown;
      name: unknown;
      mode: unknown;
      dir: unknown;
    }>) {
      count++;
      // As a number, whatever the column holds (BigInt, text, null): the bits tested are low.
      const mode = Number(row.mode);
      if (row.dir || (mode & MODE_SOCKET) !== 0) {
        continue;
      }
      const summary = summaries.run(row.run);
      const name = summaries.name(row.name);
      if (summary === null || name === null) {
        continue;
      }
      if ((mode & MODE_READ) !== 0) {
        summaries.add(summary, 'filesRead', name);
      }
      if ((mode & MODE_WRITE) !== 0) {
        summaries.add(summary, 'filesWritten', name);
      }
    }
    full('opened_files', count);
    for (const what of summaries.cut) {
      warnings.push(`The trace summary is partial: ${what}.`);
    }
    return {
      status: 'ok',
      runs: [...summaries.runs.values()].sort((a, b) => a.run - b.run)
    };
  } catch (error) {
    return { status: 'unreadable', reason: errorMessage(error) };
  } finally {
    db?.close();
  }
}
