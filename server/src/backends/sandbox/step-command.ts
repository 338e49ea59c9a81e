/**
 * The I/O around one sandbox step's command line: writes the owners file the supervisor of
 * emulated ids reads, makes proot's /dev/shm folder and reads the limits' facts, then asks the
 * pure `stepArgv` (`step-argv.ts`) for the command line itself (`runner.ts` runs it).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunPlan, StepPlan } from '../../runs/plan';
import type { SandboxStatus } from './detect';
import { ownersFile, type OwnedPath } from './emulated-ids';
import type { UserNamespace } from './identity';
import { rlimitFacts, type RunCgroup, type LimitsMode } from './limits';
import type { OverlayTree } from './overlay';
import type { RunUser } from './run-user';
import { HELPER, stepArgv, type StepArgv } from './step-argv';

export { HELPER };

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

/** The folder a proot run gets as /dev/shm (on disk: its disk use is measured with the tree's). */
export function prootShm(runDir: string): string {
  return join(runDir, 'shm');
}

/** proot's temporary folder for a run of its own user (proot's default is the host's /tmp). */
export function prootTmp(runDir: string): string {
  return join(runDir, 'tmp');
}

/** The command line that runs one step in the sandbox, after the files it needs are made. */
export async function stepCommand(
  context: StepContext,
  step: StepPlan
): Promise<StepArgv> {
  const { sandbox, emulation, runUser, runDir } = context;
  const owners = emulation ? await writeOwners(runDir, emulation) : '';
  if (sandbox.mechanism === 'proot' && !runUser) {
    // A run of its own user got its folder when the run was handed over (`runner.ts`).
    await mkdir(prootShm(runDir), { recursive: true, mode: 0o1777 });
  }
  return stepArgv({
    sandbox,
    helper: context.helper,
    hostname: context.plan.hostname,
    root: context.root,
    step,
    overlay: context.overlay && {
      merged: context.overlay.merged,
      enter: context.overlay.enter()
    },
    ids: context.ids && { enter: context.ids.enter() },
    emulation: emulation && {
      common: emulation.common,
      sinceMs: emulation.sinceMs,
      owners
    },
    proot:
      sandbox.mechanism === 'proot'
        ? {
            shm: prootShm(runDir),
            tmpDir: runUser ? prootTmp(runDir) : tmpdir()
          }
        : undefined,
    runUser,
    rlimit: sandbox.prlimit
      ? await rlimitFacts(
          sandbox.prlimit,
          context.plan.limits,
          context.limitsMode,
          runUser?.uid
        )
      : undefined,
    cgroupDirs: context.group?.dirs
  });
}
