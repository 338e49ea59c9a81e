/**
 * The root-filesystem cache of the sandbox backend: each package's files extracted once, under
 * `<stateDir>/sandbox/rootfs/<sha256>/`:
 *
 *   root/          the package's files, as its normalized entry stream describes them
 *   rootfs.json    written last, inside the temporary folder, before the rename: its presence
 *                  means the extraction is complete
 *
 * An extraction happens in `.partial-<sha256>-<pid>-<random>/` and is renamed into place, so a
 * reader never sees half a tree, and a crash leaves only a `.partial-…` folder (removed by the
 * next prepare of that package). Concurrent prepares of one package in this process share one
 * extraction; across processes, the first rename wins and the others discard their copy.
 *
 * Runs never write here: each run works on its own copy (see `backends/sandbox/run-tree.ts`).
 * Folders are private to the user (0700): the tree may hold setuid files of an untrusted package.
 *
 * Shared trees (`sharedTrees`): folders of trees in the same layout, `<folder>/<sha256>/`,
 * prepared once by an administrator (`reproserver prepare DIR --trees FOLDER`) and mounted
 * read-only for every user of a JupyterHub, so that a class of 200 unpacks nothing. A tree there
 * is used only when the folder is on a read-only mount and belongs to root (or is this user's
 * own): otherwise anyone who could write there could choose what another user's run of a package
 * executes (`trustedShared`). The server's own cache is used otherwise.
 */
import { randomBytes } from 'node:crypto';
import {
  open,
  mkdir,
  readFile,
  readdir,
  rename,
  stat,
  writeFile,
  chmod,
  lstat
} from 'node:fs/promises';
import { join } from 'node:path';
import { SingleFlight } from '../build/single-flight';
import { onReadOnlyMount } from './mounts';
import { formatBytes } from '../describe';
import { PackageReader } from '../rpz/worker';
import { readLayout } from '../rpz/layout';
import { DiskFullError, freeBytes, type Owners } from './extract';
import { removeTree } from './remove-tree';

export { removeTree } from './remove-tree';

/** What `rootfs.json` records. */
export interface RootfsInfo {
  schema: 'reproserver-sandbox-rootfs/1';
  sha256: string;
  entries: number;
  bytes: number;
  /** Milliseconds the extraction took. */
  extractMs: number;
  createdAt: string;
  /** Recorded owners: on disk every file belongs to the user who extracted it. */
  owners: Owners;
  /** True when the extracting process could not give files their recorded owners. */
  ownershipEmulated: true;
  warnings: string[];
}

export interface PreparedRootfs {
  /** The package's root directory (read it; never write to it). */
  root: string;
  info: RootfsInfo;
  /** True when the tree was already there (or another caller was extracting it). */
  reused: boolean;
  /** True when the tree is one of the shared, read-only trees (`sharedTrees`). */
  shared?: boolean;
}

export interface PrepareOptions {
  /** The server's state folder; the cache lives in `<stateDir>/sandbox/rootfs/`. */
  stateDir: string;
  /** The package's sha256, when already known (saves hashing it again). */
  sha256?: string;
  /** Free space to leave on the disk, besides the package's own size. Default 256 MiB. */
  reserveBytes?: number;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /** Folders of trees prepared by someone else (read-only), looked up before this cache. */
  sharedTrees?: readonly string[];
  /** This cache's folder, when not `<stateDir>/sandbox/rootfs/` (`reproserver prepare`). */
  cacheDir?: string;
  /**
   * Runs the package's reading and extraction in reader processes (deadline, memory cap, stall
   * timeout); a reader of this call's own (default limits) when absent.
   */
  reader?: PackageReader;
}

const MARKER = 'rootfs.json';
const flights = new SingleFlight<PreparedRootfs, never>();

export function rootfsCacheDir(stateDir: string): string {
  return join(stateDir, 'sandbox', 'rootfs');
}

/** Ensures the package's root filesystem is in the cache; extracts it at most once. */
export async function prepareRootfs(
  rpzPath: string,
  options: PrepareOptions
): Promise<PreparedRootfs> {
  const sha256 =
    options.sha256 ??
    (
      await withReader(options, reader =>
        reader.readPackage(rpzPath, { trace: false })
      )
    ).sha256 ??
    undefined;
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new Error(`No valid sha256 for the package ${rpzPath}.`);
  }
  const shared = await findSharedTree(options.sharedTrees ?? [], sha256);
  if (shared) {
    return shared;
  }
  const cacheDir = options.cacheDir ?? rootfsCacheDir(options.stateDir);
  const existing = await readComplete(join(cacheDir, sha256));
  if (existing) {
    return { ...existing, reused: true };
  }
  const flight = flights.run(`${cacheDir}\0${sha256}`, undefined, () =>
    extractInto(rpzPath, cacheDir, sha256, options)
  );
  const prepared = await flight.promise;
  return flight.joined ? { ...prepared, reused: true } : prepared;
}

/** The cached tree of a package, or null when it is not (completely) there. */
export async function findRootfs(
  stateDir: string,
  sha256: string
): Promise<PreparedRootfs | null> {
  const found = await readComplete(join(rootfsCacheDir(stateDir), sha256));
  return found ? { ...found, reused: true } : null;
}

/** The first complete tree of `sha256` among the shared folders that pass the trust check. */
async function findSharedTree(
  folders: readonly string[],
  sha256: string
): Promise<PreparedRootfs | null> {
  for (const folder of folders) {
    const tree = join(folder, sha256);
    if (!(await trustedShared(folder)) || !(await trustedShared(tree))) {
      continue;
    }
    const found = await readComplete(tree);
    if (found && found.info.sha256 === sha256) {
      return { ...found, reused: true, shared: true };
    }
  }
  return null;
}

/**
 * A folder of shared trees may be used when it is this user's own (their server, their trees), or
 * when it belongs to root, nobody else can write to it, and it is on a read-only mount — a shared
 * tree gives everyone its owner's permissions (`sandbox/share-tree.ts`), so only a read-only
 * mount keeps other users from changing what a run of the package executes.
 */
async function trustedShared(path: string): Promise<boolean> {
  const facts = await lstat(path).catch(() => null);
  if (!facts?.isDirectory() || (facts.mode & 0o022) !== 0) {
    return false;
  }
  const uid = process.getuid?.() ?? 0;
  if (facts.uid === uid) {
    return true;
  }
  return facts.uid === 0 && (await onReadOnlyMount(path));
}

async function readComplete(
  dir: string
): Promise<Omit<PreparedRootfs, 'reused'> | null> {
  try {
    const info = JSON.parse(
      await readFile(join(dir, MARKER), 'utf8')
    ) as RootfsInfo;
    return { root: join(dir, 'root'), info };
  } catch {
    return null;
  }
}

async function extractInto(
  rpzPath: string,
  cacheDir: string,
  sha256: string,
  options: PrepareOptions
): Promise<PreparedRootfs> {
  // Another process may have finished while we waited to start.
  const done = await readComplete(join(cacheDir, sha256));
  if (done) {
    return { ...done, reused: true };
  }
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  if (options.cacheDir === undefined) {
    // `<stateDir>/sandbox/`: private (a folder given as `cacheDir` is its owner's to set).
    await chmod(join(cacheDir, '..'), 0o700).catch(() => undefined);
  }
  await removeStalePartials(cacheDir, sha256);
  const reserve = options.reserveBytes ?? 256 * 1024 * 1024;
  const estimate = await estimateUnpackedSize(rpzPath);
  const free = await freeBytes(cacheDir);
  if (free < estimate + reserve) {
    throw new DiskFullError(
      `Not enough disk space to unpack the package: it needs about ${formatBytes(estimate)}, and ${formatBytes(free)} is free in ${cacheDir} (${formatBytes(reserve)} is kept free).`
    );
  }
  const partial = join(
    cacheDir,
    `.partial-${sha256}-${process.pid}-${randomBytes(4).toString('hex')}`
  );
  const root = join(partial, 'root');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const warnings: string[] = [];
  const started = Date.now();
  try {
    const onWarning = (message: string): void => {
      warnings.push(message);
      options.onWarning?.(message);
    };
    // The walk and the writes run in a reader process: a hostile package stalls that one only.
    const summary = await withReader(options, reader =>
      reader.extract(rpzPath, root, {
        minFreeBytes: reserve,
        signal: options.signal,
        onWarning
      })
    );
    const info: RootfsInfo = {
      schema: 'reproserver-sandbox-rootfs/1',
      sha256,
      entries: summary.entries,
      bytes: summary.bytes,
      extractMs: Date.now() - started,
      createdAt: new Date().toISOString(),
      owners: summary.owners,
      ownershipEmulated: true,
      warnings
    };
    await writeFile(join(partial, MARKER), JSON.stringify(info) + '\n');
    const final = join(cacheDir, sha256);
    try {
      await rename(partial, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        throw error;
      }
      // Another process won the race: use its tree.
      await removeTree(partial);
      const theirs = await readComplete(final);
      if (!theirs) {
        throw error;
      }
      return { ...theirs, reused: true };
    }
    return { root: join(final, 'root'), info, reused: false };
  } catch (error) {
    await removeTree(partial);
    throw error;
  }
}

/**
 * The size the data will take once unpacked: the gzip trailer's ISIZE of `DATA.tar.gz` (the size
 * modulo 4 GiB, raised by 4 GiB steps until it is at least the compressed size), or the package's
 * own size when the data is not a plain member. An estimate; extraction checks the disk as it goes.
 */
async function estimateUnpackedSize(rpzPath: string): Promise<number> {
  const file = await open(rpzPath, 'r');
  try {
    const size = (await file.stat()).size;
    const layout = await readLayout(file, rpzPath, size, {});
    if (!layout.dataMember || layout.dataMember.size < 18) {
      return size;
    }
    const { offset, size: compressed } = layout.dataMember;
    const trailer = Buffer.alloc(4);
    await file.read(trailer, 0, 4, offset + compressed - 4);
    let estimate = trailer.readUInt32LE(0);
    while (estimate < compressed) {
      estimate += 2 ** 32;
    }
    return estimate;
  } catch {
    return (await stat(rpzPath)).size;
  } finally {
    await file.close();
  }
}

async function removeStalePartials(
  cacheDir: string,
  sha256: string
): Promise<void> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`.partial-${sha256}-`)) {
      continue;
    }
    const pid = Number(name.split('-')[2]);
    if (pid !== process.pid && isAlive(pid)) {
      continue; // another process is extracting it right now
    }
    await removeTree(join(cacheDir, name));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `work` with the caller's reader, or with one of its own closed afterwards. */
async function withReader<T>(
  options: PrepareOptions,
  work: (reader: PackageReader) => Promise<T>
): Promise<T> {
  if (options.reader !== undefined) {
    return work(options.reader);
  }
  const reader = new PackageReader({ processes: 1 });
  try {
    return await work(reader);
  } finally {
    reader.close();
  }
}
