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
 *   first (a 0555 directory must still receive its files);
 * - nothing is written at the top-level names the sandbox mounts its own things on
 *   (`RESERVED_TOP_NAMES`: /proc, /dev, /sys, the helper's /.reproserver): such entries, and hard
 *   links to them, are skipped with one warning per name. Skipping is safe because the runner mounts
 *   over those names anyway (the package's files there could never be seen), and nothing else in
 *   the tree can depend on their being files: a symlink to them resolves to the runner's mount, as
 *   it would on the recorded machine. Refusing the package would lose packages that recorded a
 *   file under /dev or /proc for no gain.
 * Ownership cannot be restored without privileges: files belong to whoever extracts. The recorded
 * owners are returned (the most common owner and the exceptions) so the backend can report them.
 *
 * Speed (issue #7: at most 1.5× `gzip -dc | tar -x`): files are written with synchronous calls
 * (a promise per syscall costs more than the syscall for small files), small bodies in one write
 * straight from the decompressed chunk, and the event loop is let through every millisecond so
 * that decompression, in the threadpool, runs ahead while files are written (see `LoopTurns`).
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
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { formatBytes } from '../describe';
import type { FsEntry } from '../rpz';
import { BodyStream } from '../rpz/tar-parse';
import { OwnerTally, type Owners } from './owners';

export type { Owners } from './owners';

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
  /** Told, once per reserved name, which entries were skipped and why. */
  onWarning?: (message: string) => void;
}

/**
 * Top-level names the sandbox mounts over (bubblewrap's `--proc`, `--dev`, the read-only /sys, the
 * helper's folder; proot binds the same places): a package may not put anything there.
 */
export const RESERVED_TOP_NAMES: readonly string[] = [
  'proc',
  'dev',
  'sys',
  '.reproserver'
];

/** The reserved top-level name `path` (root-relative, normalized) lies under, or null. */
export function reservedTopName(path: string): string | null {
  const slash = path.indexOf('/');
  const top = slash === -1 ? path : path.slice(0, slash);
  return RESERVED_TOP_NAMES.includes(top) ? top : null;
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
  const owners = new OwnerTally();
  const turns = new LoopTurns();
  /** Reserved name → entries skipped there (hard links to them included). */
  const skipped = new Map<string, number>();
  let bytes = 0;
  let count = 0;
  let sinceCheck = 0;

  const ensureParent = (path: string): void => {
    const parent = parentOf(path);
    if (created.has(parent)) {
      return;
    }
    // Parents missing from the stream are created with default permissions.
    mkdirSync(join(root, parent), { recursive: true, mode: 0o755 });
    for (let p = parent; p !== '' && !created.has(p); p = parentOf(p)) {
      created.add(p);
    }
  };
  const checkNotThroughLink = (path: string): void => {
    if (symlinks.size === 0) {
      return;
    }
    for (let p = parentOf(path); p !== ''; p = parentOf(p)) {
      if (symlinks.has(p)) {
        throw new Error(
          `The package entry /${path} lies below the symlink /${p}; it is refused.`
        );
      }
    }
  };

  for await (const entry of entries) {
    if (options.signal?.aborted) {
      throw new Error('The extraction was aborted.');
    }
    await turns.maybe();
    count++;
    const reserved =
      reservedTopName(entry.path) ??
      (entry.type === 'hardlink' ? reservedTopName(entry.target) : null);
    if (reserved !== null) {
      skipped.set(reserved, (skipped.get(reserved) ?? 0) + 1);
      await drain(entry);
      continue;
    }
    // Entry paths are normalized (no empty, `.` or `..` parts), so plain concatenation is exact.
    const target = `${root}/${entry.path}`;
    checkNotThroughLink(entry.path);
    ensureParent(entry.path);
    owners.add(entry.path, entry.uid, entry.gid);
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
          const written = await writeBody(fd, entry.size, entry.body, turns);
          bytes += written;
          sinceCheck += written;
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
        linkSync(`${root}/${entry.target}`, target);
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
  for (const [name, entries] of skipped) {
    options.onWarning?.(
      `${entries} package ${entries === 1 ? 'entry' : 'entries'} at /${name} (or hard links to ${entries === 1 ? 'it' : 'them'}) ${entries === 1 ? 'was' : 'were'} not unpacked: the sandbox mounts its own /${name} there.`
    );
  }
  return { entries: count, bytes, owners: owners.summary() };
}

/** Skips a file entry's body (the parser waits for it to be read before the next entry). */
async function drain(entry: FsEntry): Promise<void> {
  if (entry.type !== 'file' || entry.size === 0) {
    return;
  }
  if (entry.body instanceof BodyStream) {
    while ((await entry.body.readChunk()) !== null) {
      // discarded
    }
    return;
  }
  for await (const chunk of entry.body) {
    void chunk;
  }
}

/** `a/b/c` → `a/b`; `a` → `` (the root). */
function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/**
 * Writes a file's body to `fd`; returns the bytes written. The tar parser's bodies are pulled
 * directly (`readChunk`): a small file is then one `write` of a view into the decompressed chunk,
 * with no stream, no copy and no event per file.
 */
async function writeBody(
  fd: number,
  size: number,
  body: Readable,
  turns: LoopTurns
): Promise<number> {
  if (size === 0) {
    return 0; // an empty file's body is empty: nothing to pull
  }
  let written = 0;
  if (body instanceof BodyStream) {
    for (
      let chunk = await body.readChunk();
      chunk !== null;
      chunk = await body.readChunk()
    ) {
      writeAll(fd, chunk);
      written += chunk.length;
      await turns.maybe();
    }
    return written;
  }
  for await (const chunk of body) {
    writeAll(fd, chunk as Buffer);
    written += (chunk as Buffer).length;
  }
  return written;
}

function writeAll(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) {
    offset += writeSync(fd, buffer, offset);
  }
}

/**
 * Lets the event loop turn every millisecond or so. Writing is synchronous (one syscall per call,
 * no promise per file), and decompression runs in the libuv threadpool: zlib hands over its output
 * and starts its next job only when the loop turns. Without these turns the two would take turns
 * instead of overlapping; with them, zlib decompresses ahead (see `READ_AHEAD_BYTES`) while files
 * are written.
 */
class LoopTurns {
  private last = performance.now();

  maybe(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.last < 1) {
      return undefined;
    }
    this.last = now;
    return new Promise(resolve => setImmediate(resolve));
  }
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
