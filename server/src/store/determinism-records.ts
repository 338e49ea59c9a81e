/**
 * The records of determinism checks (migration 5): which two runs a check made, on which
 * backends, and its result once both runs have ended. Remembered per package and backend(s):
 * the latest check of each is the package's answer.
 */
import type { DeterminismCheck } from '../contract/wire';
import { newRunId } from './run-id';
import {
  type Database,
  type Statement,
  prepare as prepareStatement
} from './sqlite';

/** What a check decided, stored once both runs have ended. */
export type DeterminismResult = Pick<
  DeterminismCheck,
  'state' | 'varying' | 'outputs' | 'reason'
>;

export interface DeterminismRow {
  id: string;
  packageSha256: string;
  /** The backend of each run. */
  backends: string[];
  /** Null once the run was deleted. */
  runs: [string | null, string | null];
  createdAt: number;
  result: DeterminismResult | null;
  /** The user who started it on a shared server (migration 6); null otherwise. */
  owner: string | null;
}

interface DbRow {
  id: string;
  package_sha256: string;
  backends: string;
  run_a: string | null;
  run_b: string | null;
  created_at: number;
  result: string | null;
  owner: string | null;
}

const COLUMNS =
  'id, package_sha256, backends, run_a, run_b, created_at, result, owner';

function toRow(row: DbRow): DeterminismRow {
  return {
    id: row.id,
    packageSha256: row.package_sha256,
    backends: row.backends.split('+'),
    runs: [row.run_a, row.run_b],
    createdAt: row.created_at,
    result: row.result === null ? null : JSON.parse(row.result),
    owner: row.owner ?? null
  };
}

export class DeterminismRecords {
  constructor(
    db: Database,
    private readonly now: () => number = Date.now
  ) {
    const prepare = <P extends unknown[], R = unknown>(sql: string) =>
      prepareStatement<P, R>(db, sql);
    this.statements = {
      insert: prepare<
        [string, string, string, string, string, number, string | null]
      >(
        `INSERT INTO determinism_checks (id, package_sha256, backends, run_a, run_b, created_at, owner)
         VALUES (?, ?, ?, ?, ?, ?, ?)`
      ),
      get: prepare<[string], DbRow>(
        `SELECT ${COLUMNS} FROM determinism_checks WHERE id = ?`
      ),
      // The latest check of each backend (pair) of the package (by one user: ?2 not null).
      latest: prepare<[string, string | null], DbRow>(
        `SELECT ${COLUMNS} FROM determinism_checks WHERE seq IN (
           SELECT max(seq) FROM determinism_checks
           WHERE package_sha256 = ?1 AND (?2 IS NULL OR owner = ?2) GROUP BY backends)
         ORDER BY seq DESC`
      ),
      decide: prepare<[string, string]>(
        'UPDATE determinism_checks SET result = ? WHERE id = ? AND result IS NULL'
      )
    };
  }

  create(check: {
    packageSha256: string;
    backends: string[];
    runs: [string, string];
    owner?: string;
  }): DeterminismRow {
    const id = newRunId();
    this.statements.insert.run(
      id,
      check.packageSha256,
      check.backends.join('+'),
      check.runs[0],
      check.runs[1],
      this.now(),
      check.owner ?? null
    );
    return this.get(id)!;
  }

  get(id: string): DeterminismRow | undefined {
    const row = this.statements.get.get(id);
    return row && toRow(row);
  }

  /** The latest check of the package on each backend (pair), newest first; of one user if given. */
  latest(packageSha256: string, owner?: string): DeterminismRow[] {
    return this.statements.latest.all(packageSha256, owner ?? null).map(toRow);
  }

  /** Writes the result once; a second call (a race of two readers) changes nothing. */
  decide(id: string, result: DeterminismResult): void {
    this.statements.decide.run(JSON.stringify(result), id);
  }

  private readonly statements: {
    insert: Statement<
      [string, string, string, string, string, number, string | null],
      unknown
    >;
    get: Statement<[string], DbRow>;
    latest: Statement<[string, string | null], DbRow>;
    decide: Statement<[string, string], unknown>;
  };
}
