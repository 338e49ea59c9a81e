/**
 * The users file of a server shared by several users (`REPROSERVER_USERS_FILE`): one user a line,
 * `NAME:SHA256`, where SHA256 is the hex sha256 of that user's token (never the token itself, so
 * that the file gives nobody a way in). Blank lines and lines starting with `#` are ignored.
 *
 *     # made by `reproserver users add`
 *     alice:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
 *
 * Pure: parsing and writing the text; reading the file and following its changes is
 * `users/registry.ts`. Every count and size is bounded: the file comes from an administrator, but
 * a mistake in it must stop the start with a sentence, not exhaust the server.
 */
import { createHash } from 'node:crypto';

/** Largest users file read, bytes (10,000 users of the longest name fit in 1 MiB). */
export const USERS_FILE_MAX_BYTES = 1024 * 1024;
/** Most users one file may name. */
export const USERS_MAX = 10_000;
/** A user name: as JupyterHub's usual names, without `:` (the separator) or spaces. */
export const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}$/;
const HASH = /^[0-9a-f]{64}$/;

export interface UserEntry {
  name: string;
  /** Hex sha256 of the user's token. */
  tokenSha256: string;
}

/** A users file that cannot be used; the message names the file, the line and what to do. */
export class UsersFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsersFileError';
  }
}

/** The hex sha256 of a token, as the users file keeps it. */
export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Checks a name given to `reproserver users add`, or read from the file. */
export function checkUserName(name: string, where = ''): string {
  if (!USER_NAME.test(name)) {
    throw new UsersFileError(
      `${where}"${name.slice(0, 80)}" is not a user name: 1 to 64 letters, digits and _ . @ + - (not starting with . @ + -).`
    );
  }
  return name;
}

/** Parses a users file's text; `file` names it in messages. Duplicates are refused. */
export function parseUsers(text: string, file: string): UserEntry[] {
  if (Buffer.byteLength(text) > USERS_FILE_MAX_BYTES) {
    throw new UsersFileError(
      `The users file ${file} is larger than ${USERS_FILE_MAX_BYTES} bytes; it holds at most ${USERS_MAX} users.`
    );
  }
  const users: UserEntry[] = [];
  const names = new Set<string>();
  const hashes = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const where = `${file}, line ${i + 1}: `;
    const colon = line.indexOf(':');
    if (colon === -1) {
      throw new UsersFileError(
        `${where}write each user as NAME:SHA256 (the sha256 of the user's token, as "reproserver users add" writes it).`
      );
    }
    const name = checkUserName(line.slice(0, colon), where);
    const hash = line.slice(colon + 1).trim();
    if (!HASH.test(hash)) {
      throw new UsersFileError(
        `${where}the token hash of "${name}" is not 64 lowercase hex digits (a sha256).`
      );
    }
    if (names.has(name)) {
      throw new UsersFileError(`${where}the user "${name}" is named twice.`);
    }
    if (hashes.has(hash)) {
      throw new UsersFileError(
        `${where}"${name}" has the same token as an earlier user; give each user a token of their own.`
      );
    }
    if (users.length === USERS_MAX) {
      throw new UsersFileError(
        `The users file ${file} names more than ${USERS_MAX} users, the most a server takes.`
      );
    }
    names.add(name);
    hashes.add(hash);
    users.push({ name, tokenSha256: hash });
  }
  return users;
}

/** The text of a users file holding these users, in this order. */
export function formatUsers(users: readonly UserEntry[]): string {
  return (
    '# ReproServer users: NAME:SHA256 of the token (made by "reproserver users add").\n' +
    users.map(u => `${u.name}:${u.tokenSha256}\n`).join('')
  );
}
