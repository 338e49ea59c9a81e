/**
 * The command line of one sandbox step, as a pure function of what the run decided: bubblewrap or
 * proot around the helper, with the run's confinement, its ids (a mapped user namespace, or the
 * emulation supervisor), its limits launchers and nothing of the host but the listed binds.
 *
 * Pure on purpose: no file is written, no process is asked, nothing is awaited, so that every
 * argument that matters for isolation is unit-tested (`test/unit/backends/sandbox/`). What needs
 * the disk or the kernel (the owners file, proot's /dev/shm folder, this process's limits) is done
 * by the caller beforehand (`step-command.ts`) and handed in as paths and facts.
 */
import type { StepPlan } from '../../runs/plan';
import { bwrapCapabilityArgs } from './capabilities';
import {
  PROOT_DEVICES,
  prootConfinement,
  stepConfinementArgs
} from './confine';
import {
  BWRAP_NAMESPACES,
  BWRAP_NO_NESTED_USERNS,
  type SandboxStatus
} from './detect';
import {
  PROOT_UNDER_SUPERVISOR_ENV,
  filterArgs,
  supervisorArgv
} from './emulated-ids';
import { helperAs, mappedCapabilityArgs } from './identity';
import { cgroupLauncher, rlimitArgv, type RlimitFacts } from './limits';
import { dropPrivilegesArgv } from './run-user';

/** Where the helper is inside every sandbox. */
export const HELPER = '/.reproserver/rpz-exec';

/** Where a bubblewrap step finds the owners file. */
export const OWNERS_IN_SANDBOX = '/.reproserver/ids-owners';

/** Size of a bubblewrap step's /dev/shm: Docker's default. */
export const SHM_BYTES = 64 * 1024 * 1024;

/** Everything one step's command line depends on. */
export interface StepArgvInput {
  /** The sandbox's probed facts (`detect.ts`). */
  sandbox: Pick<
    SandboxStatus,
    | 'mechanism'
    | 'program'
    | 'disableUserns'
    | 'confinement'
    | 'prootLoader'
    | 'runUser'
  >;
  /** The helper's path on the host, as the sandbox binds it. */
  helper: string;
  hostname: string;
  /** The run's tree on the host (proot's root; bubblewrap's unless there is an overlay). */
  root: string;
  step: Pick<
    StepPlan,
    'uid' | 'gid' | 'workingdir' | 'environ' | 'binary' | 'argv'
  >;
  /** bubblewrap over an overlay: the merged tree, and the prefix that enters its mount namespace. */
  overlay?: { merged: string; enter: readonly string[] };
  /** bubblewrap in the run's namespace with a range of ids mapped: the prefix that enters it. */
  ids?: { enter: readonly string[] };
  /** Steps under the supervisor of emulated ids: what it is told, and the owners file's host path. */
  emulation?: {
    common: readonly [number, number];
    sinceMs: number;
    owners: string;
  };
  /** proot: the host folders bound as the step's /dev/shm and used as proot's temporary folder. */
  proot?: { shm: string; tmpDir: string };
  /** proot under a root server: the run's own unprivileged ids (`run-user.ts`). */
  runUser?: { uid: number; gid: number };
  /** The `prlimit` launcher's facts, when `prlimit` is used (`limits.ts`). */
  rlimit?: RlimitFacts;
  /** The run's cgroup folders, when limits are cgroups. */
  cgroupDirs?: readonly string[];
}

/** A command to spawn: `argv[0] === file`; `env` is all of its environment. */
export interface StepArgv {
  file: string;
  argv: string[];
  env: Record<string, string>;
}

/** The command line that runs one step in the sandbox, with the environment to start it with. */
export function stepArgv(input: StepArgvInput): StepArgv {
  const { sandbox, step } = input;
  const mechanism = sandbox.mechanism;
  if (mechanism !== 'bwrap' && mechanism !== 'proot') {
    throw new Error('No sandbox mechanism to run the step with.');
  }
  const environ = Object.entries(step.environ).map(
    ([name, value]) => `${name}=${value}`
  );
  const exec = [
    HELPER,
    'run',
    // The filter of emulated ids goes first (`emulated-ids.ts`).
    ...(input.emulation ? filterArgs(mechanism) : []),
    // Landlock and seccomp, applied by the helper right before the program (`confine.ts`).
    ...stepConfinementArgs(sandbox),
    step.binary ?? '-',
    String(environ.length),
    ...environ,
    '--',
    ...step.argv
  ];
  let { argv, env } =
    mechanism === 'bwrap' ? bwrapArgv(input, exec) : prootArgv(input, exec);
  if (input.rlimit) {
    argv = [...rlimitArgv(input.rlimit), ...argv];
  }
  if (input.cgroupDirs) {
    const launcher = cgroupLauncher({ dirs: input.cgroupDirs });
    argv = [...launcher.argv, ...argv];
    env = { ...env, ...launcher.env };
  }
  return { file: argv[0], argv, env };
}

/** `exec` under the supervisor of emulated ids, when steps run under it. */
function supervised(
  input: StepArgvInput,
  helperPath: string,
  ownersPath: string,
  command: string[]
): string[] {
  const { emulation, step } = input;
  return emulation
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
}

function bwrapArgv(
  input: StepArgvInput,
  exec: string[]
): { argv: string[]; env: Record<string, string> } {
  const { sandbox, step, ids, overlay, emulation } = input;
  const argv = [
    sandbox.program!,
    // In a mapped namespace (`identity.ts`): no namespace of bubblewrap's own; the helper
    // becomes the step's user, and the namespace forbids nested ones.
    ...(ids
      ? BWRAP_NAMESPACES.filter(option => option !== '--unshare-user')
      : BWRAP_NAMESPACES),
    '--hostname',
    input.hostname,
    ...(ids ? [] : ['--uid', String(step.uid), '--gid', String(step.gid)]),
    '--bind',
    overlay ? overlay.merged : input.root,
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
    input.helper,
    HELPER,
    ...(emulation ? ['--ro-bind', emulation.owners, OWNERS_IN_SANDBOX] : []),
    '--chdir',
    step.workingdir,
    // Only the environment the step recorded, which the helper sets itself.
    '--clearenv',
    ...(ids
      ? mappedCapabilityArgs(step.uid, bwrapCapabilityArgs(step.uid))
      : bwrapCapabilityArgs(step.uid)),
    ...(sandbox.disableUserns && !ids ? BWRAP_NO_NESTED_USERNS : []),
    '--',
    ...(ids
      ? helperAs(exec, step)
      : supervised(input, HELPER, OWNERS_IN_SANDBOX, exec))
  ];
  // The overlay's mount namespace is entered from the run's user namespace, when there is one.
  const enter = overlay ? overlay.enter : (ids?.enter ?? []);
  return { argv: [...enter, ...argv], env: {} };
}

function prootArgv(
  input: StepArgvInput,
  exec: string[]
): { argv: string[]; env: Record<string, string> } {
  const { sandbox, step, emulation } = input;
  if (!input.proot) {
    throw new Error('A proot step needs its /dev/shm and temporary folders.');
  }
  const confined = prootConfinement(sandbox);
  const proot = [
    sandbox.program!,
    '-v',
    '-1',
    '-r',
    input.root,
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
    `${input.proot.shm}:/dev/shm`,
    '-b',
    `${input.helper}:${HELPER}`,
    ...confined.binds,
    ...exec
  ];
  const argv = [
    // Under a root server: proot and all it runs as the run's own user, without privileges.
    ...(input.runUser && sandbox.runUser
      ? dropPrivilegesArgv(sandbox.runUser.setpriv, input.runUser)
      : []),
    // The supervisor outside proot, an ancestor of every process it traces.
    ...supervised(input, input.helper, emulation?.owners ?? '', proot)
  ];
  const env = {
    PROOT_TMP_DIR: input.proot.tmpDir,
    ...confined.env,
    ...(emulation ? PROOT_UNDER_SUPERVISOR_ENV : {})
  };
  return { argv, env };
}
