/**
 * The state folder holds every run's log, inputs and outputs, the records and the token: it is
 * private to the user the server runs as, from its first start. A folder left readable by an
 * earlier version is closed again at start; one that belongs to someone else, or that is a link,
 * is refused rather than used.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** Mode of the state folder and of every folder the server creates in it. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of the files the server writes there (records, logs, token). */
export const PRIVATE_FILE_MODE = 0o600;

export class StateDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateDirError';
  }
}

/**
 * Creates the state folder (and its missing parents, private too) or checks the existing one:
 * a real folder owned by this user, whose mode is then set to 0700. Synchronous: it runs once,
 * before the server serves anything.
 */
export function preparePrivateStateDir(stateDir: string): void {
  mkdirSync(dirname(stateDir), { recursive: true, mode: PRIVATE_DIR_MODE });
  try {
    mkdirSync(stateDir, { mode: PRIVATE_DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
  }
  const info = lstatSync(stateDir);
  if (!info.isDirectory()) {
    throw new StateDirError(
      `The state folder ${stateDir} is not a folder${info.isSymbolicLink() ? ' (it is a symbolic link)' : ''}; remove it or choose another one with --state.`
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new StateDirError(
      `The state folder ${stateDir} belongs to user ${info.uid}, not to this user (${uid}); choose another one with --state.`
    );
  }
  if ((info.mode & 0o777) !== PRIVATE_DIR_MODE) {
    chmodSync(stateDir, PRIVATE_DIR_MODE);
  }
}

/**
 * Makes sure a file the server keeps in the state folder exists with mode 0600 before a library
 * opens it: SQLite gives its journal and WAL files the mode of the database file.
 */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  const info = lstatSync(path);
  if ((info.mode & 0o777) !== PRIVATE_FILE_MODE) {
    chmodSync(path, PRIVATE_FILE_MODE);
  }
}
