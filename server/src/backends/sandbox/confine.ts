/**
 * Confinement of sandbox steps without namespaces: the helper (`rpz-exec run --confine …`, see
 * `helpers/confine.c`) applies no-new-privileges, Landlock and a seccomp filter right before it
 * executes the step's program. Under proot, where user namespaces are refused (Binder), that is
 * what keeps the experiment off the user's files, the network and other processes' secrets; under
 * bubblewrap it adds to the namespaces (no TCP, no signals out, no io_uring, no keys…).
 *
 * What holds is found at start, from inside (`rpz-exec confine-probe`, run by `detect.ts` under
 * the chosen mechanism, as steps run), never assumed: the Landlock ABI in force, the filter, and
 * whether a TCP connection to a listener of the server, a host file outside the rules and the
 * server's /proc/PID/environ are refused, and signals to it.
 *
 * proot executes its "loader" at each execve of the tracee; by default an unlinked copy in the
 * host's temporary folder, which Landlock would refuse to execute. So the server keeps a copy of
 * it (`extractProotLoader`), hands it to proot (`PROOT_LOADER`) and binds it at
 * `PROOT_LOADER_IN_GUEST`, where the confinement allows reading and executing it.
 *
 * `REPROSERVER_CONFINE=off` (administrators; tests of the weak mode) turns it off; `auto`
 * (default) confines as far as the probe found.
 */
import { spawn } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  writeFile
} from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Confinement } from '../../contract/wire';
import { killProot, traceesOf } from './proot-tracees';

export type ConfineMode = 'auto' | 'off';

/** `REPROSERVER_CONFINE`: `auto` (default) or `off`. */
export function confineModeFromEnv(
  env: Record<string, string | undefined> = process.env
): ConfineMode | Error {
  const value = env.REPROSERVER_CONFINE || 'auto';
  if (value === 'auto' || value === 'off') {
    return value;
  }
  return new Error(`REPROSERVER_CONFINE is "${value}": use auto or off.`);
}

/** Where a proot step finds proot's loader (bound from the server's copy). */
export const PROOT_LOADER_IN_GUEST = '/.reproserver/proot-loader';
/** Where the helper is bound in every sandbox. */
const HELPER_IN_GUEST = '/.reproserver/rpz-exec';
/** The devices a proot sandbox gets from the host (bubblewrap makes its own minimal /dev). */
export const PROOT_DEVICES = [
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/random',
  '/dev/urandom'
];

/** What the probe found: the wire's facts, plus whether files and network were out of reach. */
export interface ProbedConfinement extends Confinement {
  /** A host file outside the rules was unreadable (proot; under bubblewrap, its namespaces). */
  files: boolean;
  /** Neither a TCP connection to the host's loopback nor a UDP socket could be made. */
  network: boolean;
}

/**
 * The helper's confinement options (before the program) for a step of this mechanism. bubblewrap: everything the step sees is its own (its root, its /dev,
 * /proc of its pid namespace), so all of it is writable as far as mounts and modes allow. proot:
 * the step's root (the run's copy), its /dev/shm and devices are writable; /proc, /sys, the
 * helper and proot's loader only readable; nothing else of the host at all.
 */
export function confinementArgs(mechanism: 'bwrap' | 'proot'): string[] {
  if (mechanism === 'bwrap') {
    return ['--confine', '--write', '/'];
  }
  return [
    '--confine',
    '--write',
    '/',
    '--write',
    '/dev/shm',
    ...PROOT_DEVICES.flatMap(device => ['--write', device]),
    '--read',
    '/proc',
    '--read',
    '/sys',
    '--read',
    HELPER_IN_GUEST,
    '--read',
    PROOT_LOADER_IN_GUEST
  ];
}

/** What the probe can try from inside, set up on the host side by `withProbeTargets`. */
export interface ProbeTargets {
  /** A TCP listener on 127.0.0.1. */
  tcpPort: number;
  /** A host file that no rule allows (the probe gets it bound at `OUTSIDE_FILE_IN_GUEST`). */
  outsideFile: string;
  /** A process outside the sandbox, of the server's user: the server. */
  pid: number;
}

/** Where the probe's sandbox binds `ProbeTargets.outsideFile`. */
export const OUTSIDE_FILE_IN_GUEST = '/.reproserver/probe-outside';

/** The helper's arguments for the probe: `confine-probe`, the confinement, what to try. */
export function confineProbeArgs(
  confine: string[],
  targets: ProbeTargets
): string[] {
  return [
    'confine-probe',
    ...confine,
    '--try-tcp',
    String(targets.tcpPort),
    '--try-read',
    OUTSIDE_FILE_IN_GUEST,
    '--try-pid',
    String(targets.pid)
  ];
}

/** Runs `use` with a TCP listener and a host file for the probe; removes both afterwards. */
export async function withProbeTargets<T>(
  use: (targets: ProbeTargets) => Promise<T>
): Promise<T> {
  const folder = await mkdtemp(join(tmpdir(), 'reproserver-confine-probe-'));
  const outsideFile = join(folder, 'outside');
  await writeFile(outsideFile, 'a host file no rule allows\n', { mode: 0o644 });
  chmodSync(folder, 0o755);
  const server: Server = createServer(socket => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const tcpPort = typeof address === 'object' && address ? address.port : 0;
    return await use({ tcpPort, outsideFile, pid: process.pid });
  } finally {
    await new Promise<void>(resolve => server.close(() => resolve()));
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * What the probe's output says holds; null when nothing does (no filter: the helper could not
 * confine, or the output is not the probe's). `files`: whether the host file was refused (only
 * meaningful under proot: under bubblewrap a bound file is part of the sandbox's own tree).
 */
export function parseConfineProbe(stdout: string): ProbedConfinement | null {
  const lines = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0 && !lines.has(line.slice(0, space))) {
      lines.set(line.slice(0, space), line.slice(space + 1));
    }
  }
  const abi = Number(lines.get('landlock'));
  if (lines.get('seccomp') !== 'on' || !Number.isInteger(abi) || abi < 0) {
    return null;
  }
  const refused = (what: string, word: string): boolean =>
    lines.get(what)?.split(' ')[0] === word;
  return {
    landlockAbi: abi > 0 ? abi : null,
    seccomp: true,
    processSecrets: refused('environ', 'unreadable'),
    signals: refused('signal', 'denied'),
    files: abi > 0 && refused('read', 'unreadable'),
    network: refused('tcp', 'refused') && refused('udp', 'refused')
  };
}

/** How long proot gets to start its tracee when the loader is copied. */
const LOADER_WAIT_MS = 5000;

/**
 * Copies proot's loader into a folder of this process (removed when it exits): proot runs the
 * helper idle in an empty root, and the loader is the `prooted-*` file its tracee has mapped.
 * Null when it cannot be found (a proot without a loader, or another layout).
 */
export async function extractProotLoader(
  program: string,
  helper: string
): Promise<string | null> {
  const folder = await mkdtemp(join(tmpdir(), 'reproserver-proot-loader-'));
  process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  const empty = join(folder, 'root');
  await mkdir(empty);
  const child = spawn(
    program,
    [
      '-v',
      '-1',
      '-r',
      empty,
      '-b',
      `${helper}:/rpz-exec`,
      '/rpz-exec',
      '--idle'
    ],
    { stdio: 'ignore', detached: true, env: { PROOT_TMP_DIR: folder } }
  );
  const exited = new Promise<void>(resolve =>
    child.once('close', () => resolve())
  );
  child.once('error', () => undefined);
  try {
    const deadline = Date.now() + LOADER_WAIT_MS;
    while (
      child.pid !== undefined &&
      child.exitCode === null &&
      Date.now() < deadline
    ) {
      const path = await mappedLoader(child.pid);
      if (path) {
        const copy = join(folder, 'loader');
        await copyFile(path, copy);
        chmodSync(copy, 0o755);
        chmodSync(folder, 0o755);
        return copy;
      }
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    return null;
  } catch {
    return null;
  } finally {
    if (child.pid !== undefined) {
      await killProot(child.pid);
    }
    await exited;
    rmSync(empty, { recursive: true, force: true });
  }
}

/** The loader file a tracee of proot `pid` has mapped (proot keeps it while it runs). */
async function mappedLoader(pid: number): Promise<string | null> {
  for (const tracee of await traceesOf(pid)) {
    const maps = await readFile(`/proc/${tracee}/maps`, 'utf8').catch(() => '');
    const match = / (\/\S*\/prooted-[^/\s]+)$/m.exec(maps);
    if (match) {
      return match[1];
    }
  }
  return null;
}

/** The sandbox facts a step's confinement depends on (`detect.ts`'s `SandboxStatus`). */
interface ConfinedSandbox {
  mechanism: 'bwrap' | 'proot' | null;
  confinement?: ProbedConfinement;
  prootLoader?: string;
}

/** The helper's options for one step (after `run`): [] when steps are not confined. */
export function stepConfinementArgs(sandbox: ConfinedSandbox): string[] {
  return sandbox.confinement && sandbox.mechanism
    ? confinementArgs(sandbox.mechanism)
    : [];
}

/**
 * What proot needs for a confined step: its loader bound where the confinement allows executing
 * it, and named by `PROOT_LOADER` (else proot executes an unlinked copy of its own, out of reach).
 */
export function prootConfinement(sandbox: ConfinedSandbox): {
  binds: string[];
  env: Record<string, string>;
} {
  if (!sandbox.confinement || !sandbox.prootLoader) {
    return { binds: [], env: {} };
  }
  return {
    binds: ['-b', `${sandbox.prootLoader}:${PROOT_LOADER_IN_GUEST}`],
    env: { PROOT_LOADER: sandbox.prootLoader }
  };
}
