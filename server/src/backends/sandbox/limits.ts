/**
 * Resource limits for sandboxed runs, without Docker.
 *
 * Where this process may create cgroups below its own (root, or a delegated subtree), a run gets
 * a cgroup with the plan's memory, process and CPU limits, exactly as Docker would, and an OOM
 * kill is read from the cgroup's counters. Unprivileged users usually may not, and then:
 * - memory: RLIMIT_AS (address space) at the plan's limit. A program that asks for more gets an
 *   allocation failure instead of being killed (Python raises MemoryError and exits 1); a failed
 *   step whose error output says it could not allocate memory is reported as out-of-memory.
 *   Programs that reserve much more address space than they use (JVM, Go) may need a higher limit.
 * - processes: RLIMIT_NPROC, which the kernel counts per user, not per sandbox: the limit is set to
 *   the plan's limit plus the tasks the user already runs, so the run gets about the plan's number
 *   on top. (The kernel does not apply RLIMIT_NPROC to root.)
 * - CPU: no rate limit (RLIMIT_CPU limits CPU seconds, not a share); the wall-clock timeout bounds
 *   the time.
 * Either way, every step also gets RLIMIT_FSIZE at the run's disk limit and RLIMIT_NOFILE
 * (`rlimitLauncher`); the run's disk use as a whole is measured by `disk-watch.ts`.
 */
import {
  access,
  mkdir,
  readFile,
  readdir,
  rmdir,
  writeFile
} from 'node:fs/promises';
import { constants, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RunLimits } from '../../runs/edits';

export type LimitsMode = 'cgroup-v1' | 'cgroup-v2' | 'rlimit';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Which limit mechanism this process can use; probed once (creates and removes a cgroup). */
export async function detectLimits(): Promise<LimitsMode> {
  detected ??= probeLimits();
  return detected;
}
let detected: Promise<LimitsMode> | undefined;

async function probeLimits(): Promise<LimitsMode> {
  await removeStaleCgroups().catch(() => undefined);
  for (const version of ['cgroup-v2', 'cgroup-v1'] as const) {
    try {
      const group = await RunCgroup.create(version, null);
      await group.remove();
      return version;
    } catch {
      // not usable: try the next
    }
  }
  return 'rlimit';
}

/** Removes the cgroups of processes that died without removing theirs. */
async function removeStaleCgroups(): Promise<void> {
  const parents = [CGROUP_ROOT];
  for (const controller of ['memory', 'pids', 'cpu']) {
    const own = await ownCgroup(controller);
    if (own !== null) {
      parents.push(join(CGROUP_ROOT, controller, own));
    }
  }
  for (const parent of parents) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names) {
      const match = /^reproserver-sandbox-(\d+)-[0-9a-f]+$/.exec(name);
      if (match && !isAlive(Number(match[1]))) {
        await rmdir(join(parent, name)).catch(() => undefined);
      }
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Our own cgroup path for a v1 controller (or v2 with `controller` = ''). */
async function ownCgroup(controller: string): Promise<string | null> {
  const text = await readFile('/proc/self/cgroup', 'utf8');
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) {
      continue;
    }
    if (controllers.split(',').includes(controller)) {
      return path;
    }
  }
  return null;
}

/** A cgroup (one folder per controller for v1) holding one run's processes. */
export class RunCgroup {
  private constructor(
    readonly version: 'cgroup-v1' | 'cgroup-v2',
    /** Folders to write the launcher's pid into (`cgroup.procs`). */
    readonly dirs: string[],
    public memoryDir: string | null
  ) {}

  /** Creates the cgroup with the limits (or only checks that it can, when `limits` is null). */
  static async create(
    version: 'cgroup-v1' | 'cgroup-v2',
    limits: RunLimits | null
  ): Promise<RunCgroup> {
    const name = `reproserver-sandbox-${process.pid}-${randomBytes(4).toString('hex')}`;
    const memoryBytes = String(
      Math.floor((limits?.memoryMiB ?? 64) * 1024 * 1024)
    );
    const pids = String(limits?.pids ?? 64);
    const period = 100000;
    const quota = String(
      Math.max(1000, Math.round((limits?.cpus ?? 1) * period))
    );
    if (version === 'cgroup-v2') {
      if (!existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) {
        throw new Error('no cgroup v2');
      }
      // Below the root only: elsewhere our own cgroup holds processes, and v2 forbids giving a
      // cgroup with processes children with controllers.
      const controls = await readFile(
        join(CGROUP_ROOT, 'cgroup.subtree_control'),
        'utf8'
      );
      if (!/\bmemory\b/.test(controls) || !/\bpids\b/.test(controls)) {
        throw new Error('memory or pids controller not enabled');
      }
      const dir = join(CGROUP_ROOT, name);
      await mkdir(dir);
      const group = new RunCgroup(version, [dir], dir);
      try {
        await writeFile(join(dir, 'memory.max'), memoryBytes);
        await writeFile(join(dir, 'memory.swap.max'), '0').catch(
          () => undefined
        );
        await writeFile(join(dir, 'pids.max'), pids);
        if (/\bcpu\b/.test(controls)) {
          await writeFile(join(dir, 'cpu.max'), `${quota} ${period}`);
        }
        await access(join(dir, 'cgroup.procs'), constants.W_OK);
      } catch (error) {
        await group.remove();
        throw error;
      }
      return group;
    }
    const dirs: string[] = [];
    const group = new RunCgroup(version, dirs, null);
    try {
      for (const controller of ['memory', 'pids', 'cpu']) {
        const own = await ownCgroup(controller);
        const base = join(CGROUP_ROOT, controller);
        if (own === null || !existsSync(base)) {
          if (controller === 'cpu') {
            continue; // optional
          }
          throw new Error(`no ${controller} controller`);
        }
        const dir = join(base, own, name);
        await mkdir(dir);
        dirs.push(dir);
        if (controller === 'memory') {
          group.memoryDir = dir;
          await writeFile(join(dir, 'memory.limit_in_bytes'), memoryBytes);
          await writeFile(
            join(dir, 'memory.memsw.limit_in_bytes'),
            memoryBytes
          ).catch(() => undefined);
        } else if (controller === 'pids') {
          await writeFile(join(dir, 'pids.max'), pids);
        } else {
          await writeFile(join(dir, 'cpu.cfs_period_us'), String(period));
          await writeFile(join(dir, 'cpu.cfs_quota_us'), quota);
        }
        await access(join(dir, 'cgroup.procs'), constants.W_OK);
      }
    } catch (error) {
      await group.remove();
      throw error;
    }
    return group;
  }

  /** How many processes the kernel's OOM killer has killed in this cgroup. */
  async oomKills(): Promise<number> {
    if (!this.memoryDir) {
      return 0;
    }
    const file =
      this.version === 'cgroup-v2' ? 'memory.events' : 'memory.oom_control';
    try {
      const text = await readFile(join(this.memoryDir, file), 'utf8');
      const match = /^oom_kill (\d+)$/m.exec(text);
      return match ? Number(match[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Kills what is left in the cgroup, then removes it. */
  async remove(): Promise<void> {
    for (const dir of [...this.dirs].reverse()) {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            break;
          }
          await killAll(dir);
          await new Promise(resolve => setTimeout(resolve, 20));
        }
      }
    }
  }
}

async function killAll(dir: string): Promise<void> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(
    () => ''
  );
  for (const pid of text.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The launcher prefix that puts the process into the cgroup before it starts the sandbox. */
export function cgroupLauncher(group: { dirs: readonly string[] }): {
  argv: string[];
  env: Record<string, string>;
} {
  return {
    argv: [
      '/bin/sh',
      '-c',
      'for f in $RPZ_CGROUPS; do echo $$ > "$f/cgroup.procs" || exit 125; done; exec "$@"',
      'sh'
    ],
    env: { RPZ_CGROUPS: group.dirs.join(' ') }
  };
}

/**
 * Open files per process: the soft limit most systems give, and a hard limit the experiment may
 * raise it to but not past (both lowered to this process's own hard limit, which only a privileged
 * process could raise). Bounds what one process can pin in the kernel.
 */
export const OPEN_FILES_LIMIT = { soft: 1024, hard: 65536 };

/**
 * The `prlimit` prefix of every step, soft and hard limits alike so that the experiment cannot
 * raise them, each at most this process's own hard limit (raising one takes CAP_SYS_RESOURCE):
 * - always: RLIMIT_FSIZE at the run's disk limit (a write past it fails, and SIGXFSZ ends the
 *   writer), RLIMIT_NOFILE (`OPEN_FILES_LIMIT`);
 * - in rlimit mode, where no cgroup does it: RLIMIT_AS at the memory limit and RLIMIT_NPROC at the
 *   process limit on top of what the user the steps run as (`runUid`) already runs.
 */
export async function rlimitLauncher(
  prlimit: string,
  limits: RunLimits,
  mode: LimitsMode = 'rlimit',
  runUid: number = process.getuid?.() ?? 0
): Promise<string[]> {
  return rlimitArgv(await rlimitFacts(prlimit, limits, mode, runUid));
}

/** What the `prlimit` launcher depends on, gathered by `rlimitFacts`. */
export interface RlimitFacts {
  prlimit: string;
  limits: Pick<RunLimits, 'diskMiB' | 'memoryMiB' | 'pids'>;
  mode: LimitsMode;
  /** This process's hard limits that are not unlimited, by `/proc/self/limits` name. */
  hardLimits: ReadonlyMap<string, number>;
  /** Processes the steps' user already runs (rlimit mode only: RLIMIT_NPROC counts them). */
  tasks: number;
}

/** Reads what `rlimitArgv` needs: this process's hard limits, the user's running tasks. */
export async function rlimitFacts(
  prlimit: string,
  limits: RunLimits,
  mode: LimitsMode = 'rlimit',
  runUid: number = process.getuid?.() ?? 0
): Promise<RlimitFacts> {
  return {
    prlimit,
    limits,
    mode,
    hardLimits: await ownHardLimits(),
    tasks: mode === 'rlimit' ? await tasksOfUser(runUid) : 0
  };
}

/** The `prlimit` prefix of `rlimitLauncher`, from its facts (pure). */
export function rlimitArgv(facts: RlimitFacts): string[] {
  const { prlimit, limits, mode, hardLimits } = facts;
  const cap = (name: string, value: number): number =>
    Math.min(value, hardLimits.get(name) ?? Infinity);
  const fileBytes = cap('file size', Math.floor(limits.diskMiB * 1024 * 1024));
  const nofileHard = cap('open files', OPEN_FILES_LIMIT.hard);
  const nofileSoft = Math.min(OPEN_FILES_LIMIT.soft, nofileHard);
  const argv = [
    prlimit,
    `--fsize=${fileBytes}:${fileBytes}`,
    `--nofile=${nofileSoft}:${nofileHard}`
  ];
  if (mode === 'rlimit') {
    const memory = cap(
      'address space',
      Math.floor(limits.memoryMiB * 1024 * 1024)
    );
    const nproc = cap('processes', limits.pids + facts.tasks);
    argv.push(`--as=${memory}:${memory}`, `--nproc=${nproc}:${nproc}`);
  }
  return [...argv, '--'];
}

/** This process's hard limits that are not unlimited, by `/proc/self/limits` name ("open files"). */
async function ownHardLimits(): Promise<Map<string, number>> {
  hardLimits ??= readFile('/proc/self/limits', 'utf8').then(
    text => {
      const found = new Map<string, number>();
      for (const line of text.split('\n')) {
        const match = /^Max ([a-z ]+?)\s{2,}\S+\s+(\d+)\s/.exec(line);
        if (match) {
          found.set(match[1], Number(match[2]));
        }
      }
      return found;
    },
    () => new Map<string, number>()
  );
  return hardLimits;
}
let hardLimits: Promise<Map<string, number>> | undefined;

/**
 * Whether a failed step hit RLIMIT_FSIZE: the kernel ended it with SIGXFSZ (exit code 128 + 25),
 * or it ignores that signal (Python does) and reported the write's EFBIG error.
 */
export function hitFileSizeLimit(
  exitCode: number,
  stderrTail: string
): boolean {
  return exitCode === 128 + 25 || /File too large|EFBIG/.test(stderrTail);
}

/** Tasks (threads included: RLIMIT_NPROC counts them) whose real uid is `uid`. */
export async function tasksOfUser(uid: number): Promise<number> {
  let count = 0;
  const pids = (await readdir('/proc')).filter(name => /^\d+$/.test(name));
  await Promise.all(
    pids.map(async pid => {
      try {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const real = /^Uid:\s+(\d+)/m.exec(status);
        const threads = /^Threads:\s+(\d+)/m.exec(status);
        if (real && Number(real[1]) === uid) {
          count += threads ? Number(threads[1]) : 1;
        }
      } catch {
        // gone
      }
    })
  );
  return count;
}

/**
 * Whether a failed step's error output says it ran out of memory (rlimit mode, where nothing is
 * killed: the allocation fails and the program reports it).
 */
export function looksOutOfMemory(stderrTail: string): boolean {
  return /MemoryError|Cannot allocate memory|std::bad_alloc|[Oo]ut of memory|OutOfMemoryError|cannot allocate|memory exhausted|failed to allocate|unable to allocate/.test(
    stderrTail
  );
}
