/**
 * The little that the records database needs on top of Node's built-in `node:sqlite` (no native
 * module to build, so the server runs on any Node.js from 22.13 on): typed statements that
 * return plain objects, transactions, and reading a pragma. Only APIs present since 22.13 are
 * used (the engines field of server/package.json).
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';

export type Database = DatabaseSync;

/** Named parameters, bound by their bare names (`@name` in SQL, `name` here). */
export type NamedParams = Record<string, SQLInputValue>;

/** A prepared statement with the types of its parameters (a tuple) and of its rows. */
export interface Statement<P extends unknown[], R> {
  run(...params: P): { changes: number | bigint };
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

type Call = (...params: unknown[]) => unknown;

/**
 * Prepares `sql`. Rows come back as ordinary objects: node:sqlite gives null-prototype ones,
 * which callers (and JSON, and tests comparing with literals) should not have to know about.
 */
export function prepare<P extends unknown[] = [], R = unknown>(
  db: Database,
  sql: string
): Statement<P, R> {
  const statement: StatementSync = db.prepare(sql);
  const run = statement.run.bind(statement) as Call;
  const get = statement.get.bind(statement) as Call;
  const all = statement.all.bind(statement) as Call;
  return {
    run: (...params) => run(...params) as { changes: number | bigint },
    get: (...params) => {
      const row = get(...params) as object | undefined;
      return row === undefined ? undefined : ({ ...row } as R);
    },
    all: (...params) =>
      (all(...params) as object[]).map(row => ({ ...row }) as R)
  };
}

/** When a transaction takes the write lock: at its first write, or at once. */
export type TransactionMode = 'DEFERRED' | 'IMMEDIATE';

/**
 * Runs `body` in a transaction: committed when it returns, rolled back when it throws. `body`
 * must be synchronous and must not open another transaction (SQLite does not nest them; none of
 * our callers does).
 */
export function transaction<T>(
  db: Database,
  body: () => T,
  mode: TransactionMode = 'DEFERRED'
): T {
  db.exec(`BEGIN ${mode}`);
  let result: T;
  try {
    result = body();
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
  try {
    db.exec('COMMIT');
  } catch (error) {
    // A COMMIT that fails (busy past the timeout) leaves the transaction open: end it, so the
    // connection does not stay in it for every later statement.
    try {
      db.exec('ROLLBACK');
    } catch {
      // Already ended by SQLite.
    }
    throw error;
  }
  return result;
}

/** The value of a pragma that answers with one value (`journal_mode`, `user_version`…). */
export function pragmaValue(db: Database, name: string): unknown {
  const row = db.prepare(`PRAGMA ${name}`).get();
  return row === undefined ? undefined : Object.values(row)[0];
}
