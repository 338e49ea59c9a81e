import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations';
import { PRIVATE_DIR_MODE, ensurePrivateFile } from './private-state';

/**
 * Opens (creating it if needed) the records database and brings its schema up to date. WAL lets
 * readers (API requests) go on while the queue writes; `synchronous = NORMAL` is durable enough
 * under WAL (a power loss may drop the last commits, never corrupts).
 */
export function openDatabase(
  path: string,
  migrations: readonly string[] = MIGRATIONS
): Database.Database {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
    ensurePrivateFile(path);
  }
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Another process (a CLI sharing the state folder) may hold the write lock for a moment.
    db.pragma('busy_timeout = 5000');
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
  db: Database.Database,
  migrations: readonly string[] = MIGRATIONS
): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > migrations.length) {
      throw new Error(
        `The records database is at schema version ${version}, newer than this ReproServer knows (${migrations.length}): upgrade ReproServer or use another state folder.`
      );
    }
    for (let step = version; step < migrations.length; step++) {
      db.exec(migrations[step]);
    }
    // Integer from our own list, not user input; PRAGMA takes no bound parameters.
    db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
