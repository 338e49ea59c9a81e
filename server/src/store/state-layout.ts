/**
 * The layout of the state folder outside the records database (which folders hold what, how
 * files in them are named and written), versioned like the database's schema: the file
 * `<stateDir>/layout-version` holds the layout's number, and `LAYOUT_MIGRATIONS` brings a folder
 * from one layout to the next. A folder written by a newer ReproServer is refused before anything
 * in it is touched, because an older one would misread (or "repair") what it does not know.
 *
 * Layout 1 is the first one: records.sqlite, blobs/ab/cdef…, runs/<id>/events.jsonl, token,
 * and the caches (scratch/, packages/, sandbox/, docker-steps/). A folder without the file was
 * written before the file existed, so it is layout 1.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync
} from 'node:fs';
import { join } from 'node:path';
import { SERVER_VERSION } from '../version';
import { PRIVATE_FILE_MODE } from './private-state';

/** Name of the file, in the state folder, that holds the layout's number. */
export const LAYOUT_FILE = 'layout-version';

/**
 * One step from layout N to N+1. Files cannot be changed in a transaction, so a step must be
 * safe to run again after a crash part-way (the number is only written once it is done), and
 * must never delete what it has not first copied or renamed into its new place.
 */
export interface LayoutMigration {
  /** What the step changes, for readers of this list and in the error when it fails. */
  description: string;
  apply(stateDir: string): void;
}

/**
 * The steps after layout 1, in order: step i brings layout i+1 to i+2. Never edit a released
 * step; append a new one. The previous releases' state fixtures are its test
 * (test/integration/store/state-fixtures.test.ts opens them with the current code).
 */
export const LAYOUT_MIGRATIONS: readonly LayoutMigration[] = [];

/** The layout this ReproServer writes. */
export function currentLayout(
  migrations: readonly LayoutMigration[] = LAYOUT_MIGRATIONS
): number {
  return 1 + migrations.length;
}

/**
 * A state folder (or its records database) written by a newer ReproServer. The message says
 * which versions these are and what the user can do; the folder is left as it was.
 */
export class NewerStateError extends Error {
  constructor(
    /** What is too new, with where it is: "The schema of the records database /x/records.sqlite". */
    what: string,
    readonly found: number,
    readonly known: number
  ) {
    super(
      `${what} is at version ${found}, newer than this ReproServer knows (${known}; this is ReproServer ${SERVER_VERSION}): a newer ReproServer wrote it. Upgrade ReproServer to use it (pip install --upgrade jupyterlab-reproserver, or npm install -g reproserver@latest), or start this one with another state folder (--state DIR or REPROSERVER_STATE_DIR). Its data was left as it was.`
    );
    this.name = 'NewerStateError';
  }
}

/** The layout of the folder, from its file (1 when there is none), refused when too new. */
export function readLayout(
  stateDir: string,
  migrations: readonly LayoutMigration[] = LAYOUT_MIGRATIONS
): number {
  const file = join(stateDir, LAYOUT_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return 1;
    }
    throw error;
  }
  // Refused rather than guessed: a number we cannot read might be a newer one.
  if (!/^[1-9]\d{0,8}\n?$/.test(text)) {
    throw new Error(
      `The state folder's layout file ${file} does not hold a layout number (it holds ${JSON.stringify(text.slice(0, 40))}): it was not written by ReproServer. Restore it, or start with another state folder (--state DIR).`
    );
  }
  const layout = Number(text);
  const known = currentLayout(migrations);
  if (layout > known) {
    throw new NewerStateError(
      `The layout of the state folder ${stateDir} (file ${LAYOUT_FILE})`,
      layout,
      known
    );
  }
  return layout;
}

/**
 * Brings the folder from `from` (what `readLayout` said) to the current layout, one step at a
 * time, writing the number after each so that a crash resumes at the step it stopped in. Also
 * writes the number into a folder that has none yet (a new one, or one from before the file).
 */
export function upgradeLayout(
  stateDir: string,
  from: number,
  migrations: readonly LayoutMigration[] = LAYOUT_MIGRATIONS
): void {
  const known = currentLayout(migrations);
  for (let layout = from; layout < known; layout++) {
    const step = migrations[layout - 1];
    try {
      step.apply(stateDir);
    } catch (error) {
      throw new Error(
        `Bringing the state folder ${stateDir} from layout ${layout} to ${layout + 1} (${step.description}) failed: ${(error as Error).message}. Nothing was removed; the next start tries this step again.`,
        { cause: error }
      );
    }
    writeLayout(stateDir, layout + 1);
  }
  if (from === known && !hasLayoutFile(stateDir)) {
    writeLayout(stateDir, known);
  }
}

function hasLayoutFile(stateDir: string): boolean {
  return existsSync(join(stateDir, LAYOUT_FILE));
}

/** Replaces the layout file atomically (a temporary file, synced, renamed over it). */
function writeLayout(stateDir: string, layout: number): void {
  const file = join(stateDir, LAYOUT_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', PRIVATE_FILE_MODE);
  try {
    writeSync(fd, `${layout}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}
