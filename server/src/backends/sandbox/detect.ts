/**
 * Which sandbox mechanism works on this host, found by really running one: bubblewrap (user
 * namespaces: own root, pid, network, UTS and IPC namespaces) when the kernel lets unprivileged
 * users create user namespaces, else proot (ptrace: works almost anywhere, isolates the
 * filesystem view only).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { helperPath as defaultHelperPath } from '../docker/helper-path';
import { detectLimits, type LimitsMode } from './limits';
import { probeOverlay, type OverlayPrograms } from './overlay';

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
}

export interface DetectOptions {
  /** Use only this mechanism (tests, or an administrator's choice). */
  mechanism?: SandboxMechanism;
  helperPath?: string;
}

const cache = new Map<string, Promise<SandboxStatus>>();

/** Probes once per process and mechanism choice; later calls get the same answer. */
export function detectSandbox(
  options: DetectOptions = {}
): Promise<SandboxStatus> {
  const key = `${options.mechanism ?? 'auto'}\0${options.helperPath ?? ''}`;
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
    const result =
      mechanism === 'bwrap'
        ? await probeBwrap(program, helper)
        : await probeProot(program, helper);
    if (result !== null) {
      failures.push(`${mechanism} does not work here (${result})`);
      continue;
    }
    const version = await versionOf(program);
    const limits = await detectLimits();
    const overlay =
      mechanism === 'bwrap' ? ((await probeOverlay()) ?? undefined) : undefined;
    const prlimit = which('prlimit') ?? undefined;
    const name =
      mechanism === 'bwrap'
        ? `bubblewrap ${version}`.trim()
        : `proot ${version}`.trim();
    const isolation =
      mechanism === 'bwrap'
        ? 'user namespaces; no network; own process tree and hostname'
        : 'ptrace; files only: NO network isolation, host processes visible, no hostname; not a security boundary';
    return {
      available: true,
      mechanism,
      detail: `Sandbox: ${name} (${isolation}; each run on ${overlay ? 'an overlay' : 'a copy'} of the unpacked package; ${describeLimits(limits, prlimit)}; ownership emulated).`,
      program,
      version,
      limits,
      prlimit,
      isolation: overlay ? 'overlay' : 'copy',
      overlay
    };
  }
  return unavailable(`Sandbox unavailable: ${failures.join('; ')}.`);
}

function describeLimits(
  limits: LimitsMode,
  prlimit: string | undefined
): string {
  if (limits !== 'rlimit') {
    return `memory, processes and CPU limited by ${limits === 'cgroup-v2' ? 'cgroup v2' : 'cgroup v1'}`;
  }
  if (!prlimit) {
    return 'no memory or process limits (prlimit is missing)';
  }
  return 'memory limited by rlimit (address space; out-of-memory inferred from the error message), processes by RLIMIT_NPROC (per user), no CPU limit';
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
function attempt(
  argv: string[],
  env: Record<string, string> = {}
): Promise<string | null> {
  return new Promise(resolve => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
      timeout: 10_000
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', error => resolve(error.message));
    child.on('close', (code, signal) =>
      resolve(
        code === 0
          ? null
          : stderr.trim().split('\n')[0] || `exit ${code ?? signal}`
      )
    );
  });
}

function probeBwrap(program: string, helper: string): Promise<string | null> {
  return attempt([
    program,
    ...BWRAP_NAMESPACES,
    '--ro-bind',
    helper,
    '/rpz-exec',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '/rpz-exec',
    'oom-kills'
  ]);
}

async function probeProot(
  program: string,
  helper: string
): Promise<string | null> {
  const root = await mkdtemp(join(tmpdir(), 'reproserver-proot-probe-'));
  try {
    return await attempt(
      [
        program,
        '-v',
        '-1',
        '-r',
        root,
        '-b',
        `${helper}:/rpz-exec`,
        '/rpz-exec',
        'oom-kills'
      ],
      { PROOT_TMP_DIR: tmpdir() }
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
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
