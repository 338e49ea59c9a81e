/**
 * Executes a run plan without Docker: in bubblewrap (user namespaces) or, where those are not
 * allowed, in proot (ptrace), on a per-run tree over the package's cached root filesystem.
 *
 * Same semantics as the Docker backend (`backends/docker/runner.ts`), step by step: each step runs
 * through the static `rpz-exec` helper, bound at `/.reproserver/rpz-exec` (its command line:
 * `step-command.ts`), with exactly its
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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { OutputKind, RunEvent, RunStatus } from '../../runs/events';
import type { InputPlacement, RunPlan, StepPlan } from '../../runs/plan';
import type { OutputSink } from '../../runs/output-sink';
import { removeTree, type PreparedRootfs } from '../../sandbox';
import { LogBudget } from '../common/log-budget';
import { OutputCollector } from '../common/output-collector';
import {
  openFileInput,
  type RunBackendOptions,
  type RunResult
} from '../common/run-backend';
import { helperPath as defaultHelperPath } from '../docker/helper-path';
import { detectSandbox, type SandboxMechanism } from './detect';
import { DiskWatch } from './disk-watch';
import {
  MAX_REPORT_BYTES,
  REPORT_FD,
  emulatesIds,
  parseReport,
  relativeOwners
} from './emulated-ids';
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
import { stepFailed, stoppedBy } from '../common/endings';
import { OverlayTree } from './overlay';
import { killProot } from './proot-tracees';
import {
  handOver,
  killProcessesOf,
  removeStaleRunFolders,
  takeRunUser,
  type RunUser
} from './run-user';
import {
  changedFiles,
  copyTree,
  existsInRoot,
  openRegularFile,
  type FoundFiles,
  placeFile
} from './run-tree';
import { errorMessage } from '../../describe';
import {
  prootShm,
  prootTmp,
  stepCommand,
  type StepContext
} from './step-command';

/** Files and folders a run may make before its disk measurement stops it (beyond the package's). */
export const MAX_RUN_ENTRIES = 250_000;
/** Folder nesting a run may make before its disk measurement stops it. */
export const MAX_RUN_DEPTH = 128;

export interface SandboxRunOptions extends RunBackendOptions {
  /** The package's root filesystem, from `prepareRootfs`. */
  rootfs: Pick<PreparedRootfs, 'root' | 'info'>;
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
  const { plan, onEvent, signal } = options;
  const emit = (status: RunStatus, detail?: string): void =>
    onEvent({
      type: 'status',
      time: Date.now(),
      status,
      ...(detail ? { detail } : {})
    });
  // Why the run was stopped from here: its time, the user, or its disk limit (a sentence).
  let ending: 'timed-out' | 'cancelled' | { disk: string } | undefined;
  let current: ChildProcess | undefined;
  let mechanism: SandboxMechanism | undefined;
  const copying = new AbortController();
  const kill = (why: NonNullable<typeof ending>): void => {
    ending ??= why;
    copying.abort();
    void stopStep(current, mechanism);
  };
  const onAbort = (): void => kill('cancelled');
  signal?.addEventListener('abort', onAbort);
  let timer: NodeJS.Timeout | undefined;
  let runDir: string | undefined;
  let group: RunCgroup | undefined;
  let overlay: OverlayTree | undefined;
  let disk: DiskWatch | undefined;
  let runUser: RunUser | undefined;
  let ids: UserNamespace | undefined;
  let ownersGiven: Set<string> | undefined;
  let result: SandboxRunResult;
  try {
    if (signal?.aborted) {
      return finish(onEvent, { status: 'cancelled' });
    }
    const helper = options.helperPath ?? defaultHelperPath();
    const sandbox = await detectSandbox({
      mechanism: options.mechanism,
      helperPath: helper
    });
    if (!sandbox.available) {
      return finish(onEvent, { status: 'error', reason: sandbox.detail });
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
    let root = join(runDir, 'root');
    const owner = options.rootfs.info.owners.common;
    if (
      sandbox.mechanism === 'bwrap' &&
      sandbox.ids &&
      mapsOwner(owner) &&
      options.ids !== 'one'
    ) {
      // A range of ids mapped for the run: steps may change user (`identity.ts`).
      ids = await UserNamespace.start(sandbox.ids, owner);
    }
    if (
      sandbox.mechanism === 'bwrap' &&
      sandbox.overlay &&
      options.isolation !== 'copy'
    ) {
      overlay = await OverlayTree.start(
        options.rootfs.root,
        runDir,
        sandbox.overlay,
        ids?.enter()
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
    if (ending === 'timed-out' || ending === 'cancelled') {
      return finish(onEvent, { status: ending });
    }
    const context: StepContext = {
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
    emit(
      'running',
      [sandbox.detail, ...unpackWarnings(options.rootfs.info.warnings)].join(
        ' '
      )
    );
    // The next millisecond: the copy's last changes may fall in this one (ctimes have nanoseconds,
    // Date.now() drops them), and must not count as the run's. The run's first writes come later.
    const since = Date.now() + 1;
    if (context.emulation) {
      context.emulation.sinceMs = since;
    }
    timer = setTimeout(
      () => kill('timed-out'),
      plan.limits.timeoutSeconds * 1000
    );
    disk = new DiskWatch({
      roots: overlay
        ? [overlay.upper]
        : [root, ...(sandbox.mechanism === 'proot' ? [prootShm(runDir)] : [])],
      limitBytes: plan.limits.diskMiB * 1024 * 1024,
      // A copy holds the package's files too: only what changed since it was made counts.
      sinceMs: overlay ? undefined : since,
      maxEntries:
        (overlay ? 0 : options.rootfs.info.entries) +
        (options.maxRunEntries ?? MAX_RUN_ENTRIES),
      maxDepth: MAX_RUN_DEPTH,
      intervalMs: options.diskIntervalMs,
      onExceeded: reason => kill({ disk: reason })
    });
    const log = new LogBudget(plan.limits.logBytes, onEvent);
    const stepStarts: { time: number; uid: number; gid: number }[] = [];
    result = { status: 'succeeded' };
    for (let position = 0; position < plan.steps.length; position++) {
      const step = plan.steps[position];
      const inputs = plan.inputs.filter(input => input.beforeStep === position);
      for (const input of inputs) {
        await placeInput(
          root,
          input,
          options.openInput ?? openFileInput,
          runUser
        );
      }
      if (ending) {
        result = stoppedFor(ending, plan, position);
        break;
      }
      stepStarts.push({ time: Date.now(), uid: step.uid, gid: step.gid });
      const oomBefore = (await group?.oomKills()) ?? 0;
      const { exitCode, stderrTail } = await runStep(
        context,
        step,
        position,
        log,
        onEvent,
        child => {
          current = child;
          if (ending) {
            void stopStep(child, mechanism);
          }
        }
      );
      current = undefined;
      if (runUser) {
        // Nothing of the step may still run when the host next touches the run's tree.
        await killProcessesOf(runUser.uid);
      }
      if (ending) {
        result = stoppedFor(ending, plan, position);
        break;
      }
      if (exitCode !== 0 && hitFileSizeLimit(exitCode, stderrTail)) {
        result = {
          status: 'failed',
          failedStep: position,
          reason: `Step ${position} (${step.id}) failed writing a file larger than the run's disk limit of ${plan.limits.diskMiB} MiB (exit code ${exitCode}); raise limits.diskMiB if it needs more.`
        };
        break;
      }
      if (exitCode !== 0) {
        const oom = group
          ? (await group.oomKills()) > oomBefore
          : looksOutOfMemory(stderrTail);
        result = stepFailed(plan, position, exitCode, oom);
        break;
      }
    }
    clearTimeout(timer);
    await disk.stop();
    if (result.status !== 'cancelled') {
      const limits = { maxFiles: options.maxChangedFiles };
      // Who owns what the run's ids made, before anything of the tree is read.
      const owners = await ids?.settleOwners(
        overlay ? overlay.upper : root,
        since,
        overlay && { tree: overlay.merged, enter: overlay.enter() }
      );
      const changed = withoutOwnerChanges(
        overlay
          ? await overlay.changedFiles(limits)
          : await changedFiles(root, options.rootfs.root, since, limits),
        ownersGiven,
        since
      );
      await collectOutputs(
        root,
        options.rootfs,
        plan,
        changed,
        stepStarts,
        options.sink,
        onEvent,
        owners,
        context.emulation &&
          relativeOwners(context.emulation.reported, context.emulation.prefix)
      );
    }
  } catch (error) {
    result =
      ending === 'timed-out' || ending === 'cancelled'
        ? { status: ending }
        : { status: 'error', reason: `The sandbox failed: ${describe(error)}` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    await disk?.stop();
    await stopStep(current, mechanism);
    await runUser?.release().catch(() => undefined);
    await group?.remove().catch(() => undefined);
    await overlay?.stop().catch(() => undefined);
    await ids?.stop().catch(() => undefined);
    if (runDir) {
      await removeTree(runDir).catch(() => undefined);
    }
  }
  return finish(onEvent, result);
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

function finish(
  onEvent: (event: RunEvent) => void,
  result: SandboxRunResult
): SandboxRunResult {
  onEvent({ type: 'end', time: Date.now(), ...result });
  return result;
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

/** The result of a run stopped from here while step `position` ran. */
function stoppedFor(
  ending: 'timed-out' | 'cancelled' | { disk: string },
  plan: RunPlan,
  position: number
): SandboxRunResult {
  return typeof ending === 'string'
    ? stoppedBy(ending, plan, position)
    : { status: 'failed', failedStep: position, reason: ending.disk };
}

/**
 * Kills a running step with everything it started: bubblewrap's process group (its pid namespace
 * goes with it), or proot with every process it traces (there is no pid namespace to end them).
 */
async function stopStep(
  child: ChildProcess | undefined,
  mechanism: SandboxMechanism | undefined
): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null) {
    return;
  }
  if (mechanism === 'proot') {
    await killProot(child.pid);
    return;
  }
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

const STDERR_TAIL = 4096;

/** Runs one step to its end; resolves with its exit code (128 + N when killed by signal N). */
async function runStep(
  context: StepContext,
  step: StepPlan,
  position: number,
  log: LogBudget,
  onEvent: (event: RunEvent) => void,
  onSpawn: (child: ChildProcess) => void
): Promise<{ exitCode: number; stderrTail: string }> {
  const started = Date.now();
  onEvent({
    type: 'step-start',
    time: started,
    step: position,
    id: step.id,
    argv: step.argv
  });
  const { argv, env } = await stepCommand(context, step);
  const child = spawn(argv[0], argv.slice(1), {
    // The supervisor of emulated ids reports on REPORT_FD (`emulated-ids.ts`).
    stdio: context.emulation
      ? ['ignore', 'pipe', 'pipe', 'pipe']
      : ['ignore', 'pipe', 'pipe'],
    env,
    detached: true
  });
  onSpawn(child);
  const report: Buffer[] = [];
  let reportBytes = 0;
  const reportPipe = context.emulation
    ? (child.stdio[REPORT_FD] as NodeJS.ReadableStream | null)
    : null;
  reportPipe?.on('data', (chunk: Buffer) => {
    if (reportBytes + chunk.length <= MAX_REPORT_BYTES) {
      report.push(chunk);
      reportBytes += chunk.length;
    }
  });
  const reportDone = reportPipe
    ? new Promise<void>(resolve => {
        reportPipe.once('end', resolve);
        reportPipe.once('error', () => resolve());
        reportPipe.once('close', () => resolve());
      })
    : Promise.resolve();
  const stdout = log.pump(position, 'stdout');
  const stderr = log.pump(position, 'stderr');
  let tail = Buffer.alloc(0);
  const keepTail = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > STDERR_TAIL) {
        tail = tail.subarray(tail.length - STDERR_TAIL);
      }
      callback();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => keepTail.write(chunk));
  const closed = new Promise<[number | null, NodeJS.Signals | null]>(
    (resolve, reject) => {
      child.once('close', (code, signalName) => resolve([code, signalName]));
      child.once('error', reject);
    }
  );
  await Promise.all([
    pipeline(child.stdout!, stdout),
    pipeline(child.stderr!, stderr)
  ]).catch(() => undefined);
  const [code, signalName] = await closed;
  await reportDone;
  if (context.emulation) {
    context.emulation.reported.push(...parseReport(Buffer.concat(report)));
  }
  stdout.flush();
  stderr.flush();
  const exitCode = code ?? 128 + (signalName ? signalNumber(signalName) : 9);
  onEvent({
    type: 'step-end',
    time: Date.now(),
    step: position,
    exitCode,
    durationMs: Date.now() - started
  });
  return { exitCode, stderrTail: tail.toString('utf8') };
}

function signalNumber(name: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGILL: 4,
    SIGABRT: 6,
    SIGBUS: 7,
    SIGFPE: 8,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15
  };
  return numbers[name] ?? 9;
}

async function placeInput(
  root: string,
  input: InputPlacement,
  open: (input: InputPlacement) => Promise<{ body: NodeJS.ReadableStream }>,
  owner: RunUser | undefined
): Promise<void> {
  const { body } = await open(input);
  await placeFile(
    root,
    input.path,
    input.mode,
    async file => {
      for await (const chunk of body) {
        await file.write(chunk as Buffer);
      }
    },
    owner
  );
}

/** Copies the declared outputs, then every other file the run created or changed. */
async function collectOutputs(
  root: string,
  rootfs: Pick<PreparedRootfs, 'root' | 'info'>,
  plan: RunPlan,
  changed: FoundFiles,
  stepStarts: { time: number; uid: number; gid: number }[],
  sink: OutputSink,
  onEvent: (event: RunEvent) => void,
  mappedOwners?: Map<string, [number, number]>,
  emulatedOwners?: Map<string, [number, number]>
): Promise<void> {
  const outputs = new OutputCollector(plan, sink, onEvent);
  const owners = rootfs.info.owners;
  const ownerOf = (
    path: string,
    inCache: boolean,
    mtimeMs: number
  ): { uid: number; gid: number } => {
    if (mappedOwners) {
      // Real owners in the run's namespace: the run's ids', or else the common owner's.
      const [uid, gid] = mappedOwners.get(path.slice(1)) ?? owners.common;
      return { uid, gid };
    }
    // What the emulated ids own, as the supervisor reported it.
    const emulated = emulatedOwners?.get(path.slice(1));
    if (emulated) {
      return { uid: emulated[0], gid: emulated[1] };
    }
    const recorded = owners.others[path.slice(1)];
    if (inCache || recorded) {
      const [uid, gid] = recorded ?? owners.common;
      return { uid, gid };
    }
    // A new file: it belongs to the step that was running when it was last written.
    let writer = stepStarts[0];
    for (const start of stepStarts) {
      if (start.time <= mtimeMs + 10) {
        writer = start;
      }
    }
    return writer
      ? { uid: writer.uid, gid: writer.gid }
      : { uid: owners.common[0], gid: owners.common[1] };
  };
  const copy = async (
    name: string,
    path: string,
    kind: OutputKind
  ): Promise<void> => {
    const opened = await openRegularFile(root, path);
    if (opened === 'missing') {
      outputs.notCreated(name, path);
      return;
    }
    if (opened === 'not-a-file') {
      outputs.notAFile(name, path, kind);
      return;
    }
    const { file, info } = opened;
    if (!outputs.fits(name, path, info.size)) {
      await file.close();
      return;
    }
    // The stream closes the file when it ends or is destroyed.
    await outputs.store(
      name,
      path,
      kind,
      file.createReadStream(),
      async () => ({
        ...ownerOf(path, await existsInRoot(rootfs.root, path), info.mtimeMs),
        mode: info.mode & 0o7777
      })
    );
  };

  for (const output of plan.outputs) {
    await copy(output.name, output.path, 'declared');
  }
  for (const { path } of changed.files) {
    if (!outputs.declaredPaths.has(path)) {
      await copy(path, path, 'changed');
    }
  }
  if (changed.more > 0) {
    onEvent({
      type: 'output-missing',
      time: Date.now(),
      name: 'other changed files',
      path: '/',
      reason: `The run changed ${changed.more.toLocaleString('en')} more files than the ${changed.files.length.toLocaleString('en')} that are collected; they were not kept.`
    });
  }
}

function describe(error: unknown): string {
  return errorMessage(error).trim();
}
