/**
 * Who a proot run is on the host when the server is root. proot only fakes ids in the system calls
 * it intercepts: run as root, an experiment would be the host's root with every capability (io_uring
 * and /proc/<pid>/root bypass proot entirely). So a root server runs proot, and everything under
 * it, as an unprivileged user of the run's own: a user id that owns nothing on the host, with no
 * supplementary groups, no capabilities (empty bounding set) and no_new_privs (`setpriv`).
 *
 * Each running run gets its own id, from a range (`REPROSERVER_SANDBOX_UID`, `SANDBOX_UID_COUNT`
 * ids; the group id is the same number): a run's processes cannot signal another run's or enter
 * its tree, and once a step is over, every process of its id is killed before the host touches the
 * run's tree, so nothing the experiment left running can race the host's reads and writes there.
 * The id is held by the run's folder, `reproserver-run-<uid>` in the runs' folder
 * (`REPROSERVER_SANDBOX_RUNS_DIR`, every parent searchable by everyone: the server's state folder
 * is not), made with an exclusive `mkdir`, so that servers and CLIs on one host never share an id.
 * The run's tree is a copy handed over to that id (`handOver`) inside that folder, which only the
 * id (and root) can enter.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  writeFile
} from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../../sandbox';
import { isAlive } from './limits';
import { processStatuses } from './proc-status';

/** First id of the range: high, below 2^31 (some programs read ids as signed), in no usual range. */
export const DEFAULT_SANDBOX_UID = 2_147_000_000;
/** Ids in the range: as many proot runs of root servers can run at once on one host. */
export const SANDBOX_UID_COUNT = 1000;
/** Where the runs' folders go by default: on disk (not a tmpfs in memory), searchable by all. */
export const DEFAULT_SANDBOX_RUNS_DIR = '/var/tmp';

/** Whether a run of `mechanism` must drop this process's privileges: proot under root. */
export function needsRunUser(mechanism: string | null | undefined): boolean {
  return mechanism === 'proot' && process.geteuid?.() === 0;
}

/** The first id of the range, from `REPROSERVER_SANDBOX_UID`; an Error says what is wrong. */
export function sandboxUidBase(
  env: Record<string, string | undefined> = process.env
): number | Error {
  const value = env.REPROSERVER_SANDBOX_UID;
  if (value === undefined || value === '') {
    return DEFAULT_SANDBOX_UID;
  }
  const base = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (
    !Number.isSafeInteger(base) ||
    base < 1000 ||
    base + SANDBOX_UID_COUNT > 2 ** 32 - 2
  ) {
    return new Error(
      `REPROSERVER_SANDBOX_UID is "${value}": give the first of ${SANDBOX_UID_COUNT} unused user ids, a whole number from 1000 to ${2 ** 32 - 2 - SANDBOX_UID_COUNT}.`
    );
  }
  return base;
}

/** The folder the runs' own folders are made in (`REPROSERVER_SANDBOX_RUNS_DIR`). */
export function sandboxRunsDir(
  env: Record<string, string | undefined> = process.env
): string {
  return env.REPROSERVER_SANDBOX_RUNS_DIR || DEFAULT_SANDBOX_RUNS_DIR;
}

/** `setpriv`'s arguments that make the rest of the command line run as `uid`:`gid`, unprivileged. */
export function dropPrivilegesArgv(
  setpriv: string,
  ids: { uid: number; gid: number }
): string[] {
  return [
    setpriv,
    `--reuid=${ids.uid}`,
    `--regid=${ids.gid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--'
  ];
}

export interface RunUser {
  uid: number;
  gid: number;
  /** The run's folder (root's, 0700 until the run hands it over): it holds the id. */
  folder: string;
  /** Kills every process of the id, then removes the folder: another run may have the id. */
  release(): Promise<void>;
}

/** A run's folder in the runs' folder: its name says which id it holds. */
const FOLDER_PREFIX = 'reproserver-run-';
/** The file in a run's folder that names the process (server or CLI) that holds it. */
const HOLDER_FILE = 'holder-pid';

/**
 * An id of the range for one run, and the run's folder that holds it: a folder made here (an
 * exclusive `mkdir`), root's, naming this process. A folder of root's whose process is gone is
 * removed (with any process of its id) and its id taken. Starts at a random slot, so that two
 * processes rarely try the same one.
 */
export async function takeRunUser(
  base: number,
  runsDir: string
): Promise<RunUser> {
  const start = randomInt(SANDBOX_UID_COUNT);
  for (let i = 0; i < SANDBOX_UID_COUNT; i++) {
    const uid = base + ((start + i) % SANDBOX_UID_COUNT);
    const folder = join(runsDir, `${FOLDER_PREFIX}${uid}`);
    if (!(await makeFolder(folder)) && !(await takeOver(folder, uid))) {
      continue;
    }
    try {
      await writeFile(join(folder, HOLDER_FILE), `${process.pid}\n`, {
        mode: 0o600,
        flag: 'wx'
      });
    } catch (error) {
      await removeTree(folder).catch(() => undefined);
      throw error;
    }
    // What a dead holder of the id left running is no part of this run.
    await killProcessesOf(uid);
    return {
      uid,
      gid: uid,
      folder,
      release: async () => {
        await killProcessesOf(uid);
        await removeTree(folder);
      }
    };
  }
  throw new Error(
    `All ${SANDBOX_UID_COUNT} user ids that proot runs use (from ${base}, REPROSERVER_SANDBOX_UID) are busy; wait for a run to end.`
  );
}

/** Makes `folder` (root's, 0700); false when something is there already. */
async function makeFolder(folder: string): Promise<boolean> {
  try {
    await mkdir(folder, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return false;
    }
    throw error;
  }
}

/**
 * Removes a run's folder that its holder left (`isStale`) and makes it again; false when it is
 * not stale (or someone made it again first).
 */
async function takeOver(folder: string, uid: number): Promise<boolean> {
  if (!(await isStale(folder))) {
    return false;
  }
  await killProcessesOf(uid);
  await removeTree(folder);
  return makeFolder(folder);
}

/**
 * Whether a run's folder was left by a holder that is gone: root's folder (anything else was
 * made by someone who may write to the runs' folder, and is never entered or removed from here:
 * its maker could change it under the removal), naming a process that no longer runs. A folder
 * that names none yet is being made, or was left half made: it is stale after a minute.
 */
async function isStale(folder: string): Promise<boolean> {
  const info = await lstat(folder).catch(() => null);
  if (!info?.isDirectory() || info.uid !== 0) {
    return false;
  }
  // Root's file in root's folder, which no run's user may change (0710 at most, group its).
  const text = await readFile(join(folder, HOLDER_FILE), 'utf8').catch(
    () => null
  );
  const pid = text === null ? NaN : Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    return Date.now() - info.mtimeMs > 60_000;
  }
  return pid !== process.pid && !isAlive(pid);
}

/**
 * Removes the runs' folders of ids in the range whose holder (a server or CLI) died before
 * removing them, after killing whatever of their ids still runs.
 */
export async function removeStaleRunFolders(
  base: number,
  runsDir: string
): Promise<void> {
  const names = await readdir(runsDir).catch(() => [] as string[]);
  for (const name of names) {
    const uid = Number(name.slice(FOLDER_PREFIX.length));
    if (
      !name.startsWith(FOLDER_PREFIX) ||
      !Number.isInteger(uid) ||
      uid < base ||
      uid >= base + SANDBOX_UID_COUNT
    ) {
      continue;
    }
    const folder = join(runsDir, name);
    if (await isStale(folder)) {
      await killProcessesOf(uid);
      await removeTree(folder).catch(() => undefined);
    }
  }
}

/** Passes over /proc at most when killing an id's processes (each kills what the last missed). */
const KILL_PASSES = 20;

/**
 * Kills every process whose real, effective or saved user id is `uid`, until none is left: what a
 * run's steps left behind (a process proot no longer traces, or that it let go when it was killed) ends with the run, before the host reads or removes its tree.
 */
export async function killProcessesOf(uid: number): Promise<number> {
  let found = 0;
  for (let pass = 0; pass < KILL_PASSES; pass++) {
    const pids = await processesOf(uid);
    if (pids.length === 0) {
      return found;
    }
    found += pids.length;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  return found;
}

/** Live (not zombie) processes any of whose user ids is `uid`. */
export async function processesOf(uid: number): Promise<number[]> {
  return (await processStatuses())
    .filter(status => !status.zombie && status.uids.includes(uid))
    .map(status => status.pid);
}

/** Entries changed at once while handing a tree over. */
const HAND_OVER_BATCH = 64;

/**
 * Makes `uid`:`gid` the owner of every entry of a fresh copy (never following a link), as the
 * server's own user owns the copy when the server is not root, so that the experiment reads and
 * writes its package's files as it would there (0600 files and 0700 folders included). A change
 * of owner clears setuid and setgid bits of files; they are put back, so the experiment sees the
 * package's modes. Called before any process of the run exists: nothing changes under the walk.
 */
export async function handOver(
  root: string,
  ids: { uid: number; gid: number },
  signal?: AbortSignal
): Promise<void> {
  // In three steps per batch: every mode is read before any owner changes, and the setuid and
  // setgid bits (which a chown clears) are put back after every chown of the batch, so that two
  // hard links to one file in the same batch cannot clear them after they were restored.
  const change = async (paths: string[]): Promise<boolean[]> => {
    const infos = await Promise.all(paths.map(path => lstat(path)));
    await Promise.all(paths.map(path => lchown(path, ids.uid, ids.gid)));
    await Promise.all(
      paths.map((path, i) =>
        infos[i].isFile() && (infos[i].mode & 0o6000) !== 0
          ? chmod(path, infos[i].mode & 0o7777) // a regular file: nothing to follow
          : undefined
      )
    );
    return infos.map(info => info.isDirectory());
  };
  const walk = async (folder: string): Promise<void> => {
    const names = await readdir(folder);
    for (let start = 0; start < names.length; start += HAND_OVER_BATCH) {
      signal?.throwIfAborted(); // a run cancelled or timed out while its copy is made
      const paths = names
        .slice(start, start + HAND_OVER_BATCH)
        .map(name => join(folder, name));
      const folders = await change(paths);
      // One folder at a time below: at most one batch of changes is under way.
      for (let i = 0; i < paths.length; i++) {
        if (folders[i]) {
          await walk(paths[i]);
        }
      }
    }
  };
  if ((await change([root]))[0]) {
    await walk(root);
  }
}

/** Whether `setpriv` can drop to `ids` here (it needs root): null when it can, else why not. */
export function probeDrop(
  setpriv: string,
  ids: { uid: number; gid: number }
): Promise<string | null> {
  return new Promise(resolve => {
    const child = spawn(
      setpriv,
      [...dropPrivilegesArgv(setpriv, ids).slice(1), '/bin/true'],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 }
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 1000) {
        stderr += chunk.toString();
      }
    });
    child.on('error', error => resolve(error.message));
    child.on('close', code =>
      resolve(
        code === 0
          ? null
          : stderr.trim().split('\n')[0] || `setpriv exited with ${code}`
      )
    );
  });
}
