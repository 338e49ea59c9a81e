/**
 * `reproserver fetch`'s deduplication: a file of the destination folder with the sha256 of the
 * package fetched, so that fetching the same package twice writes no second copy (the API's
 * imports compare with the server's registered packages instead).
 *
 * Only regular files of the folder itself whose size is the package's are hashed (streamed), at
 * most `MAX_ENTRIES` entries looked at; each file's hash is remembered for the command's life, so
 * the check before and after the download hash a file once.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** Entries of the folder looked at, at most. */
export const MAX_ENTRIES = 10_000;

export function sameFileFinder(
  folder: string
): (sha256: string, size?: number) => Promise<string | undefined> {
  const hashes = new Map<string, string>();
  return async (sha256, size) => {
    if (size === undefined) {
      // Without a size every file would need hashing; the check after the download has one.
      return undefined;
    }
    let seen = 0;
    // The loop closes the folder when it ends, returns or throws.
    for await (const entry of await opendir(folder)) {
      if (++seen > MAX_ENTRIES) {
        return undefined;
      }
      // Hidden files include the download's own temporary file.
      if (!entry.isFile() || entry.name.startsWith('.')) {
        continue;
      }
      const path = join(folder, entry.name);
      const info = await lstat(path).catch(() => undefined);
      if (!info?.isFile() || info.size !== size) {
        continue;
      }
      const key = `${path}\0${info.ino}\0${info.mtimeMs}`;
      let hash = hashes.get(key);
      if (hash === undefined) {
        hash = await hashFile(path).catch(() => '');
        hashes.set(key, hash);
      }
      if (hash === sha256) {
        return path;
      }
    }
    return undefined;
  };
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
