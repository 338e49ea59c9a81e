/**
 * The users a shared server knows (`REPROSERVER_USERS_FILE`, format in `users/file.ts`): who a
 * request's token belongs to. The file is read at start (a bad file stops the start with its
 * sentence), then again when it changes (polled, cheaply: one stat every 2 s) or on SIGHUP; a
 * bad file read later is reported and the users known before are kept, so that a typo in an edit
 * does not lock the whole class out.
 *
 * A token is never compared with anything: it is hashed, and the hash looked up. The lookup's time
 * cannot tell an attacker which bytes of a token are right, since they do not choose the hash.
 */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  type Stats
} from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  USERS_FILE_MAX_BYTES,
  UsersFileError,
  parseUsers,
  tokenSha256,
  type UserEntry
} from './file';

/** How often the file's metadata is looked at for a change, milliseconds. */
const POLL_MS = 2000;

export class UserRegistry {
  private constructor(readonly file: string) {}

  /** Reads the users file; throws `UsersFileError` when it cannot be used. */
  static load(file: string): UserRegistry {
    const registry = new UserRegistry(file);
    registry._set(readUsersFileWithStats(file));
    return registry;
  }

  /** The user whose token this is, or undefined. */
  identify(token: string): string | undefined {
    return this._byHash.get(tokenSha256(token));
  }

  /** How many users the file names now. */
  get size(): number {
    return this._byHash.size;
  }

  /**
   * Reads the file again. A file that cannot be used now keeps the users known before: the error
   * is answered (and logged by the caller), nothing else changes.
   */
  reload(): UsersFileError | undefined {
    try {
      this._set(readUsersFileWithStats(this.file));
      return undefined;
    } catch (error) {
      if (error instanceof UsersFileError) {
        return error;
      }
      throw error;
    }
  }

  /**
   * Reloads whenever the file's size, times or inode differ from the file last read (looked at
   * every `intervalMs`); `report` hears each outcome. The timer does not keep the process alive.
   */
  watch(
    report: (error: UsersFileError | undefined) => void,
    intervalMs = POLL_MS
  ): void {
    this.close();
    let looking = false;
    this._timer = setInterval(() => {
      if (looking) {
        return;
      }
      looking = true;
      void stat(this.file)
        .then(
          current => {
            if (!sameVersion(current, this._read)) {
              // Remembered even when it cannot be used: one report per edit, not one a poll.
              this._read = current;
              report(this.reload());
            }
          },
          () => {
            // Gone or unreadable for now (an editor replacing it): the users known stay.
          }
        )
        .finally(() => (looking = false));
    }, intervalMs);
    this._timer.unref();
  }

  close(): void {
    clearInterval(this._timer);
    this._timer = undefined;
  }

  private _set(read: { users: UserEntry[]; stats: Stats }): void {
    this._byHash = new Map(read.users.map(u => [u.tokenSha256, u.name]));
    this._read = read.stats;
  }

  private _byHash = new Map<string, string>();
  /** The metadata of the file as last read. */
  private _read?: Stats;
  private _timer?: NodeJS.Timeout;
}

function sameVersion(a: Stats, b: Stats | undefined): boolean {
  return (
    b !== undefined &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino &&
    a.size === b.size
  );
}

/** Reads at most the bound (a regular file, not a link), then parses. */
export function readUsersFile(file: string): UserEntry[] {
  return readUsersFileWithStats(file).users;
}

function readUsersFileWithStats(file: string): {
  users: UserEntry[];
  stats: Stats;
} {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new UsersFileError(
      `Cannot read the users file ${file}: ${(error as Error).message}.`
    );
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) {
      throw new UsersFileError(`The users file ${file} is not a regular file.`);
    }
    if (info.size > USERS_FILE_MAX_BYTES) {
      throw new UsersFileError(
        `The users file ${file} is ${info.size} bytes, more than the ${USERS_FILE_MAX_BYTES} a users file may have.`
      );
    }
    const buffer = Buffer.alloc(info.size);
    const length = info.size === 0 ? 0 : readSync(fd, buffer, 0, info.size, 0);
    return {
      users: parseUsers(buffer.subarray(0, length).toString('utf8'), file),
      stats: info
    };
  } finally {
    closeSync(fd);
  }
}
