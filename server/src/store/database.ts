import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS } from './migrations';
import { PRIVATE_DIR_MODE, ensurePrivateFile } from './private-state';
import { type Database, pragmaValue, transaction } from './sqlite';
import { NewerStateError } from './state-layout';

/**
 * Opens (creating it if needed) the records database and brings its schema up to date. WAL lets
 * readers (API requests) go on while the queue writes; `synchronous = NORMAL` is durable enough
 * under WAL (a power loss may drop the last commits, never corrupts).
 */
export function openDatabase(
  path: string,
  migrations: readonly string[] = MIGRATIONS
): Database {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
    ensurePrivateFile(path);
  }
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    // Another process (a CLI sharing the state folder) may hold the write lock for a moment.
    db.exec('PRAGMA busy_timeout = 5000');
    migrate(db, migrations, `The schema of the records database ${path}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Applies the pending migrations, all in one transaction: a failure leaves the schema and the
 * data as they were. IMMEDIATE takes the write lock before reading the version, so two processes
 * opening the same database at once do not both migrate. A database from a newer ReproServer is
 * refused (NewerStateError) and left unchanged.
 *
 * Foreign keys are off while migrations run, as SQLite's procedure for changing a table asks
 * (create the new table, copy, drop the old one, rename): with them on, dropping `runs` would
 * delete every run's outputs and inputs by cascade. They are checked before the commit instead:
 * a migration that leaves a dangling reference fails and is rolled back.
 */
export function migrate(
  db: Database,
  migrations: readonly string[] = MIGRATIONS,
  what = 'The schema of the records database'
): void {
  const foreignKeys = Number(pragmaValue(db, 'foreign_keys'));
  // Only takes effect outside a transaction, hence here.
  db.exec('PRAGMA foreign_keys = OFF');
  try {
    transaction(
      db,
      () => {
        const version = Number(pragmaValue(db, 'user_version'));
        if (version > migrations.length) {
          throw new NewerStateError(what, version, migrations.length);
        }
        if (version === migrations.length) {
          return;
        }
        for (let step = version; step < migrations.length; step++) {
          db.exec(migrations[step]);
        }
        // Only after migrating: a full pass over the referencing tables, not for every start.
        const dangling = db.prepare('PRAGMA foreign_key_check').all();
        if (dangling.length > 0) {
          throw new Error(
            `Migrating the records database to schema version ${migrations.length} would leave ${dangling.length} rows pointing at rows that do not exist (first: ${JSON.stringify({ ...dangling[0] })}); nothing was changed.`
          );
        }
        // Integer from our own list, not user input; PRAGMA takes no bound parameters.
        db.exec(`PRAGMA user_version = ${migrations.length}`);
      },
      'IMMEDIATE'
    );
  } finally {
    db.exec(`PRAGMA foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
}
