/**
 * Which variant rows of sweeps changed, counted in revisions: what lets a client that polls a
 * sweep (the panel, every 2 s while runs are unended) ask only for the rows changed since its
 * last answer, instead of the whole sweep (10,000 rows: ~1 MiB of JSON and ~100 ms of the event
 * loop per call).
 *
 * Kept by triggers on the tables every write goes through — a variant linked to its run; its
 * run's status, times, failed step or steps; its metric values; its run deleted — so no writer
 * has to remember to tell. The triggers and their tables are TEMP: they belong to this database
 * connection, because a revision means something only to the clients of this process. Each
 * connection draws an epoch at random, part of every revision it gives (`<epoch>.<n>`): a
 * revision of another process (a restarted server) is not this one's, and its client is answered
 * every row. One row per variant changed in this process's life, replaced in place, in SQLite's
 * temporary file (node:sqlite keeps TEMP tables on disk), not in the heap.
 *
 * The triggers also keep each sweep's counts by status once asked for (`counts`): the counts
 * come with every answer, and counting 10,000 rows is most of what a poll would cost.
 *
 * Writes of another process to the same database fire no trigger here. None reaches a sweep's
 * rows: the server that made a sweep runs, ends, deletes its runs and extracts their metrics.
 */
import { randomBytes } from 'node:crypto';
import type { RunStatus } from '../runs/events';
import { type Database, type Statement, prepare } from './sqlite';
import {
  VARIANT_COLUMNS,
  variantFromRow,
  type SweepVariantRecord,
  type VariantDbRow
} from './sweep-records';

/** Marks the rows of the variants whose run is `run` (an SQL expression) changed. */
const touch = (run: string) => `
    UPDATE sweep_revision SET n = n + 1;
    INSERT OR REPLACE INTO sweep_row_changes (sweep_id, position, revision)
      SELECT sweep_id, position, (SELECT n FROM sweep_revision)
      FROM sweep_runs WHERE run_id = ${run};`;

/** The status a sweep's counts file a run's under: '' once the run was deleted. */
const counted = (status: string) => `coalesce(${status}, '')`;

/** Adds `delta` to sweep `sweep`'s count of `status`, if its counts are kept (`counts`). */
const count = (sweep: string, status: string, delta: 1 | -1) => `
    INSERT INTO sweep_counts (sweep_id, status, n)
      SELECT ${sweep}, ${counted(status)}, ${delta}
      WHERE ${sweep} IN (SELECT sweep_id FROM sweep_counted)
      ON CONFLICT (sweep_id, status) DO UPDATE SET n = n + ${delta};`;

const sweepOf = (run: string) =>
  `(SELECT sweep_id FROM sweep_runs WHERE run_id = ${run})`;

const TRACKING = `
  CREATE TEMP TABLE IF NOT EXISTS sweep_revision (epoch TEXT NOT NULL, n INTEGER NOT NULL);
  CREATE TEMP TABLE IF NOT EXISTS sweep_row_changes (
    sweep_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, position)
  );
  CREATE INDEX IF NOT EXISTS temp.sweep_row_changes_revision
    ON sweep_row_changes (sweep_id, revision);

  -- Each sweep's variants by their run's status, kept from its first count on.
  CREATE TEMP TABLE IF NOT EXISTS sweep_counted (sweep_id TEXT PRIMARY KEY);
  CREATE TEMP TABLE IF NOT EXISTS sweep_counts (
    sweep_id TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, status)
  );

  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_linked AFTER INSERT ON main.sweep_runs
  BEGIN
    UPDATE sweep_revision SET n = n + 1;
    INSERT OR REPLACE INTO sweep_row_changes (sweep_id, position, revision)
      VALUES (NEW.sweep_id, NEW.position, (SELECT n FROM sweep_revision));
    ${count('NEW.sweep_id', '(SELECT status FROM runs WHERE id = NEW.run_id)', 1)}
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_unlinked AFTER DELETE ON main.sweep_runs
  BEGIN
    ${count('OLD.sweep_id', '(SELECT status FROM runs WHERE id = OLD.run_id)', -1)}
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_status AFTER UPDATE OF status ON main.runs
  WHEN OLD.status IS NOT NEW.status
    AND EXISTS (SELECT 1 FROM sweep_runs WHERE run_id = NEW.id)
  BEGIN
    ${count(sweepOf('NEW.id'), 'OLD.status', -1)}
    ${count(sweepOf('NEW.id'), 'NEW.status', 1)}
  END;
  -- Not log_size, container_id…: only what a row shows. Runs of no sweep leave no trace.
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_run_changed
  AFTER UPDATE OF status, started_at, ended_at, failed_step, steps ON main.runs
  WHEN EXISTS (SELECT 1 FROM sweep_runs WHERE run_id = NEW.id)
  BEGIN ${touch('NEW.id')}
  END;
  -- Before the delete: the variant's row still names the run (the delete then unlinks it).
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_run_deleted BEFORE DELETE ON main.runs
  WHEN EXISTS (SELECT 1 FROM sweep_runs WHERE run_id = OLD.id)
  BEGIN ${touch('OLD.id')}
    ${count(sweepOf('OLD.id'), 'OLD.status', -1)}
    ${count(sweepOf('OLD.id'), 'NULL', 1)}
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_metric_added AFTER INSERT ON main.run_metrics
  WHEN EXISTS (SELECT 1 FROM sweep_runs WHERE run_id = NEW.run_id)
  BEGIN ${touch('NEW.run_id')}
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_metric_changed AFTER UPDATE ON main.run_metrics
  WHEN EXISTS (SELECT 1 FROM sweep_runs WHERE run_id = NEW.run_id)
  BEGIN ${touch('NEW.run_id')}
  END;
  CREATE TEMP TRIGGER IF NOT EXISTS sweep_row_metric_removed AFTER DELETE ON main.run_metrics
  WHEN EXISTS (SELECT 1 FROM sweep_runs WHERE run_id = OLD.run_id)
  BEGIN ${touch('OLD.run_id')}
  END;
`;

/** What a revision looks like: the connection's epoch and a count (bounded before parsing). */
const REVISION = /^([0-9a-f]{16})\.(\d{1,15})$/;

export class SweepChanges {
  /** Installs the tracking on the connection, once (a second instance shares it). */
  constructor(db: Database) {
    db.exec(TRACKING);
    db.prepare(
      'INSERT INTO sweep_revision (epoch, n) SELECT ?, 0 WHERE NOT EXISTS (SELECT 1 FROM sweep_revision)'
    ).run(randomBytes(8).toString('hex'));
    this.statements = {
      revision: prepare<[], { epoch: string; n: number }>(
        db,
        'SELECT epoch, n FROM sweep_revision'
      ),
      isCounted: prepare<[string], { sweep_id: string }>(
        db,
        'SELECT sweep_id FROM sweep_counted WHERE sweep_id = ?'
      ),
      countNow: prepare<[string], { status: string | null; n: number }>(
        db,
        `SELECT r.status AS status, count(*) AS n
         FROM sweep_runs s LEFT JOIN runs r ON r.id = s.run_id
         WHERE s.sweep_id = ? GROUP BY r.status`
      ),
      putCount: prepare<[string, string, number]>(
        db,
        'INSERT OR REPLACE INTO sweep_counts (sweep_id, status, n) VALUES (?, ?, ?)'
      ),
      markCounted: prepare<[string]>(
        db,
        'INSERT OR IGNORE INTO sweep_counted (sweep_id) VALUES (?)'
      ),
      counts: prepare<[string], { status: string; n: number }>(
        db,
        'SELECT status, n FROM sweep_counts WHERE sweep_id = ? AND n > 0'
      ),
      since: prepare<[string, number], VariantDbRow>(
        db,
        `SELECT ${VARIANT_COLUMNS}
         FROM sweep_row_changes c
           JOIN sweep_runs s ON s.sweep_id = c.sweep_id AND s.position = c.position
           LEFT JOIN runs r ON r.id = s.run_id
         WHERE c.sweep_id = ? AND c.revision > ? ORDER BY s.position`
      )
    };
  }

  /** Where every sweep's rows stand now, as a client gives it back (`?since=`). */
  revision(): string {
    const { epoch, n } = this.statements.revision.get()!;
    return `${epoch}.${n}`;
  }

  /**
   * The variants of sweep `id` created or changed after `revision`, in order; undefined when
   * `revision` is not one this connection gave (another process's, or not a revision at all):
   * the caller answers every row then.
   */
  since(id: string, revision: string): SweepVariantRecord[] | undefined {
    const match = REVISION.exec(revision);
    const now = this.statements.revision.get()!;
    if (!match || match[1] !== now.epoch || Number(match[2]) > now.n) {
      return undefined;
    }
    return this.statements.since.all(id, Number(match[2])).map(variantFromRow);
  }

  /**
   * The sweep's variants by their run's status (null: the run was deleted), as
   * `SweepRecords.counts` answers them; counted once, then kept by the triggers, so that a poll
   * of a sweep of 10,000 variants reads a few rows, not 10,000. (Synchronous: no write of this
   * connection comes between the count and its keeping.)
   */
  counts(id: string): Map<RunStatus | null, number> {
    if (this.statements.isCounted.get(id) === undefined) {
      for (const { status, n } of this.statements.countNow.all(id)) {
        this.statements.putCount.run(id, status ?? '', n);
      }
      this.statements.markCounted.run(id);
    }
    return new Map(
      this.statements.counts
        .all(id)
        .map(({ status, n }) => [
          status === '' ? null : (status as RunStatus),
          n
        ])
    );
  }

  private readonly statements: {
    isCounted: Statement<[string], { sweep_id: string }>;
    countNow: Statement<[string], { status: string | null; n: number }>;
    putCount: Statement<[string, string, number], unknown>;
    markCounted: Statement<[string], unknown>;
    counts: Statement<[string], { status: string; n: number }>;
    revision: Statement<[], { epoch: string; n: number }>;
    since: Statement<[string, number], VariantDbRow>;
  };
}
