/**
 * A run's own root filesystem: a copy of the package's cached tree, made for the run and removed
 * after it. The sandbox is given only this copy, never the cache, so no run can change the cache or
 * see another run's writes, whatever it does (chmod, write through hard links, replace
 * directories). `cp -a --reflink=auto` shares the blocks where the filesystem can (btrfs, XFS) and
 * copies them elsewhere; hard links inside the package stay hard links.
 *
 * Host-side access to the run's tree (placing inputs, reading outputs) happens only while no
 * process of the run is alive, and resolves paths as the sandbox would: symlinks in the path are
 * followed inside the run's root (an absolute target starts at that root; `..` stops at it), the
 * last component is never followed, files are opened with O_NOFOLLOW|O_NONBLOCK and only when
 * `lstat` says they are regular files, and walks are bounded (`MAX_CHANGED_FILES`). While the run
 * is alive only its disk use is measured, through open folders (`disk-watch.ts`).
 */
import { spawn } from 'node:child_process';
import { constants, type BigIntStats, type Stats } from 'node:fs';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  unlink,
  type FileHandle
} from 'node:fs/promises';
import { join, posix } from 'node:path';
import { RESERVED_TOP_NAMES } from '../../sandbox/extract';

/** Copies `from` (a directory) to `to` (which must not exist). */
export function copyTree(
  from: string,
  to: string,
  signal?: AbortSignal
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--reflink=auto', '--', from, to], {
      stdio: ['ignore', 'ignore', 'pipe'],
      signal
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) {
        stderr += chunk.toString();
      }
    });
    child.on('error', reject);
    child.on('close', code =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `Copying the package's files for the run failed: ${stderr.trim() || `cp exited with ${code}`}`
            )
          )
    );
  });
}

const MAX_LINKS = 40;

/**
 * The host path of `path` (absolute, inside the sandbox) in the tree at `root`, with every
 * directory component resolved inside the root; the last component is not followed. With
 * `createParents`, missing directories are created (0755, owned by `owner` when given: the
 * run's own user, `run-user.ts`); with `openUp`, folders on the way get owner permissions
 * (`openUpFolder`). Returns null when a parent is missing (or is not a directory).
 */
export async function resolveInRoot(
  root: string,
  path: string,
  createParents = false,
  openUp = false,
  owner?: FileOwner
): Promise<string | null> {
  if (openUp) {
    await openUpFolder(root, await lstat(root));
  }
  const pending = posix
    .normalize('/' + path)
    .split('/')
    .filter(Boolean);
  const last = pending.pop();
  if (last === undefined) {
    return null;
  }
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') {
      continue;
    }
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    let info: Stats;
    try {
      info = await lstat(host);
    } catch (error) {
      if (
        (error as NodeJS.ErrnoException).code !== 'ENOENT' ||
        !createParents
      ) {
        return null;
      }
      await mkdir(host, { mode: 0o755 });
      if (owner) {
        await lchown(host, owner.uid, owner.gid); // never follows a link put there meanwhile
      }
      resolved.push(part);
      continue;
    }
    if (info.isSymbolicLink()) {
      if (++links > MAX_LINKS) {
        return null;
      }
      const target = await readlink(host);
      if (target.startsWith('/')) {
        resolved.length = 0;
      }
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    if (!info.isDirectory()) {
      return null;
    }
    if (openUp) {
      await openUpFolder(host, info);
    }
    resolved.push(part);
  }
  if (last === '..' || last === '.') {
    return null;
  }
  return join(root, ...resolved, last);
}

/** Who gets the files the host puts into a run's tree that the run's own user owns. */
export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * Writes a replacement input at `path` in the run's tree: an existing file or symlink there is
 * replaced (as extracting an archive over it would), a directory is an error. With `owner`, the
 * file and the folders made for it belong to that user (the run's own, `run-user.ts`).
 */
export async function placeFile(
  root: string,
  path: string,
  mode: number,
  write: (file: FileHandle) => Promise<void>,
  owner?: FileOwner
): Promise<void> {
  const host = await resolveInRoot(root, path, true, false, owner);
  if (host === null) {
    throw new Error(
      `Cannot place a file at ${path}: a parent is not a folder.`
    );
  }
  try {
    const info = await lstat(host);
    if (info.isDirectory()) {
      throw new Error(`Cannot place a file at ${path}: it is a folder.`);
    }
    await unlink(host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  const file = await open(
    host,
    constants.O_WRONLY |
      constants.O_CREAT |
      constants.O_EXCL |
      constants.O_NOFOLLOW,
    mode & 0o777
  );
  try {
    await write(file);
    if (owner) {
      await file.chown(owner.uid, owner.gid); // before chmod: a chown clears setuid bits
    }
    await file.chmod(mode);
  } finally {
    await file.close();
  }
}

/**
 * Opens the regular file at `path` in the run's tree for reading; 'missing' when there is nothing
 * there, 'not-a-file' when it is something else, 'unreadable' when it is a file the server may not
 * read. Nothing but a regular file is ever opened: a
 * symlink is not followed, and a FIFO, socket or device node is refused from its `lstat` before any
 * `open` (opening a device could read the host's disk or rewind a tape; opening a FIFO could block).
 * The file opened must be the one `lstat` saw (same device and inode), or it is refused too.
 */
export async function openRegularFile(
  root: string,
  path: string
): Promise<
  { file: FileHandle; info: Stats } | 'missing' | 'not-a-file' | 'unreadable'
> {
  const host = await resolveInRoot(root, path, false, true);
  if (host === null) {
    return 'missing';
  }
  let seen: Stats;
  try {
    seen = await lstat(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return 'missing';
    }
    throw error;
  }
  if (!seen.isFile()) {
    return 'not-a-file';
  }
  if ((seen.mode & 0o400) === 0) {
    try {
      await chmod(host, (seen.mode & 0o7777) | 0o400); // a regular file: nothing to follow
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EPERM') {
        return 'unreadable'; // another user's
      }
      throw error;
    }
  }
  let file: FileHandle;
  try {
    file = await open(
      host,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return 'missing';
    }
    if (code === 'ELOOP' || code === 'ENXIO') {
      return 'not-a-file';
    }
    if (code === 'EACCES') {
      // Another user's, kept to itself (`UserNamespace.settleOwners` did not give it back).
      return 'unreadable';
    }
    throw error;
  }
  const info = await file.stat();
  if (!info.isFile() || info.ino !== seen.ino || info.dev !== seen.dev) {
    await file.close();
    return 'not-a-file';
  }
  info.mode = seen.mode; // as the run left it
  return { file, info };
}

/** Whether anything is at `path` in the tree at `root` (the last component not followed). */
export async function existsInRoot(
  root: string,
  path: string
): Promise<boolean> {
  const host = await resolveInRoot(root, path);
  if (host === null) {
    return false;
  }
  try {
    await lstat(host);
    return true;
  } catch {
    return false;
  }
}

/**
 * Gives a folder of the run's tree owner read, write and search permission when it lacks one, so
 * that the server reads what the run made even where the run closed a folder (0000): root reads
 * such folders anyway (on Docker, and here when the server is root), a non-root server could not.
 * Only once no process of the run is left (the tree is then only read and removed), and only on a
 * folder `info` (an `lstat`) shows to be one: `chmod` would follow a link.
 */
async function openUpFolder(
  path: string,
  info: { mode: number | bigint }
): Promise<void> {
  const mode = Number(info.mode) & 0o7777;
  if ((mode & 0o700) !== 0o700) {
    await chmod(path, mode | 0o700);
  }
}

/** Top-level paths the sandbox itself mounts on; they are not the experiment's files. */
export const SANDBOX_PATHS: readonly string[] = RESERVED_TOP_NAMES.map(
  name => '/' + name
);

/** Regular files found in a run's tree: at most a bound, and how many more there were. */
export interface FoundFiles {
  /** Sorted by path; paths are absolute inside the sandbox. */
  files: { path: string; info: Stats }[];
  /** Files that matched beyond the bound (not listed). */
  more: number;
}

/** Bounds of a walk over a run's tree after its steps ended. */
export interface WalkLimits {
  /** Files listed at most; the others are counted in `more`. Default `MAX_CHANGED_FILES`. */
  maxFiles?: number;
}

/** Where a walk opens up closed folders: the walked tree itself, or the view it is a layer of. */
export interface WalkOptions extends WalkLimits {
  /**
   * The tree whose folders get their permissions changed, at the same relative paths, when it is
   * not the walked one: an overlay's merged view, for a walk of its upper layer (a change made to
   * the upper layer directly would not be seen by the overlay's own permission checks).
   */
  openUpIn?: string;
}

/** Changed files a run's outputs list at most (each is an output to store and an event). */
export const MAX_CHANGED_FILES = 10_000;

/** Entries `lstat`ed at once while walking a folder. */
const WALK_BATCH = 64;

/**
 * The regular files of the tree at `root` that `select` keeps, folder by folder in name order,
 * never through a link (entries are `lstat`ed; only real folders are entered) and never into the
 * top-level places the sandbox mounts on; folders the run closed are opened up (`openUpFolder`).
 * Called only once no process of the run is left, so nothing changes under the walk. Folders
 * nested past the system's path length are not reached.
 */
export async function findFiles(
  root: string,
  select: (rel: string, info: BigIntStats) => boolean | Promise<boolean>,
  limits: WalkOptions = {}
): Promise<FoundFiles> {
  const maxFiles = limits.maxFiles ?? MAX_CHANGED_FILES;
  const openUpIn = limits.openUpIn ?? root;
  const found: FoundFiles = { files: [], more: 0 };
  const walk = async (relative: string): Promise<void> => {
    let names: string[];
    try {
      await openUpFolder(
        join(openUpIn, relative),
        await lstat(join(root, relative))
      );
      names = (await readdir(join(root, relative))).sort();
    } catch {
      return;
    }
    if (relative === '') {
      names = names.filter(name => !SANDBOX_PATHS.includes('/' + name));
    }
    for (let start = 0; start < names.length; start += WALK_BATCH) {
      const batch = names.slice(start, start + WALK_BATCH);
      const infos = await Promise.all(
        batch.map(name =>
          lstat(join(root, relative, name), { bigint: true }).catch(() => null)
        )
      );
      for (let i = 0; i < batch.length; i++) {
        const info = infos[i];
        const rel = relative === '' ? batch[i] : `${relative}/${batch[i]}`;
        if (info?.isDirectory()) {
          await walk(rel);
        } else if (info?.isFile() && (await select(rel, info))) {
          if (found.files.length < maxFiles) {
            found.files.push({
              path: '/' + rel,
              info: await lstat(join(root, rel))
            });
          } else {
            found.more++;
          }
        }
      }
    }
  };
  await walk('');
  found.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return found;
}

/**
 * The regular files of the run's tree that the run created or changed: any file whose inode
 * changed (ctime) after `sinceMs` (the copy was complete by then), and, for the few whose ctime
 * falls near that instant (file timestamps come from a coarse clock), those that differ from the
 * cache in size, mtime or mode.
 */
export function changedFiles(
  runRoot: string,
  cacheRoot: string,
  sinceMs: number,
  limits: WalkLimits = {}
): Promise<FoundFiles> {
  const sinceNs = BigInt(Math.floor(sinceMs)) * 1_000_000n;
  const slackNs = 50_000_000n;
  return findFiles(
    runRoot,
    async (rel, info) =>
      info.ctimeNs >= sinceNs ||
      (info.ctimeNs >= sinceNs - slackNs &&
        (await differsFromCache(cacheRoot, rel, info))),
    limits
  );
}

/** Whether the file at `rel` differs from the cache's; the cache's path is resolved inside it. */
async function differsFromCache(
  cacheRoot: string,
  rel: string,
  info: { size: bigint; mtimeNs: bigint; mode: bigint }
): Promise<boolean> {
  const cachePath = await resolveInRoot(cacheRoot, '/' + rel);
  if (cachePath === null) {
    return true;
  }
  try {
    const cached = await lstat(cachePath, { bigint: true });
    return (
      !cached.isFile() ||
      cached.size !== info.size ||
      cached.mtimeNs !== info.mtimeNs ||
      cached.mode !== info.mode
    );
  } catch {
    return true;
  }
}
