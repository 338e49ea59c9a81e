import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS } from './migrations';
import { PRIVATE_DIR_MODE, ensurePrivateFile } from './private-state';
import { type Database, pragmaValue, transaction } from './sqlite';

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
    migrate(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Applies the pending migrations, all in one transaction: a failure leaves the schema as it
 * was. IMMEDIATE takes the write lock before reading the version, so two processes opening the
 * same database at once do not both migrate.
 */
export function migrate(
  db: Database,
  migrations: readonly string[] = MIGRATIONS
): void {
  transaction(
    db,
    () => {
      const version = Number(pragmaValue(db, 'user_version'));
      if (version > migrations.length) {
        throw new Error(
          `The records database is at schema version ${version}, newer than this ReproServer knows (${migrations.length}): upgrade ReproServer or use another state folder.`
        );
      }
      for (let step = version; step < migrations.length; step++) {
        db.exec(migrations[step]);
      }
      // Integer from our own list, not user input; PRAGMA takes no bound parameters.
      db.exec(`PRAGMA user_version = ${migrations.length}`);
    },
    'IMMEDIATE'
  );
}
