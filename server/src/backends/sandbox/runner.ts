/**
 * Executes a run plan without Docker: in bubblewrap (user namespaces) or, where those are not
 * allowed, in proot (ptrace), on a per-run tree over the package's cached root filesystem.
 *
 * Same semantics as the Docker backend (`backends/docker/runner.ts`), step by step: each step runs
 * through the static `rpz-exec` helper, bound at `/.reproserver/rpz-exec` (its command line:
 * `step-argv.ts`, made by `step-command.ts`), with exactly its
 * recorded environment and argv, in its working directory, as its uid/gid (emulated: see below);
 * later steps see earlier steps' files because all steps use the same tree; replacement inputs are
 * placed right before the step that reads them; when the steps are done, the declared outputs and
 * then every other regular file the run created or changed are stored through the sink. Same
 * events, same statuses, same log budget.
 *
 * Isolation of runs: bubblewrap runs get an overlay whose lower layer is the cache and whose upper
 * layer is the run's own folder (`overlay.ts`: constant set-up time, changes = the upper layer);
 * proot runs, or where overlays cannot be mounted, get a copy (`cp -a --reflink=auto`) of the
 * cache (`run-tree.ts`). Either way the run's tree is deleted afterwards and the cache is never
 * written: runs cannot change it or see each other's writes.
 *
 * Emulated or weaker than Docker, and said in `detectSandbox().detail`:
 * - ownership: files on disk belong to the user running the server. Under bubblewrap, the step's
 *   uid/gid is mapped to that user, so the step runs as its recorded uid; the helper's supervisor
 *   of emulated ids (`emulated-ids.ts`) answers its id, stat and chown calls, under proot too, so
 *   that steps may change user and files show the owners the package and the run gave them. Output events report the package's
 *   recorded owner for files it had, and the uid/gid of the step that wrote it for new files.
 *   Where a range of ids can be mapped (`identity.ts`), bubblewrap steps instead run in a
 *   namespace of the run's that maps 65536 ids: they may change user, files keep their recorded
 *   owners, and outputs report their real owners there, as on Docker.
 * - bubblewrap: no network, own pid namespace (every process of a step dies with it), own hostname,
 *   no capabilities but a short list for root steps, held in the step's own user namespace
 *   (`capabilities.ts`), no nested user namespaces where bubblewrap can forbid them.
 *   proot: no network isolation, no pid namespace (a stopped step's processes are found through
 *   their tracer: `proot-tracees.ts`), no hostname (the host's), the server's own capabilities;
 *   under a root server, proot runs instead as an unprivileged user id of the run's own with no
 *   capabilities (`run-user.ts`), on a copy handed over to that id, in a folder outside the
 *   server's state folder that only it (and root) can enter.
 * - limits: cgroups when this process may create them, else rlimits; file size and open files by
 *   rlimit always (see `limits.ts`); disk use by measuring the run's writable tree (`disk-watch.ts`).
 *
 * The host reads and removes a run's tree only once no process of the run is left, and even then
 * never through a link the experiment planted and never by opening anything but a regular file
 * (`run-tree.ts`, `sandbox/remove-tree.ts`); the package's entries never sit where the sandbox
 * mounts its own /proc, /dev, /sys and /.reproserver (`sandbox/extract.ts`).
 *
 * The run's sequence (events, statuses, stops, cleanup) is the shared one of `common/lifecycle.ts`;
 * this file supplies what the sandbox does at each point of it (`sandboxParts`).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree, type PreparedRootfs } from '../../sandbox';
import { stepFailed } from '../common/endings';
import {
  runLifecycle,
  type RunParts,
  type StepExit
} from '../common/lifecycle';
import {
  openFileInput,
  type RunBackendOptions,
  type RunResult
} from '../common/run-backend';
import { helperPath as defaultHelperPath } from '../docker/helper-path';
import { detectSandbox, type SandboxMechanism } from './detect';
import { DiskWatch } from './disk-watch';
import { emulatesIds, relativeOwners } from './emulated-ids';
import {
  UserNamespace,
  giveRecordedOwners,
  mapsOwner,
  withoutOwnerChanges
} from './identity';
import {
  RunCgroup,
  hitFileSizeLimit,
  isAlive,
  looksOutOfMemory,
  type LimitsMode
} from './limits';
import { collectOutputs, placeInput } from './outputs';
import { OverlayTree } from './overlay';
import {
  handOver,
  killProcessesOf,
  removeStaleRunFolders,
  takeRunUser,
  type RunUser
} from './run-user';
import { changedFiles, copyTree } from './run-tree';
import { prootShm, prootTmp, type StepContext } from './step-command';
import type { FarChild } from './spawner';
import { runStepProcess, stopStep } from './step-process';

/** Files and folders a run may make before its disk measurement stops it (beyond the package's). */
export const MAX_RUN_ENTRIES = 250_000;
/** Folder nesting a run may make before its disk measurement stops it. */
export const MAX_RUN_DEPTH = 128;

export interface SandboxRunOptions extends RunBackendOptions {
  /** The package's root filesystem, from `prepareRootfs`. */
  rootfs: Pick<PreparedRootfs, 'root' | 'info' | 'shared'>;
  /** Where the run's copy is made (`<stateDir>/sandbox/runs/`): best on the cache's filesystem. */
  stateDir: string;
  /** Force a mechanism; default: what `detectSandbox()` finds. */
  mechanism?: SandboxMechanism;
  /** Force rlimits even where cgroups work (tests); default: what works. */
  limits?: 'auto' | 'rlimit';
  /** Force a copy of the cache even where an overlay works (tests); default: what works. */
  isolation?: 'auto' | 'copy';
  /** Force one id per step (emulated changes) even where a range could be mapped (tests). */
  ids?: 'auto' | 'one';
  /** The static `rpz-exec` binary on this host. */
  helperPath?: string;
  /** Changed files collected at most; default `MAX_CHANGED_FILES` (run-tree.ts). */
  maxChangedFiles?: number;
  /** Files and folders the run may make; default `MAX_RUN_ENTRIES`. */
  maxRunEntries?: number;
  /** Least time between two measurements of the run's disk use; default 1000 ms (tests). */
  diskIntervalMs?: number;
}

export type SandboxRunResult = RunResult;

/** Runs the plan; always resolves (failures are statuses), and always removes the run's copy. */
export async function runOnSandbox(
  options: SandboxRunOptions
): Promise<SandboxRunResult> {
  return runLifecycle(options, sandboxParts(options));
}

/** What a sandbox step's end says beyond its exit code. */
interface SandboxStepExit extends StepExit {
  stderrTail: string;
  /** The run cgroup's count of kills for lack of memory before the step. */
  oomBefore: number;
}

/** What a run in the sandbox does at each point of the shared lifecycle (`common/lifecycle.ts`). */
function sandboxParts(options: SandboxRunOptions): RunParts<SandboxStepExit> {
  const { plan, onEvent } = options;
  let current: FarChild | undefined;
  let mechanism: SandboxMechanism | undefined;
  // Stops copying the package's tree when the run is stopped while it is made.
  const copying = new AbortController();
  let runDir: string | undefined;
  let root = '';
  let group: RunCgroup | undefined;
  let overlay: OverlayTree | undefined;
  let disk: DiskWatch | undefined;
  let runUser: RunUser | undefined;
  let ids: UserNamespace | undefined;
  let ownersGiven: Set<string> | undefined;
  // Whether the run's files were given back to the server's user (`UserNamespace.settleOwners`).
  let ownersSettled = false;
  let context: StepContext | undefined;
  // When the run's own changes start (ms since the epoch).
  let since = 0;
  const stepStarts: { time: number; uid: number; gid: number }[] = [];
  return {
    name: 'The sandbox',
    async prepare() {
      const helper = options.helperPath ?? defaultHelperPath();
      const sandbox = await detectSandbox({
        mechanism: options.mechanism,
        helperPath: helper
      });
      if (!sandbox.available) {
        return {
          ready: false,
          result: { status: 'error', reason: sandbox.detail }
        };
      }
      mechanism = sandbox.mechanism!;
      const limitsMode: LimitsMode =
        options.limits === 'rlimit' ? 'rlimit' : sandbox.limits!;
      let helperInSandbox = helper;
      if (sandbox.runUser) {
        const { uidBase, runsDir } = sandbox.runUser;
        await removeStaleRunFolders(uidBase, runsDir);
        runUser = await takeRunUser(uidBase, runsDir);
        runDir = runUser.folder;
      } else {
        const runsDir = join(options.stateDir, 'sandbox', 'runs');
        await removeStaleRuns(runsDir);
        runDir = join(
          runsDir,
          `${process.pid}-${Date.now()}-${randomBytes(6).toString('hex')}`
        );
        await mkdir(runDir, { recursive: true, mode: 0o700 });
      }
      root = join(runDir, 'root');
      const owner = options.rootfs.info.owners.common;
      const layers =
        sandbox.mechanism === 'bwrap' &&
        sandbox.overlay &&
        options.isolation !== 'copy' &&
        // A shared tree belongs to its administrator: an overlay could not copy its files up
        // (their owner has no id in the run's namespace), so the run gets a copy of its own.
        !options.rootfs.shared
          ? await OverlayTree.layers(options.rootfs.root, runDir)
          : undefined;
      if (
        sandbox.mechanism === 'bwrap' &&
        sandbox.ids &&
        mapsOwner(owner) &&
        options.ids !== 'one'
      ) {
        // A range of ids mapped for the run: steps may change user (`identity.ts`). Its holder
        // mounts the overlay too: one process holds all the run's namespaces.
        ids = await UserNamespace.start(sandbox.ids, owner, helper, layers);
      }
      if (layers) {
        overlay = await OverlayTree.start(
          layers,
          { ...sandbox.overlay!, helper },
          ids?.holder
        );
        root = overlay.root;
      } else {
        await copyTree(options.rootfs.root, root, copying.signal);
      }
      if (ids) {
        ownersGiven = await giveRecordedOwners(
          ids,
          root,
          overlay,
          options.rootfs.info.owners
        );
      }
      if (runUser) {
        helperInSandbox = await handOverRun(
          runDir,
          root,
          helper,
          runUser,
          copying.signal
        );
      }
      if (limitsMode !== 'rlimit') {
        group = await RunCgroup.create(limitsMode, plan.limits);
      }
      context = {
        sandbox,
        helper: helperInSandbox,
        runUser,
        root,
        runDir,
        plan,
        group,
        limitsMode,
        overlay,
        ids,
        emulation: emulatesIds(
          mechanism,
          ids !== undefined,
          sandbox.idsEmulation === true
        )
          ? {
              sinceMs: 0,
              common: owner,
              // proot's supervisor sees host paths; bubblewrap's, the sandbox's.
              prefix: sandbox.mechanism === 'proot' ? root : '',
              recorded: Object.entries(options.rootfs.info.owners.others).map(
                ([rel, [uid, gid]]) => ({
                  path: `${sandbox.mechanism === 'proot' ? root : ''}/${rel}`,
                  uid,
                  gid
                })
              ),
              reported: []
            }
          : undefined
      };
      return {
        ready: true,
        detail: [
          sandbox.detail,
          ...unpackWarnings(options.rootfs.info.warnings)
        ].join(' ')
      };
    },
    watch(kill) {
      // The next millisecond: the copy's last changes may fall in this one (ctimes have
      // nanoseconds, Date.now() drops them), and must not count as the run's. The run's first
      // writes come later.
      since = Date.now() + 1;
      if (context!.emulation) {
        context!.emulation.sinceMs = since;
      }
      disk = new DiskWatch({
        roots: overlay
          ? [overlay.upper]
          : [root, ...(mechanism === 'proot' ? [prootShm(runDir!)] : [])],
        limitBytes: plan.limits.diskMiB * 1024 * 1024,
        // A copy holds the package's files too: only what changed since it was made counts.
        sinceMs: overlay ? undefined : since,
        maxEntries:
          (overlay ? 0 : options.rootfs.info.entries) +
          (options.maxRunEntries ?? MAX_RUN_ENTRIES),
        maxDepth: MAX_RUN_DEPTH,
        intervalMs: options.diskIntervalMs,
        onExceeded: reason => kill({ reason })
      });
      return disk;
    },
    async placeInputs(_position, inputs) {
      for (const input of inputs) {
        await placeInput(
          root,
          input,
          options.openInput ?? openFileInput,
          runUser
        );
      }
    },
    async runStep({ step, stdout, stderr, stop }) {
      stepStarts.push({ time: Date.now(), uid: step.uid, gid: step.gid });
      const oomBefore = (await group?.oomKills()) ?? 0;
      const { exitCode, stderrTail } = await runStepProcess(
        context!,
        step,
        stdout,
        stderr,
        child => {
          current = child;
          if (stop.aborted) {
            void stopStep(child, mechanism);
          }
        }
      );
      current = undefined;
      if (runUser) {
        // Nothing of the step may still run when the host next touches the run's tree.
        await killProcessesOf(runUser.uid);
      }
      return { exitCode, stderrTail, oomBefore };
    },
    async stepFailed(position, { exitCode, stderrTail, oomBefore }) {
      if (hitFileSizeLimit(exitCode, stderrTail)) {
        return {
          status: 'failed',
          failedStep: position,
          reason: `Step ${position} (${plan.steps[position].id}) failed writing a file larger than the run's disk limit of ${plan.limits.diskMiB} MiB (exit code ${exitCode}); raise limits.diskMiB if it needs more.`
        };
      }
      const oom = group
        ? (await group.oomKills()) > oomBefore
        : looksOutOfMemory(stderrTail);
      return stepFailed(plan, position, exitCode, oom);
    },
    async collectOutputs() {
      const limits = { maxFiles: options.maxChangedFiles };
      // Who owns what the run's ids made, before anything of the tree is read.
      const owners = await ids?.settleOwners(
        overlay ? overlay.upper : root,
        since,
        runDir!,
        overlay && { tree: overlay.merged, enter: overlay.enter() }
      );
      ownersSettled = true;
      const changed = withoutOwnerChanges(
        overlay
          ? await overlay.changedFiles(limits)
          : await changedFiles(root, options.rootfs.root, since, limits),
        ownersGiven,
        since
      );
      const emulation = context!.emulation;
      await collectOutputs(
        root,
        options.rootfs,
        plan,
        changed,
        stepStarts,
        options.sink,
        onEvent,
        owners,
        emulation && relativeOwners(emulation.reported, emulation.prefix)
      );
    },
    interrupt() {
      copying.abort();
      void stopStep(current, mechanism);
    },
    async cleanup() {
      await stopStep(current, mechanism).catch(() => undefined);
      await runUser?.release().catch(() => undefined);
      await group?.remove().catch(() => undefined);
      if (runDir && !ownersSettled) {
        // The run ended before its files were given back to the server (cancelled, timed out):
        // what its other ids made may be removable only from its namespace, before that ends.
        await ids?.removeFolder(runDir).catch(() => undefined);
      }
      await overlay?.stop().catch(() => undefined);
      await ids?.stop().catch(() => undefined);
      if (runDir) {
        await removeTree(runDir).catch(() => undefined);
      }
    }
  };
}

/**
 * Makes the run's copy its own user's (`run-user.ts`), in a run folder that user can enter but not
 * change: owned by root, group the run's (0710). In it: the copy (the user's), the step's /dev/shm
 * and proot's temporary folder (the user's), and a copy of the helper (root's: the user may not be
 * able to reach the host's, and cannot change this one). Returns the helper's path.
 */
async function handOverRun(
  runDir: string,
  root: string,
  helper: string,
  user: RunUser,
  signal: AbortSignal
): Promise<string> {
  await handOver(root, user, signal);
  const shm = prootShm(runDir);
  await mkdir(shm, { mode: 0o700 });
  await chown(shm, user.uid, user.gid);
  await chmod(shm, 0o1777);
  const tmp = prootTmp(runDir);
  await mkdir(tmp, { mode: 0o700 });
  await chown(tmp, user.uid, user.gid);
  const copied = join(runDir, 'rpz-exec');
  await copyFile(helper, copied);
  await chmod(copied, 0o755);
  await chown(runDir, 0, user.gid);
  await chmod(runDir, 0o710);
  return copied;
}

/** Removes the copies of runs whose process died before it could remove them. */
async function removeStaleRuns(runsDir: string): Promise<void> {
  const names = await readdir(runsDir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) {
      await removeTree(join(runsDir, name)).catch(() => undefined);
    }
  }
}

/** Warnings of the package's unpacking said with each run, at most a few. */
const UNPACK_WARNINGS_SAID = 5;

/** What unpacking the package left out (entries at /proc, /dev…): the first few, and a count. */
function unpackWarnings(warnings: readonly string[] = []): string[] {
  const said = warnings.slice(0, UNPACK_WARNINGS_SAID);
  const more = warnings.length - said.length;
  return more > 0
    ? [...said, `(${more} more warnings about unpacking the package.)`]
    : said;
}
