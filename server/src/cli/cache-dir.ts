/**
 * The command line's cache folder, and the one rule every cache under it follows: a folder is used
 * only when it is a real folder of this user's, closed to others. What a cache holds is trusted on
 * the next run (a package's model, compiled code), so a folder that someone else could write to is
 * never read from nor written to.
 *
 * Loads only `node:fs`, `node:os` and `node:path`: it is on the start-up path of every command.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `REPROSERVER_CACHE_DIR`, else `reproserver` in the XDG cache folder. */
export function cacheBaseDir(env: NodeJS.ProcessEnv): string {
  return (
    env.REPROSERVER_CACHE_DIR ||
    join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'reproserver')
  );
}

/** `path` is a folder (not a link to one) owned by this user and closed to others. */
export function isPrivateDir(path: string): boolean {
  const facts = lstatSync(path, { throwIfNoEntry: false });
  return (
    facts !== undefined &&
    facts.isDirectory() &&
    (facts.mode & 0o077) === 0 &&
    (process.getuid === undefined || facts.uid === process.getuid())
  );
}

/**
 * Makes `path` (mode 0700, parents included) when missing, and says whether it is private.
 * Never throws: a cache that cannot be made is a cache not used.
 */
export function ensurePrivateDir(path: string): boolean {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return isPrivateDir(path);
  } catch {
    return false;
  }
}
