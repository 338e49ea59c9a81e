/**
 * The limits a run gets when its edits leave them out, on this machine: the memory default
 * leaves room for whatever else shares the server's memory.
 *
 * On Binder or a JupyterHub pod, JupyterLab, its kernels, the companion server and every run
 * share one memory cgroup of 1 to 2 GiB. A run allowed the fixed 2 GiB of a workstation could fill
 * that cgroup, and the kernel's OOM killer would then pick among all of them, JupyterLab included.
 * So the default memory limit is half of the memory the server can really use (the smallest of
 * its cgroup's limits and the machine's RAM), rounded down to 64 MiB, at least 256 MiB, at most
 * DEFAULT_LIMITS' 2048 MiB. Half, rather than that memory minus a fixed amount, because what the
 * rest needs grows with the place: JupyterLab and the server take about 300 MiB, a reader process
 * up to 256 MiB while a package is opened, and the user's notebook kernels whatever they load;
 * at 1 GiB a run gets 512 MiB, at 2 GiB 1 GiB, and from 4 GiB on the 2 GiB it always had.
 *
 * Read once per process (a handful of small files), synchronously, so that the plan stays a pure
 * function of its inputs and every caller (the API, the CLI, `GET /api/backends`) sees one value.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { DEFAULT_LIMITS, type RunLimits } from './edits';

const MIB = 1024 * 1024;
/** Nothing below: a run needs some memory to start at all. */
export const MIN_DEFAULT_MEMORY_MIB = 256;
/** Values at or above this in a cgroup file mean "no limit" (v1 writes 2^63 rounded to pages). */
const UNLIMITED_BYTES = 2 ** 60;

/** The memory the server can use and what bounds it. */
export interface MemoryCeiling {
  bytes: number;
  /** What set it, for people: `MemTotal`, or the cgroup file that is the tightest. */
  source: string;
}

/**
 * The tightest of MemTotal and the memory limits of the cgroup of the process `pid` (default: this
 * one) and its ancestors (v2 `memory.max`, v1 `memory.limit_in_bytes`, both as mounted), read
 * below `root` (a folder holding `proc/` and the cgroup mounts; `/` on a real machine, a fake tree
 * in tests). Unreadable or missing files count as no limit; without MemTotal, null.
 */
export function readMemoryCeiling(
  root = '/',
  pid: number | 'self' = 'self'
): MemoryCeiling | null {
  const total = memTotalBytes(read(join(root, 'proc', 'meminfo')));
  let best: MemoryCeiling | null =
    total === null ? null : { bytes: total, source: 'MemTotal' };
  const cgroups = read(join(root, 'proc', String(pid), 'cgroup')) ?? '';
  const mounts = parseMountinfo(
    read(join(root, 'proc', String(pid), 'mountinfo')) ?? ''
  );
  for (const limit of cgroupLimitFiles(cgroups, mounts)) {
    const bytes = limitBytes(read(join(root, limit)));
    if (bytes !== null && (best === null || bytes < best.bytes)) {
      best = { bytes, source: limit };
    }
  }
  return best;
}

/** The default memory limit of a run where the server can use `ceilingBytes` (null: unknown). */
export function defaultMemoryMiB(ceilingBytes: number | null): number {
  if (ceilingBytes === null) {
    return DEFAULT_LIMITS.memoryMiB;
  }
  const half = Math.floor(ceilingBytes / 2 / MIB / 64) * 64;
  return Math.min(
    DEFAULT_LIMITS.memoryMiB,
    Math.max(MIN_DEFAULT_MEMORY_MIB, half)
  );
}

/** The defaults of a run on this machine given its memory ceiling. */
export function defaultLimitsFor(ceiling: MemoryCeiling | null): RunLimits {
  return {
    ...DEFAULT_LIMITS,
    memoryMiB: defaultMemoryMiB(ceiling?.bytes ?? null)
  };
}

let machine: { ceiling: MemoryCeiling | null; limits: RunLimits } | undefined;

/** This machine's run defaults, and the memory ceiling they come from; read once. */
export function machineDefaults(): {
  ceiling: MemoryCeiling | null;
  limits: RunLimits;
} {
  if (!machine) {
    const ceiling = readMemoryCeiling();
    machine = { ceiling, limits: defaultLimitsFor(ceiling) };
  }
  return machine;
}

/** This machine's run defaults (what a run gets for each limit its edits leave out). */
export function runDefaults(): RunLimits {
  return machineDefaults().limits;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function memTotalBytes(meminfo: string | null): number | null {
  const match = /^MemTotal:\s+(\d+)\s+kB$/m.exec(meminfo ?? '');
  return match ? Number(match[1]) * 1024 : null;
}

/** A cgroup limit file's value in bytes; null for `max`, "unlimited" or anything unreadable. */
function limitBytes(text: string | null): number | null {
  const value = text?.trim() ?? '';
  if (!/^\d{1,20}$/.test(value)) {
    return null;
  }
  const bytes = Number(value);
  return bytes > 0 && bytes < UNLIMITED_BYTES ? bytes : null;
}

interface Mount {
  /** The folder of the hierarchy that is mounted (`/` unless a container sees a subtree). */
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** `/proc/<pid>/mountinfo`: fields 4 and 5, and the type and options after the ` - `. */
function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after === undefined) {
      continue;
    }
    const fields = before.split(' ');
    const [fsType, , options] = after.split(' ');
    if (fields.length < 5 || options === undefined) {
      continue;
    }
    mounts.push({
      root: unescapeMountPath(fields[3]),
      mountPoint: unescapeMountPath(fields[4]),
      fsType,
      superOptions: options.split(',')
    });
  }
  return mounts;
}

/** The kernel writes space, tab, newline and backslash in mountinfo paths as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8))
  );
}

/**
 * The memory limit files that bound the process: for its v2 cgroup (`0::<path>`) and its v1
 * memory cgroup (`N:...memory...:<path>`), the file at that cgroup and at each ancestor up to the
 * mounted root, as paths (absolute, from the machine's root).
 */
function cgroupLimitFiles(cgroups: string, mounts: Mount[]): string[] {
  const files: string[] = [];
  for (const line of cgroups.split('\n')) {
    const match = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!match) {
      continue;
    }
    const [, id, controllers, path] = match;
    const v2 = id === '0' && controllers === '';
    if (!v2 && !controllers.split(',').includes('memory')) {
      continue;
    }
    const mount = mounts.find(m =>
      v2
        ? m.fsType === 'cgroup2'
        : m.fsType === 'cgroup' && m.superOptions.includes('memory')
    );
    if (!mount) {
      continue;
    }
    const file = v2 ? 'memory.max' : 'memory.limit_in_bytes';
    for (const dir of ancestorsBelowMount(path, mount.root)) {
      files.push(posix.join(mount.mountPoint, dir, file));
    }
  }
  return files;
}

/**
 * The cgroup's folder and its parents, relative to the mount. A path outside the mounted root
 * (a cgroup namespace makes the kernel show paths relative to it, `/` for one's own) is taken as
 * relative to the mount already; `..` components (the kernel shows them for cgroups outside one's
 * namespace) stop the walk at the mount, which then stands for the namespace's root.
 */
function ancestorsBelowMount(path: string, mountRoot: string): string[] {
  let relative = path;
  if (
    mountRoot !== '/' &&
    (path === mountRoot || path.startsWith(`${mountRoot}/`))
  ) {
    relative = path.slice(mountRoot.length);
  }
  const parts = relative.split('/').filter(part => part !== '');
  if (parts.includes('..')) {
    return ['/'];
  }
  const dirs: string[] = [];
  for (let n = parts.length; n >= 0; n--) {
    dirs.push(`/${parts.slice(0, n).join('/')}`);
  }
  return dirs;
}
