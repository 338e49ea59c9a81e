import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  writeFileSync
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServerConfig } from '../config';

/** Longest token accepted from a handover file, bytes. */
const MAX_TOKEN_BYTES = 4096;

/**
 * The server's token: handed over in a file (read once, then deleted), the configured one, or a
 * fresh random one written to the token file (readable only by the user) so that other local
 * clients such as the CLI can find it.
 *
 * Why a handover file rather than the environment: a process's initial environment stays
 * readable in /proc/PID/environ for as long as it lives, whatever the process later removes, by
 * every process of the same user that may trace it, which is what an experiment under proot is
 * unless Landlock stops it. A token given in `REPROSERVER_TOKEN` still works (a user's own
 * script) and is removed from this process's environment so that nothing it starts inherits it.
 */
export function resolveToken(
  config: ServerConfig,
  env: Record<string, string | undefined> = process.env
): {
  token: string;
  file?: string;
} {
  delete env.REPROSERVER_TOKEN;
  if (config.tokenFrom) {
    return { token: takeHandoverToken(config.tokenFrom) };
  }
  if (config.token) {
    return { token: config.token };
  }
  const token = randomBytes(32).toString('hex');
  const file = config.tokenFile ?? join(config.stateDir, 'token');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, file };
}

/**
 * Reads the token from a file its writer made for this server alone, then deletes it: a regular
 * file (not a link), owned by this user, that nobody else may read.
 */
export function takeHandoverToken(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new Error(
      `Cannot read the token file ${path} (--token-from): ${(error as Error).message}.`
    );
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) {
      throw new Error(`The token file ${path} is not a regular file.`);
    }
    if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
      throw new Error(
        `The token file ${path} belongs to another user (uid ${info.uid}).`
      );
    }
    if ((info.mode & 0o077) !== 0) {
      throw new Error(
        `The token file ${path} may be read by other users (mode ${(info.mode & 0o777).toString(8)}): make it 0600.`
      );
    }
    const buffer = Buffer.alloc(MAX_TOKEN_BYTES + 1);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const token = buffer.subarray(0, length).toString('utf8').trim();
    if (length > MAX_TOKEN_BYTES || token === '' || /\s/.test(token)) {
      throw new Error(
        `The token file ${path} must hold one token of 1 to ${MAX_TOKEN_BYTES} bytes without spaces.`
      );
    }
    return token;
  } finally {
    closeSync(fd);
    // Read once: nothing the server starts later can find it there.
    try {
      unlinkSync(path);
    } catch {
      // Already gone, or in a folder we may not write: the checks above still held.
    }
  }
}
