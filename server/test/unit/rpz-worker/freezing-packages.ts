/**
 * Packages that froze the first version of the reader (security review of 2026-11-30), kept here
 * because the reader processes must survive them whatever the parsers do: with the parsers fixed
 * they are refused at once; without, the reader's deadline refuses them.
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  buildRpz,
  paxHeader,
  rawMember,
  rawTar
} from '../../helpers/synthetic-rpz';

/** A 476-byte-class package: `METADATA/version` with a pax `size=1.5`, in a gzip outer tar. */
export function paxFractionalSize(): Buffer {
  return gzipSync(
    rawTar([
      paxHeader([['size', '1.5']]),
      rawMember({ name: 'METADATA/version' }, 'REPROZIP VERSION 2\n')
    ])
  );
}

/** A trace database whose `processes` is a VIEW over an endless recursive query. */
export function recursiveViewTrace(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rpz-view-'));
  try {
    const path = join(dir, 'trace.sqlite3');
    const db = new DatabaseSync(path);
    db.exec(`
      CREATE VIEW processes AS
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
        SELECT x AS id, 0 AS run_id, NULL AS parent, x AS timestamp, 0 AS is_thread,
          0 AS exitcode FROM c;
      CREATE TABLE opened_files(id INTEGER PRIMARY KEY, run_id INTEGER, name TEXT,
        timestamp INTEGER, mode INTEGER, is_directory BOOLEAN, process INTEGER);
      CREATE TABLE executed_files(id INTEGER PRIMARY KEY, name TEXT, run_id INTEGER,
        timestamp INTEGER, process INTEGER, argv TEXT, envp TEXT, workingdir TEXT);
    `);
    db.close();
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A valid package whose trace database is `recursiveViewTrace()`. */
export function recursiveViewPackage(): Promise<Buffer> {
  return buildRpz({ trace: recursiveViewTrace() });
}
