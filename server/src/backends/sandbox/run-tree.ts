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
 * last component is never followed, and files are opened with O_NOFOLLOW.
 */
import { spawn } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  unlink,
  type FileHandle
} from 'node:fs/promises';
import { join, posix } from 'node:path';

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
 * `createParents`, missing directories are created (0755). Returns null when a parent is missing
 * (or is not a directory).
 */
export async function resolveInRoot(
  root: string,
  path: string,
  createParents = false
): Promise<string | null> {
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
    resolved.push(part);
  }
  if (last === '..' || last === '.') {
    return null;
  }
  return join(root, ...resolved, last);
}

/**
 * Writes a replacement input at `path` in the run's tree: an existing file or symlink there is
 * replaced (as extracting an archive over it would), a directory is an error.
 */
export async function placeFile(
  root: string,
  path: string,
  mode: number,
  write: (file: FileHandle) => Promise<void>
): Promise<void> {
  const host = await resolveInRoot(root, path, true);
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
    await file.chmod(mode);
  } finally {
    await file.close();
  }
}

/**
 * Opens the regular file at `path` in the run's tree for reading; 'missing' when there is nothing
 * there, 'not-a-file' when it is something else (a symlink included: it is not followed).
 */
export async function openRegularFile(
  root: string,
  path: string
): Promise<{ file: FileHandle; info: Stats } | 'missing' | 'not-a-file'> {
  const host = await resolveInRoot(root, path);
  if (host === null) {
    return 'missing';
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
    throw error;
  }
  const info = await file.stat();
  if (!info.isFile()) {
    await file.close();
    return 'not-a-file';
  }
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

/** Top-level paths the sandbox itself mounts on; they are not the experiment's files. */
export const SANDBOX_PATHS = ['/.reproserver', '/proc', '/dev', '/sys'];

/**
 * The regular files of the run's tree that the run created or changed: any file whose inode
 * changed (ctime) after `sinceMs` (the copy was complete by then), and, for the few whose ctime
 * falls near that instant (file timestamps come from a coarse clock), those that differ from the
 * cache in size, mtime or mode. Sorted by path; paths are absolute inside the sandbox.
 */
export async function changedFiles(
  runRoot: string,
  cacheRoot: string,
  sinceMs: number
): Promise<{ path: string; info: Stats }[]> {
  const changed: { path: string; info: Stats }[] = [];
  const sinceNs = BigInt(Math.floor(sinceMs)) * 1_000_000n;
  const slackNs = 50_000_000n;
  const walk = async (relative: string): Promise<void> => {
    const dir = join(runRoot, relative);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    await Promise.all(
      names.map(async name => {
        const rel = relative === '' ? name : `${relative}/${name}`;
        const path = '/' + rel;
        if (relative === '' && SANDBOX_PATHS.includes(path)) {
          return;
        }
        let info;
        try {
          info = await lstat(join(runRoot, rel), { bigint: true });
        } catch {
          return;
        }
        if (info.isDirectory()) {
          await walk(rel);
          return;
        }
        if (!info.isFile()) {
          return;
        }
        let isChanged = info.ctimeNs >= sinceNs;
        if (!isChanged && info.ctimeNs >= sinceNs - slackNs) {
          isChanged = await differsFromCache(join(cacheRoot, rel), info);
        }
        if (isChanged) {
          changed.push({ path, info: await lstat(join(runRoot, rel)) });
        }
      })
    );
  };
  await walk('');
  return changed.sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
}

async function differsFromCache(
  cachePath: string,
  info: { size: bigint; mtimeNs: bigint; mode: bigint }
): Promise<boolean> {
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
