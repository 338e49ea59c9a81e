/**
 * Removing a tree that an untrusted package or experiment shaped: a run's tree, or a half-made
 * cache folder. It may hold folders without permissions (0000, 0555), links to anything (never
 * followed: links are removed, not their targets), FIFOs and device nodes (unlinked, never
 * opened), and folders nested deeper than any path can name (`mkdir a; cd a` ten thousand times).
 * Only called once no process of the run is left: nothing moves under it.
 *
 * The usual `rm -r` first; when it fails, a walk that reaches every entry through its open parent
 * folder (`/proc/self/fd/N/name`: the path stays short however deep the folder) and gives each
 * folder owner permissions before entering it. It keeps at most `MAX_OPEN` folders open: a folder
 * found deeper is first moved up to the top of the tree, and emptied from there.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  chmod,
  lstat,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  unlink,
  type FileHandle
} from 'node:fs/promises';

/** Folders held open at once while removing. */
const MAX_OPEN = 32;

const DIRECTORY_FLAGS =
  constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Removes `path` and everything below it; a missing `path` is not an error. */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch {
    // A folder without permissions, or too deep for a path: the careful way.
  }
  await removeCarefully(path);
}

/**
 * Awaits a removal step; true when it was done, false when its entry was already gone: the `rm`
 * tried first may still be removing parts of the tree (it gives up on the first error, while its
 * other removals go on), so an entry can vanish under this walk.
 */
async function gone(step: Promise<unknown>): Promise<boolean> {
  try {
    await step;
    return true;
  } catch (error) {
    ignoreGone(error);
    return false;
  }
}

function ignoreGone(error: unknown): null {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
    return null;
  }
  throw error;
}

async function removeCarefully(path: string): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (info === null) {
    return;
  }
  if (!info.isDirectory()) {
    await unlink(path);
    return;
  }
  await gone(chmod(path, 0o700));
  const top = await open(path, DIRECTORY_FLAGS).catch(ignoreGone);
  if (top === null) {
    return;
  }
  const topBase = `/proc/self/fd/${top.fd}`;
  const prefix = `.removing-${randomBytes(4).toString('hex')}-`;
  let moved = 0;
  // Folders moved up to the top, still to empty.
  const queue: string[] = [];
  const empty = async (folder: FileHandle, depth: number): Promise<void> => {
    const base = `/proc/self/fd/${folder.fd}`;
    for (const name of await readdir(base)) {
      const entry = `${base}/${name}`;
      const info = await lstat(entry).catch(() => null);
      if (info === null) {
        continue;
      }
      if (!info.isDirectory()) {
        await gone(unlink(entry));
        continue;
      }
      await gone(chmod(entry, 0o700));
      if (depth >= MAX_OPEN) {
        const up = `${prefix}${moved++}`;
        if (await gone(rename(entry, `${topBase}/${up}`))) {
          queue.push(up);
        }
        continue;
      }
      const child = await open(entry, DIRECTORY_FLAGS).catch(ignoreGone);
      if (child === null) {
        continue;
      }
      try {
        await empty(child, depth + 1);
      } finally {
        await child.close();
      }
      await gone(rmdir(entry));
    }
  };
  try {
    await empty(top, 1);
    while (queue.length > 0) {
      const name = queue.pop()!;
      const folder = await open(`${topBase}/${name}`, DIRECTORY_FLAGS);
      try {
        await empty(folder, 2);
      } finally {
        await folder.close();
      }
      await rmdir(`${topBase}/${name}`);
    }
  } finally {
    await top.close();
  }
  await gone(rmdir(path));
}
