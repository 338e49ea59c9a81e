/**
 * `reproserver users add|remove|list NAME [--file F]`: the users file of a server shared by
 * several users (`users/file.ts`). `add` makes a random token, keeps its sha256 and prints the
 * token once; the file never holds a token. The file is replaced whole (a temporary file renamed
 * over it, mode 0600), so a server reading it never sees half an edit.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { errorMessage } from '../describe';
import {
  UsersFileError,
  checkUserName,
  formatUsers,
  parseUsers,
  tokenSha256,
  type UserEntry
} from '../users/file';
import { readUsersFile } from '../users/registry';
import { argsOrExit, lastValues } from './args';
import { USERS_SPEC, USERS_USAGE } from './usage';

/** Exit codes: 0 done, 1 the file cannot be used (or NAME is unknown), 2 bad usage. */
export async function usersCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(USERS_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const [action, name, ...extra] = parsed.positionals;
  const file =
    lastValues(parsed.flags).file ?? process.env.REPROSERVER_USERS_FILE;
  const wantsName = action === 'add' || action === 'remove';
  if (
    !['add', 'remove', 'list'].includes(action ?? '') ||
    (wantsName ? name === undefined || extra.length > 0 : name !== undefined)
  ) {
    process.stderr.write(
      `reproserver users: give add NAME, remove NAME or list.\n${USERS_USAGE}\n`
    );
    return 2;
  }
  if (!file) {
    process.stderr.write(
      `reproserver users: name the users file with --file F or REPROSERVER_USERS_FILE.\n${USERS_USAGE}\n`
    );
    return 2;
  }
  try {
    const users = existsSync(file) ? readUsersFile(file) : [];
    if (action === 'list') {
      for (const user of users) {
        process.stdout.write(`${user.name}\n`);
      }
      return 0;
    }
    checkUserName(name!);
    if (action === 'remove') {
      const kept = users.filter(user => user.name !== name);
      if (kept.length === users.length) {
        process.stderr.write(
          `reproserver users: ${file} has no user "${name}".\n`
        );
        return 1;
      }
      writeUsers(file, kept);
      process.stderr.write(`Removed "${name}": their token no longer works.\n`);
      return 0;
    }
    const token = randomBytes(32).toString('hex');
    const entry: UserEntry = { name: name!, tokenSha256: tokenSha256(token) };
    const existing = users.findIndex(user => user.name === name);
    const next =
      existing === -1
        ? [...users, entry]
        : users.map((user, i) => (i === existing ? entry : user));
    // Checked as the server will read it (bounds, duplicates) before it is written.
    parseUsers(formatUsers(next), file);
    writeUsers(file, next);
    process.stderr.write(
      `${existing === -1 ? 'Added' : 'Gave a new token to'} "${name}"; the token is shown once, here:\n`
    );
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsersFileError) {
      process.stderr.write(`reproserver users: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`reproserver users: ${errorMessage(error)}\n`);
    return 1;
  }
}

/** Replaces the file whole: a private temporary file beside it, renamed over it. */
function writeUsers(file: string, users: readonly UserEntry[]): void {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, formatUsers(users), { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
}
