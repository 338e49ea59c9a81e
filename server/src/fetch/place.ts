/**
 * Gives a downloaded file its name in the destination folder without ever replacing a file that
 * is there: the name is reserved by creating it exclusively (`name.rpz`, else `name-1.rpz`, …),
 * then the temporary file is renamed over the reservation, atomically.
 */
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '../errors';

const MAX_TRIES = 1000;

/** Moves `temp` to a free name in `folder` built from `name`; returns the path. */
export async function placeFile(
  temp: string,
  folder: string,
  name: string
): Promise<string> {
  const dot = name.toLowerCase().endsWith('.rpz')
    ? name.length - 4
    : name.length;
  const stem = name.slice(0, dot);
  const extension = name.slice(dot);
  for (let i = 0; i < MAX_TRIES; i++) {
    const target = join(folder, i === 0 ? name : `${stem}-${i}${extension}`);
    let reserved;
    try {
      reserved = await open(target, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        continue;
      }
      throw error;
    }
    await reserved.close();
    await rename(temp, target);
    return target;
  }
  throw new DomainError(
    'download-failed',
    `The folder already holds ${MAX_TRIES} files named like ${name}; choose another folder.`
  );
}
