/**
 * Which sandbox mechanism works on this host, found by really running one: bubblewrap (user
 * namespaces: own root, pid, network, UTS and IPC namespaces) when the kernel lets unprivileged
 * users create user namespaces, else proot (ptrace: works almost anywhere, isolates the
 * filesystem view only).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { LimitEnforcement } from '../isolation-facts';
import { helperPath as defaultHelperPath } from '../docker/helper-path';
import { SANDBOX_ROOT_CAPABILITIES } from './capabilities';
import {
  OUTSIDE_FILE_IN_GUEST,
  PROOT_DEVICES,
  PROOT_LOADER_IN_GUEST,
  confineModeFromEnv,
  confineProbeArgs,
  confinementArgs,
  extractProotLoader,
  parseConfineProbe,
  withProbeTargets,
  type ProbedConfinement
} from './confine';
import {
  bwrapProbeMounts,
  describeIds,
  probeIdMapping,
  type IdMapping
} from './identity';
import { filterArgs, supervisorArgv } from './emulated-ids';
import { detectLimits, type LimitsMode } from './limits';
import { probeOverlay, type OverlayPrograms } from './overlay';
import {
  dropPrivilegesArgv,
  needsRunUser,
  probeDrop,
  sandboxRunsDir,
  sandboxUidBase,
  takeRunUser
} from './run-user';

export type SandboxMechanism = 'bwrap' | 'proot';

export interface SandboxStatus {
  available: boolean;
  mechanism: SandboxMechanism | null;
  /** One sentence for `GET /api/backends`: what runs, how it is isolated, how limits work. */
  detail: string;
  /** Absolute path of the mechanism's program. */
  program?: string;
  version?: string;
  limits?: LimitsMode;
  /** `prlimit`, for rlimit mode. */
  prlimit?: string;
  /** How each run gets its own root: an overlay of the cache (bubblewrap) or a copy. */
  isolation?: 'overlay' | 'copy';
  /** The programs that set up overlays, when they work here. */
  overlay?: OverlayPrograms;
  /**
   * bubblewrap: whether steps run with `--disable-userns` (bubblewrap ≥ 0.8), so an experiment
   * cannot create user namespaces of its own (and hold capabilities in them).
   */
  disableUserns?: boolean;
  /*
   * Facts for the isolation statement of `GET /api/backends` (`backends/detect.ts`), set where
   * the runner changes them.
   */
  /** Capabilities a root step keeps in its user namespace (names without `CAP_`); unset: all. */
  rootCapabilities?: string[];
  /** How the run's disk use is bounded; unset: not at all. */
  diskLimit?: LimitEnforcement;
  /**
   * proot under a root server: each run runs as an unprivileged user id of its own (`run-user.ts`),
   * dropped to by `setpriv`, with its folder in `runsDir`. Unset: runs run as the server's user.
   */
  runUser?: { setpriv: string; uidBase: number; runsDir: string };
  /**
   * bubblewrap: how a range of ids is mapped for each run (`identity.ts`), so steps may change
   * user; unset: one id per step (changing user fails), and `idsWhy` says why.
   */
  ids?: IdMapping;
  idsWhy?: string;
  /**
   * Whether the helper's supervisor can emulate identity changes here (probed at start with
   * `ids-check`, `emulated-ids.ts`): where no range is mapped, steps run under it; where it cannot,
   * they run with one id and changes of user fail (`idsEmulationWhy` says why).
   */
  idsEmulation?: boolean;
  idsEmulationWhy?: string;
  /**
   * What the helper's confinement of each step holds, as probed from inside at start
   * (`confine.ts`); unset: steps are not confined (`REPROSERVER_CONFINE=off`, or it does not work
   * here, and `confinementWhy` says why).
   */
  confinement?: ProbedConfinement;
  confinementWhy?: string;
  /** proot: the server's copy of proot's loader, which confined steps execute (`confine.ts`). */
  prootLoader?: string;
}

export interface DetectOptions {
  /** Use only this mechanism (tests, or an administrator's choice). */
  mechanism?: SandboxMechanism;
  helperPath?: string;
}

const cache = new Map<string, Promise<SandboxStatus>>();

/**
 * The mechanism an administrator chose with `REPROSERVER_SANDBOX` (`bwrap`, `proot`; `auto` or
 * unset: the first that works), for the server and the CLI alike.
 */
export function mechanismFromEnv(
  env: Record<string, string | undefined> = process.env
): SandboxMechanism | 'auto' | Error {
  const value = env.REPROSERVER_SANDBOX || 'auto';
  if (value === 'auto' || value === 'bwrap' || value === 'proot') {
    return value;
  }
  return new Error(
    `REPROSERVER_SANDBOX is "${value}": use bwrap, proot or auto.`
  );
}

/** Probes once per process and mechanism choice; later calls get the same answer. */
export function detectSandbox(
  options: DetectOptions = {}
): Promise<SandboxStatus> {
  const chosen = options.mechanism ?? mechanismFromEnv();
  if (chosen instanceof Error) {
    return Promise.resolve(unavailable(`Sandbox: ${chosen.message}`));
  }
  options = chosen === 'auto' ? options : { ...options, mechanism: chosen };
  const key = `${options.mechanism ?? 'auto'}\0${options.helperPath ?? ''}\0${String(confineModeFromEnv())}`;
  let found = cache.get(key);
  if (!found) {
    found = probe(options);
    cache.set(key, found);
  }
  return found;
}

async function probe(options: DetectOptions): Promise<SandboxStatus> {
  let helper: string;
  try {
    helper = options.helperPath ?? defaultHelperPath();
  } catch (error) {
    return unavailable(`Sandbox: ${(error as Error).message}`);
  }
  const order: SandboxMechanism[] = options.mechanism
    ? [options.mechanism]
    : ['bwrap', 'proot'];
  const failures: string[] = [];
  for (const mechanism of order) {
    const program = which(mechanism);
    if (!program) {
      failures.push(`${mechanism} is not installed`);
      continue;
    }
    let disableUserns: boolean | undefined;
    let result: string | null;
    let runUser: SandboxStatus['runUser'];
    if (needsRunUser(mechanism)) {
      const found = runUserOf();
      if (typeof found === 'string') {
        failures.push(found);
        continue;
      }
      runUser = found;
    }
    if (mechanism === 'bwrap') {
      result = await probeBwrap(program, helper, BWRAP_NO_NESTED_USERNS);
      disableUserns = result === null;
      if (!disableUserns) {
        result = await probeBwrap(program, helper, []);
      }
    } else {
      result = (await probeProot(program, helper, runUser)).error;
    }
    if (result !== null) {
      failures.push(`${mechanism} does not work here (${result})`);
      continue;
    }
    const version = await versionOf(program);
    const limits = await detectLimits();
    const overlay =
      mechanism === 'bwrap'
        ? ((await probeOverlay(helper)) ?? undefined)
        : undefined;
    const prlimit = which('prlimit') ?? undefined;
    // REPROSERVER_SANDBOX_IDS=one: one id per step even where a range could be mapped.
    const ids =
      mechanism !== 'bwrap'
        ? 'proot maps no ids (it has no user namespace): changes of user are emulated'
        : process.env.REPROSERVER_SANDBOX_IDS === 'one'
          ? 'REPROSERVER_SANDBOX_IDS is "one"'
          : await probeIdMapping(program, BWRAP_NAMESPACES, helper);
    // Probed even where a range is mapped: a run may still need it (a package whose common
    // owner does not fit in the range, or REPROSERVER_SANDBOX_IDS=one).
    const emulation = await probeIdEmulation(helper);
    const confined = await probeConfinement(
      mechanism,
      program,
      helper,
      runUser,
      disableUserns
    );
    const name =
      mechanism === 'bwrap'
        ? `bubblewrap ${version}`.trim()
        : `proot ${version}`.trim();
    const isolation =
      mechanism === 'bwrap'
        ? `user namespaces; no network; own process tree and hostname; no capabilities but a few for root steps, in their own namespace; ${disableUserns ? 'no nested user namespaces' : 'nested user namespaces ALLOWED (this bubblewrap has no --disable-userns)'}; ${describeConfinement(confined)}`
        : `ptrace; ${describeProotReach(confined.confinement)}; no hostname; ${describeConfinement(confined)}; ${runUser ? `each run as an unprivileged user id of its own (from ${runUser.uidBase}), not as root, with no capabilities` : "steps run as the server's user"}`;
    return {
      available: true,
      mechanism,
      detail: `Sandbox: ${name} (${isolation}; each run on ${overlay ? 'an overlay' : 'a copy'} of the unpacked package; ${describeLimits(limits, prlimit)}; ${describeIds(mechanism, typeof ids === 'string' ? null : ids, emulation)}).`,
      program,
      version,
      limits,
      prlimit,
      isolation: overlay ? 'overlay' : 'copy',
      overlay,
      ...(disableUserns === undefined ? {} : { disableUserns }),
      ...(mechanism === 'bwrap'
        ? {
            rootCapabilities: SANDBOX_ROOT_CAPABILITIES.map(cap =>
              cap.replace(/^CAP_/, '')
            ).sort()
          }
        : {}),
      // Every run's writable tree is measured while it runs (`disk-watch.ts`).
      diskLimit: 'polling',
      ...(runUser ? { runUser } : {}),
      ...(typeof ids === 'string' ? { idsWhy: ids } : { ids }),
      ...(emulation === null
        ? { idsEmulation: true }
        : { idsEmulation: false, idsEmulationWhy: emulation }),
      ...confined
    };
  }
  return unavailable(`Sandbox unavailable: ${failures.join('; ')}.`);
}

function describeLimits(
  limits: LimitsMode,
  prlimit: string | undefined
): string {
  const files = prlimit
    ? 'file size and open files by rlimit'
    : 'no file size or open-files limit (prlimit is missing)';
  const disk = 'disk use measured every second';
  if (limits !== 'rlimit') {
    return `memory, processes and CPU limited by ${limits === 'cgroup-v2' ? 'cgroup v2' : 'cgroup v1'}, ${files}, ${disk}`;
  }
  if (!prlimit) {
    return `no memory or process limits (prlimit is missing), ${files}, ${disk}`;
  }
  return `memory limited by rlimit (address space; out-of-memory inferred from the error message), processes by RLIMIT_NPROC (per user), ${files}, ${disk}, no CPU limit`;
}

function unavailable(detail: string): SandboxStatus {
  return { available: false, mechanism: null, detail };
}

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(
    delimiter
  )) {
    const candidate = join(dir, name);
    if (dir !== '' && existsSync(candidate)) {
      return candidate;
    }
  }
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
    if (existsSync(join(dir, name))) {
      return join(dir, name);
    }
  }
  return null;
}

/** Runs a command; resolves null when it exited 0, else a short reason. */
async function attempt(
  argv: string[],
  env: Record<string, string> = {}
): Promise<string | null> {
  return (await capture(argv, env)).error;
}

/** Most of a probe's output that is kept. */
const MAX_PROBE_OUTPUT = 64 * 1024;

/** Runs a command; resolves with what it printed, and null when it exited 0, else a reason. */
function capture(
  argv: string[],
  env: Record<string, string> = {}
): Promise<Captured> {
  return new Promise(resolve => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      timeout: 10_000
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString()).slice(0, MAX_PROBE_OUTPUT);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(0, MAX_PROBE_OUTPUT);
    });
    child.on('error', error => resolve({ error: error.message, stdout }));
    child.on('close', (code, signal) =>
      resolve({
        error:
          code === 0
            ? null
            : stderr.trim().split('\n')[0] || `exit ${code ?? signal}`,
        stdout
      })
    );
  });
}

function probeBwrap(
  program: string,
  helper: string,
  extra: string[]
): Promise<string | null> {
  return attempt([
    program,
    ...BWRAP_NAMESPACES,
    ...extra,
    ...bwrapProbeMounts(helper),
    '/rpz-exec',
    'oom-kills'
  ]);
}

/**
 * What a root server needs to run proot without root (`run-user.ts`): `setpriv`, a valid range
 * of ids; a sentence when something is missing (proot is then not used).
 */
function runUserOf(): NonNullable<SandboxStatus['runUser']> | string {
  const uidBase = sandboxUidBase();
  if (uidBase instanceof Error) {
    return `proot cannot run here (${uidBase.message})`;
  }
  const setpriv = which('setpriv');
  if (!setpriv) {
    return "proot is not used by a root server without setpriv (util-linux): it would give the experiment this server's root privileges; install setpriv, use bubblewrap (it works as root) or run the server as a normal user";
  }
  return { setpriv, uidBase, runsDir: sandboxRunsDir() };
}

/**
 * Runs the helper under proot in an empty root, as runs will run it: under a root server, as an
 * unprivileged id, from a folder of its own in the runs' folder, with a copy of the helper.
 */
async function probeProot(
  program: string,
  helper: string,
  runUser: SandboxStatus['runUser'],
  how: ProotProbe = { args: ['oom-kills'], binds: [] }
): Promise<Captured> {
  const loaderEnv = (loader: string): Record<string, string> =>
    how.loader ? { PROOT_LOADER: loader } : {};
  if (!runUser) {
    const root = await mkdtemp(join(tmpdir(), 'reproserver-proot-probe-'));
    try {
      return await capture(
        prootProbeArgv(program, root, helper, how, how.loader),
        { PROOT_TMP_DIR: tmpdir(), ...loaderEnv(how.loader ?? '') }
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  let user;
  try {
    user = await takeRunUser(runUser.uidBase, runUser.runsDir);
  } catch (error) {
    return {
      error: `no user id or folder for runs in ${runUser.runsDir} (REPROSERVER_SANDBOX_RUNS_DIR): ${(error as Error).message}`,
      stdout: ''
    };
  }
  const folder = user.folder;
  try {
    const dropped = await probeDrop(runUser.setpriv, user);
    if (dropped !== null) {
      return {
        error: `setpriv cannot drop to an unprivileged user: ${dropped}`,
        stdout: ''
      };
    }
    const root = join(folder, 'root');
    const tmp = join(folder, 'tmp');
    await mkdir(root, { mode: 0o700 });
    await mkdir(tmp, { mode: 0o700 });
    await copyFile(helper, join(folder, 'rpz-exec'));
    const loader = join(folder, 'proot-loader');
    if (how.loader) {
      await copyFile(how.loader, loader);
      await chmod(loader, 0o755);
    }
    for (const path of [root, tmp]) {
      await chown(path, user.uid, user.gid);
    }
    await chown(folder, 0, user.gid);
    await chmod(folder, 0o710);
    return await capture(
      [
        ...dropPrivilegesArgv(runUser.setpriv, user),
        ...prootProbeArgv(
          program,
          root,
          join(folder, 'rpz-exec'),
          how,
          how.loader ? loader : undefined
        )
      ],
      { PROOT_TMP_DIR: tmp, ...loaderEnv(loader) }
    );
  } finally {
    await user.release();
  }
}

/**
 * Whether the helper's supervisor emulates identity changes here: it runs the helper's
 * `ids-check` (raw setresuid to 4242, then getuid) under `emulate-ids`, as a step runs, as this
 * server's user. Null when it works, else why not (no seccomp user notification in this kernel,
 * a helper built without emulation for this architecture).
 */
async function probeIdEmulation(helper: string): Promise<string | null> {
  const checked = await capture(
    supervisorArgv(
      helper,
      { uid: 0, gid: 0, common: [0, 0], sinceMs: Date.now(), owners: '-' },
      [
        helper,
        'run',
        ...filterArgs('bwrap'),
        helper,
        '0',
        '--',
        'rpz-exec',
        'ids-check'
      ],
      '-'
    )
  );
  return checked.stdout.trim() === 'ids-check ok'
    ? null
    : `identity emulation does not work here (${checked.stdout.trim().split('\n')[0] || checked.error || 'no answer'})`;
}

/** The namespaces every bubblewrap sandbox gets. */
export const BWRAP_NAMESPACES = [
  '--unshare-user',
  '--unshare-pid',
  '--unshare-net',
  '--unshare-uts',
  '--unshare-ipc',
  '--unshare-cgroup-try',
  '--die-with-parent',
  '--new-session'
];

/** Forbids user namespaces inside the sandbox (bubblewrap ≥ 0.8; needs `--unshare-user`). */
export const BWRAP_NO_NESTED_USERNS = ['--disable-userns'];

function versionOf(program: string): Promise<string> {
  return new Promise(resolve => {
    const child = spawn(program, ['--version'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 5000
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', () => resolve(''));
    child.on('close', () => {
      const match = /(\d+\.\d+(?:\.\d+)?)/.exec(out);
      resolve(match ? match[1] : '');
    });
  });
}

/**
 * proot running the helper in an empty root: its harmless `oom-kills` mode (does proot work
 * here?), or the confinement probe, with the binds a step gets.
 */
function prootProbeArgv(
  program: string,
  root: string,
  helper: string,
  how: ProotProbe,
  loader: string | undefined
): string[] {
  return [
    program,
    '-v',
    '-1',
    '-r',
    root,
    ...how.binds.flatMap(([from, to]) => ['-b', `${from}:${to}`]),
    ...(loader ? ['-b', `${loader}:${PROOT_LOADER_IN_GUEST}`] : []),
    '-b',
    `${helper}:${HELPER_IN_GUEST}`,
    HELPER_IN_GUEST,
    ...how.args
  ];
}

/** Where the helper is in every sandbox. */
const HELPER_IN_GUEST = '/.reproserver/rpz-exec';

/** What a proot probe runs: the helper's arguments, host paths to bind, proot's loader. */
interface ProotProbe {
  args: string[];
  binds: [string, string][];
  loader?: string;
}

/** A finished command: null or a short reason, and what it printed. */
interface Captured {
  error: string | null;
  stdout: string;
}

/**
 * Whether and how far steps can be confined here (`confine.ts`): runs the confinement probe as
 * a step would run, and keeps what it found. Nothing with `REPROSERVER_CONFINE=off`.
 */
async function probeConfinement(
  mechanism: SandboxMechanism,
  program: string,
  helper: string,
  runUser: SandboxStatus['runUser'],
  disableUserns: boolean | undefined
): Promise<
  Pick<SandboxStatus, 'confinement' | 'confinementWhy' | 'prootLoader'>
> {
  const mode = confineModeFromEnv();
  if (mode instanceof Error) {
    return { confinementWhy: mode.message };
  }
  if (mode === 'off') {
    return { confinementWhy: 'turned off by REPROSERVER_CONFINE=off' };
  }
  const loader =
    mechanism === 'proot'
      ? await extractProotLoader(program, helper)
      : undefined;
  if (loader === null) {
    return { confinementWhy: "proot's loader could not be found" };
  }
  const found = await withProbeTargets(async targets => {
    const args = confineProbeArgs(confinementArgs(mechanism), targets);
    if (mechanism === 'bwrap') {
      return capture([
        program,
        ...BWRAP_NAMESPACES,
        ...(disableUserns ? BWRAP_NO_NESTED_USERNS : []),
        '--ro-bind',
        helper,
        HELPER_IN_GUEST,
        '--ro-bind',
        targets.outsideFile,
        OUTSIDE_FILE_IN_GUEST,
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        HELPER_IN_GUEST,
        ...args
      ]);
    }
    return probeProot(program, helper, runUser, {
      args,
      binds: [
        ['/proc', '/proc'],
        ['/sys', '/sys'],
        ...PROOT_DEVICES.map((device): [string, string] => [device, device]),
        [targets.outsideFile, OUTSIDE_FILE_IN_GUEST]
      ],
      loader
    });
  });
  const confinement =
    found.error === null ? parseConfineProbe(found.stdout) : null;
  if (!confinement) {
    return {
      confinementWhy: `the helper could not confine a step (${found.error ?? found.stdout.trim().split('\n')[0] ?? 'no output'})`
    };
  }
  return { confinement, ...(loader ? { prootLoader: loader } : {}) };
}

/** What a proot step reaches, with or without confinement, said plainly. */
function describeProotReach(
  confinement: ProbedConfinement | undefined
): string {
  if (!confinement) {
    return 'files only: NO network isolation, host processes visible and reachable; not a security boundary';
  }
  return [
    confinement.files
      ? 'no host files outside the run'
      : 'host files REACHABLE',
    confinement.network ? 'no network' : 'NO network isolation',
    `host processes visible${confinement.processSecrets ? ', their environments and memory unreadable' : ', their environments READABLE'}${confinement.signals ? ', no signals to them' : ', signals ALLOWED'}`
  ].join(', ');
}

/** The confinement in force, as the probe found it. */
function describeConfinement(
  found: Pick<SandboxStatus, 'confinement' | 'confinementWhy'>
): string {
  const { confinement } = found;
  if (!confinement) {
    return `steps not confined: ${found.confinementWhy ?? 'unknown'}`;
  }
  return `steps confined by ${confinement.landlockAbi ? `Landlock ABI ${confinement.landlockAbi}` : 'no Landlock (the kernel has none)'} and a seccomp filter`;
}
