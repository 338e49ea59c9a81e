/**
 * Writes a package's normalized entry stream into a directory on the host: the root filesystem a
 * sandboxed run starts from. Never as root, never through a link:
 * - every file is created with O_CREAT|O_EXCL|O_NOFOLLOW (a name that already exists is an error,
 *   so nothing is ever written through an existing file or symlink);
 * - symlinks are created as they are, targets verbatim (absolute targets resolve inside the
 *   sandbox, whose root this directory becomes), and never followed by the extractor;
 * - hard links point at an earlier regular file of the package (`link()` does not follow links);
 * - no entry may sit below a symlink: the reader refuses such packages already, and this checks
 *   again against the symlinks it created itself;
 * - directories are created owner-writable and get their recorded mode and mtime last, deepest
 *   first (a 0555 directory must still receive its files).
 * Ownership cannot be restored without privileges: files belong to whoever extracts. The recorded
 * owners are returned (the most common owner and the exceptions) so the backend can report them.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync
} from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { FsEntry } from '../rpz';

/** Recorded owners of the package's entries: one common owner, and the paths that differ. */
export interface Owners {
  /** `[uid, gid]` most entries have. */
  common: [number, number];
  /** Root-relative path → `[uid, gid]`, for entries whose owner is not `common`. */
  others: Record<string, [number, number]>;
}

export interface ExtractSummary {
  entries: number;
  /** Bytes of regular file content written. */
  bytes: number;
  owners: Owners;
}

export interface ExtractOptions {
  /** Stop (with an error) when free space on the target filesystem falls below this. */
  minFreeBytes?: number;
  signal?: AbortSignal;
}

/** Extraction stopped because the disk is (nearly) full. */
export class DiskFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskFullError';
  }
}

const CREATE_FLAGS =
  constants.O_WRONLY |
  constants.O_CREAT |
  constants.O_EXCL |
  constants.O_NOFOLLOW;
/** Check free space again after this many bytes written. */
const SPACE_CHECK_BYTES = 64 * 1024 * 1024;

/** Extracts `entries` into `root` (an existing, empty directory). */
export async function extractEntries(
  entries: AsyncIterable<FsEntry>,
  root: string,
  options: ExtractOptions = {}
): Promise<ExtractSummary> {
  const umask = process.umask();
  const symlinks = new Set<string>();
  const directories: { path: string; mode: number; mtime: number }[] = [];
  const created = new Set<string>(['']);
  const ownerCounts = new Map<string, number>();
  const owners = new Map<string, [number, number]>();
  let bytes = 0;
  let count = 0;
  let sinceCheck = 0;

  const ensureParent = (path: string): void => {
    const parent = posix.dirname(path);
    const parentKey = parent === '.' ? '' : parent;
    if (created.has(parentKey)) {
      return;
    }
    // Parents missing from the stream are created with default permissions.
    mkdirSync(join(root, parentKey), { recursive: true, mode: 0o755 });
    let p = parentKey;
    while (p !== '' && !created.has(p)) {
      created.add(p);
      p = posix.dirname(p) === '.' ? '' : posix.dirname(p);
    }
  };
  const checkNotThroughLink = (path: string): void => {
    let p = posix.dirname(path);
    while (p !== '.' && p !== '') {
      if (symlinks.has(p)) {
        throw new Error(
          `The package entry /${path} lies below the symlink /${p}; it is refused.`
        );
      }
      p = posix.dirname(p);
    }
  };

  for await (const entry of entries) {
    if (options.signal?.aborted) {
      throw new Error('The extraction was aborted.');
    }
    count++;
    const target = join(root, entry.path);
    checkNotThroughLink(entry.path);
    ensureParent(entry.path);
    const owner = `${entry.uid}:${entry.gid}`;
    ownerCounts.set(owner, (ownerCounts.get(owner) ?? 0) + 1);
    owners.set(entry.path, [entry.uid, entry.gid]);
    switch (entry.type) {
      case 'directory':
        if (!created.has(entry.path)) {
          mkdirSync(target, { mode: 0o700 });
          created.add(entry.path);
        }
        directories.push({
          path: target,
          mode: entry.mode,
          mtime: entry.mtime
        });
        break;
      case 'file': {
        const fd = openSync(target, CREATE_FLAGS, entry.mode & 0o777);
        try {
          for await (const chunk of entry.body) {
            const buffer = chunk as Buffer;
            let offset = 0;
            while (offset < buffer.length) {
              offset += writeSync(fd, buffer, offset);
            }
            bytes += buffer.length;
            sinceCheck += buffer.length;
          }
          if ((entry.mode & 0o7000) !== 0 || (entry.mode & umask) !== 0) {
            fchmodSync(fd, entry.mode);
          }
          futimesSync(fd, entry.mtime, entry.mtime);
        } finally {
          closeSync(fd);
        }
        if (sinceCheck >= SPACE_CHECK_BYTES && options.minFreeBytes) {
          sinceCheck = 0;
          await checkFreeSpace(root, options.minFreeBytes);
        }
        break;
      }
      case 'symlink':
        symlinkSync(entry.target, target);
        symlinks.add(entry.path);
        lutimesSync(target, entry.mtime, entry.mtime);
        break;
      case 'hardlink':
        linkSync(join(root, entry.target), target);
        break;
    }
  }
  // Deepest first, so that setting a parent's mtime comes after its children changed it.
  directories.sort((a, b) => b.path.length - a.path.length);
  for (const dir of directories) {
    chmodSync(dir.path, dir.mode);
    utimesSync(dir.path, dir.mtime, dir.mtime);
  }
  // The root itself is not an entry; give it the mode every root has.
  chmodSync(root, 0o755);
  return {
    entries: count,
    bytes,
    owners: summarizeOwners(owners, ownerCounts)
  };
}

function summarizeOwners(
  owners: Map<string, [number, number]>,
  counts: Map<string, number>
): Owners {
  let best = '0:0';
  let bestCount = -1;
  for (const [owner, n] of counts) {
    if (n > bestCount) {
      best = owner;
      bestCount = n;
    }
  }
  const [uid, gid] = best.split(':').map(Number);
  const others: Record<string, [number, number]> = {};
  for (const [path, owner] of owners) {
    if (owner[0] !== uid || owner[1] !== gid) {
      others[path] = owner;
    }
  }
  return { common: [uid, gid], others };
}

/** Free bytes for an unprivileged writer on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const info = await statfs(path);
  return info.bavail * info.bsize;
}

async function checkFreeSpace(path: string, minFree: number): Promise<void> {
  const free = await freeBytes(path);
  if (free < minFree) {
    throw new DiskFullError(
      `The disk holding ${path} is almost full (${formatBytes(free)} free); extraction stopped to keep ${formatBytes(minFree)} free.`
    );
  }
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
