/**
 * The command line of one sandbox step: bubblewrap or proot around the helper, with the run's
 * confinement, its ids (a mapped user namespace, or the emulation supervisor) and its limits
 * launcher (`runner.ts` runs it).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunPlan, StepPlan } from '../../runs/plan';
import { bwrapCapabilityArgs } from './capabilities';
import {
  BWRAP_NAMESPACES,
  BWRAP_NO_NESTED_USERNS,
  type SandboxStatus
} from './detect';
import {
  PROOT_DEVICES,
  prootConfinement,
  stepConfinementArgs
} from './confine';
import {
  PROOT_UNDER_SUPERVISOR_ENV,
  filterArgs,
  ownersFile,
  supervisorArgv,
  type OwnedPath
} from './emulated-ids';
import { UserNamespace, helperAs, mappedCapabilityArgs } from './identity';
import {
  RunCgroup,
  cgroupLauncher,
  rlimitLauncher,
  type LimitsMode
} from './limits';
import { OverlayTree } from './overlay';
import { dropPrivilegesArgv, type RunUser } from './run-user';

/** Where the helper is inside every sandbox. */
export const HELPER = '/.reproserver/rpz-exec';

export interface StepContext {
  sandbox: SandboxStatus;
  /** The helper's path on the host, as the sandbox binds it. */
  helper: string;
  /** The run's own user, when the server is root and proot runs (`run-user.ts`). */
  runUser: RunUser | undefined;
  root: string;
  runDir: string;
  plan: RunPlan;
  group: RunCgroup | undefined;
  limitsMode: LimitsMode;
  overlay: OverlayTree | undefined;
  /** The run's user namespace with a range of ids mapped, when there is one (`identity.ts`). */
  ids: UserNamespace | undefined;
  /** Emulated identity changes (`emulated-ids.ts`), when steps run under the supervisor. */
  emulation: Emulation | undefined;
}

export interface Emulation {
  /** The run's start: entries born later are the run's. */
  sinceMs: number;
  /** The package's common owner. */
  common: readonly [number, number];
  /** What the supervisor's paths start with: the run's tree for proot, "" for bubblewrap. */
  prefix: string;
  /** Entries recorded with another owner than the common one, as the supervisor sees them. */
  recorded: OwnedPath[];
  /** What earlier steps' supervisors reported (later records win). */
  reported: OwnedPath[];
}

/** Where a bubblewrap step finds the owners file. */
const OWNERS_IN_SANDBOX = '/.reproserver/ids-owners';

/** Writes the owners file for the next step: recorded owners, then what earlier steps reported. */
export async function writeOwners(
  runDir: string,
  emulation: Emulation
): Promise<string> {
  const path = join(runDir, 'ids-owners');
  await writeFile(
    path,
    ownersFile([...emulation.recorded, ...emulation.reported]),
    { mode: 0o644 }
  );
  await chmod(path, 0o644);
  return path;
}

/** Size of a bubblewrap step's /dev/shm: Docker's default. */
const SHM_BYTES = 64 * 1024 * 1024;

/** The folder a proot run gets as /dev/shm (on disk: its disk use is measured with the tree's). */
export function prootShm(runDir: string): string {
  return join(runDir, 'shm');
}

/** proot's temporary folder for a run of its own user (proot's default is the host's /tmp). */
export function prootTmp(runDir: string): string {
  return join(runDir, 'tmp');
}

/** The command line that runs one step in the sandbox, with the environment to start it with. */
export async function stepCommand(
  context: StepContext,
  step: StepPlan
): Promise<{ argv: string[]; env: Record<string, string> }> {
  const { sandbox, helper, root, plan } = context;
  const environ = Object.entries(step.environ).map(
    ([name, value]) => `${name}=${value}`
  );
  const { emulation } = context;
  const exec = [
    HELPER,
    'run',
    // The filter of emulated ids goes first (`emulated-ids.ts`).
    ...(emulation ? filterArgs(sandbox.mechanism!) : []),
    // Landlock and seccomp, applied by the helper right before the program (`confine.ts`).
    ...stepConfinementArgs(sandbox),
    step.binary ?? '-',
    String(environ.length),
    ...environ,
    '--',
    ...step.argv
  ];
  let argv: string[];
  let env: Record<string, string> = {};
  const owners = emulation ? await writeOwners(context.runDir, emulation) : '';
  const supervised = (
    helperPath: string,
    ownersPath: string,
    command: string[]
  ): string[] =>
    emulation
      ? supervisorArgv(
          helperPath,
          {
            uid: step.uid,
            gid: step.gid,
            common: emulation.common,
            sinceMs: emulation.sinceMs,
            owners: ownersPath
          },
          command
        )
      : command;
  if (sandbox.mechanism === 'bwrap') {
    const { ids } = context;
    argv = [
      sandbox.program!,
      // In a mapped namespace (`identity.ts`): no namespace of bubblewrap's own; the helper
      // becomes the step's user, and the namespace forbids nested ones.
      ...(ids
        ? BWRAP_NAMESPACES.filter(option => option !== '--unshare-user')
        : BWRAP_NAMESPACES),
      '--hostname',
      plan.hostname,
      ...(ids ? [] : ['--uid', String(step.uid), '--gid', String(step.gid)]),
      '--bind',
      context.overlay ? context.overlay.merged : root,
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      // Its own /dev/shm, of Docker's default size (a tmpfs in memory: bounded), and a read-only
      // /dev around it: a root step could otherwise fill /dev's unbounded tmpfs.
      '--perms',
      '1777',
      '--size',
      String(SHM_BYTES),
      '--tmpfs',
      '/dev/shm',
      '--remount-ro',
      '/dev',
      '--ro-bind-try',
      '/sys',
      '/sys',
      '--ro-bind',
      helper,
      HELPER,
      ...(emulation ? ['--ro-bind', owners, OWNERS_IN_SANDBOX] : []),
      '--chdir',
      step.workingdir,
      '--clearenv',
      ...(ids
        ? mappedCapabilityArgs(step.uid, bwrapCapabilityArgs(step.uid))
        : bwrapCapabilityArgs(step.uid)),
      ...(sandbox.disableUserns && !ids ? BWRAP_NO_NESTED_USERNS : []),
      '--',
      ...(ids
        ? helperAs(exec, step)
        : supervised(HELPER, OWNERS_IN_SANDBOX, exec))
    ];
    if (context.overlay) {
      argv = [...context.overlay.enter(), ...argv];
    } else if (ids) {
      argv = [...ids.enter(), ...argv];
    }
  } else {
    const shm = prootShm(context.runDir);
    if (!context.runUser) {
      await mkdir(shm, { recursive: true, mode: 0o1777 });
    }
    const confined = prootConfinement(sandbox);
    const proot = [
      sandbox.program!,
      '-v',
      '-1',
      '-r',
      root,
      '-w',
      step.workingdir,
      // proot's own id emulation, unless the supervisor's answers (two would disagree).
      ...(emulation ? [] : ['-i', `${step.uid}:${step.gid}`]),
      '-b',
      '/proc',
      '-b',
      '/sys',
      ...PROOT_DEVICES.flatMap(device => ['-b', device]),
      '-b',
      `${shm}:/dev/shm`,
      '-b',
      `${helper}:${HELPER}`,
      ...confined.binds,
      ...exec
    ];
    argv = [
      // Under a root server: proot and all it runs as the run's own user, without privileges.
      ...(context.runUser && sandbox.runUser
        ? dropPrivilegesArgv(sandbox.runUser.setpriv, context.runUser)
        : []),
      // The supervisor outside proot, an ancestor of every process it traces.
      ...supervised(context.helper, owners, proot)
    ];
    env = {
      PROOT_TMP_DIR: context.runUser ? prootTmp(context.runDir) : tmpdir(),
      ...confined.env,
      ...(emulation ? PROOT_UNDER_SUPERVISOR_ENV : {})
    };
  }
  if (sandbox.prlimit) {
    argv = [
      ...(await rlimitLauncher(
        sandbox.prlimit,
        plan.limits,
        context.limitsMode,
        context.runUser?.uid
      )),
      ...argv
    ];
  }
  if (context.group) {
    const launcher = cgroupLauncher(context.group);
    return {
      argv: [...launcher.argv, ...argv],
      env: { ...env, ...launcher.env }
    };
  }
  return { argv, env };
}
