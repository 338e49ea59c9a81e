/**
 * Executes a run plan on the Docker Engine.
 *
 * One container per run, from the package's image, whose main process idles (under Docker's init,
 * which reaps orphans) while each step runs through an exec of our static `rpz-exec` helper, with
 * its recorded user and working directory and exactly its recorded environment and argv. Steps
 * therefore see what earlier steps wrote, and each step gets its own exit code and separate
 * stdout/stderr. The helper keeps each step's output and exit code in files inside the container
 * (no host folder is mounted writable), and the server follows them through attached execs (see
 * `step-exec.ts`): steps do not depend on the server process, and a restarted server re-attaches
 * to the container (`reattach`), replays what the steps wrote and goes on. The last step's helper
 * sends the declared outputs after the step's end (`deliveries.ts`); what it did not send is
 * copied out when the steps are done, then the container is removed; the package image stays.
 *
 * Limits: memory, CPU, processes (cgroup), time (a timer), disk (`DiskWatch`, and the same number
 * as the largest file a process may write), open files per process (`REPROSERVER_OPEN_FILES`,
 * default 4096). Capabilities that experiments do not need are dropped from the container; a
 * non-root step keeps none at all (the helper drops them before it runs the step).
 *
 * The run's sequence (events, statuses, stops, cleanup) is the shared one of `common/lifecycle.ts`;
 * this file supplies what Docker does at each point of it (`dockerParts`).
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { InputPlacement } from '../../runs/plan';
import { stepFailed } from '../common/endings';
import { looksOutOfMemory } from '../sandbox/limits';
import { runLifecycle, type RunParts } from '../common/lifecycle';
import {
  openFileInput,
  type RunBackendOptions,
  type RunResult
} from '../common/run-backend';
import { tarOfFiles } from './archive';
import { runAttached } from './attached-exec';
import { DiskWatch } from './disk-watch';
import { HELPER } from './layout';
import { canDeliver, OutputDeliveries } from './deliveries';
import { collectOutputs } from './outputs';
import type { StreamName } from './frames';
import { followStep, runStep, wasStarted } from './step-exec';
import { engineOf } from './engine';
import {
  archiveKeepsOwners,
  containerUser,
  ownersInContainer,
  stepLimitEnv
} from './podman-quirks';

/**
 * Capabilities of Docker's default set that experiments do not need: creating device nodes, raw
 * sockets, file capabilities, audit messages, chroot. Kept: what root steps use to chown, chmod,
 * kill, and to run later steps as other users (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID,
 * SETUID, SETPCAP, NET_BIND_SERVICE).
 */
export const DROPPED_CAPABILITIES = [
  'MKNOD',
  'NET_RAW',
  'SETFCAP',
  'AUDIT_WRITE',
  'SYS_CHROOT'
];

/** Open files per process in a run; `REPROSERVER_OPEN_FILES` changes it. */
export const DEFAULT_OPEN_FILES = 4096;

/** Marks containers whose steps keep their files inside (this version), for reattaching. */
const STEP_CONTROL_LABEL = 'org.reproserver.step-control';
const STEP_CONTROL = 'in-container-1';

export interface DockerRunOptions extends RunBackendOptions {
  docker: Docker;
  image: string;
  /** The static `rpz-exec` binary on this host. */
  helperPath: string;
  /** Labels added to the container, e.g. the run's id for reconciliation after a restart. */
  labels?: Record<string, string>;
  /**
   * Goes on with a run that a previous server process started in this container: steps that
   * ended are replayed from their files (events the caller already has must be dropped by the
   * caller), the one running is followed, the others run.
   */
  reattach?: { container: Docker.Container; startedAt: number };
}

export type DockerRunResult = RunResult;

/** Runs the plan; always resolves (failures are statuses), and always removes its container. */
export async function runOnDocker(
  options: DockerRunOptions
): Promise<DockerRunResult> {
  return runLifecycle(options, dockerParts(options));
}

/** What a run on Docker does at each point of the shared lifecycle (`common/lifecycle.ts`). */
function dockerParts(options: DockerRunOptions): RunParts {
  const { docker, plan, signal } = options;
  let container = options.reattach?.container;
  // After a restart, steps are asked whether they started until one did not: later ones did not.
  let maybeStarted = options.reattach !== undefined;
  // The end of the running step's stderr: where memory is an rlimit (`podman-quirks.ts`), a
  // failed allocation is what says that a step ran out of it.
  let stderrTail = '';
  // The declared outputs, sent by the last step's helper once it has ended (`deliveries.ts`).
  let deliveries: OutputDeliveries | undefined;
  return {
    name: 'Docker',
    async prepare() {
      if (container) {
        const old = await olderRun(container);
        return old
          ? { ready: false, result: old }
          : { ready: true, startedAt: options.reattach?.startedAt };
      }
      container = await createContainer(options);
      if (signal?.aborted) {
        return { ready: false, result: { status: 'cancelled' } };
      }
      await container.start();
      return { ready: true };
    },
    watch(kill) {
      const disk = new DiskWatch(container!, diskBytes(options), used =>
        kill({
          reason: `The run used more than its disk limit of ${plan.limits.diskMiB} MiB (${Math.ceil(used / 1024 ** 2)} MiB written); raise limits.diskMiB if it needs more.`
        })
      );
      return { stop: () => disk.stop() };
    },
    async placeInputs(position, inputs) {
      maybeStarted &&= await wasStarted(container!, position);
      if (!maybeStarted) {
        await placeInputs(
          container!,
          inputs,
          options.openInput ?? openFileInput
        );
      }
    },
    async runStep({ position, step, stdout, stderr, logRoom, stop }) {
      const follow = {
        docker,
        container: container!,
        position,
        // One byte past what the log may still keep, so that we see it overflow.
        keepBytes: logRoom + 1,
        signal: stop,
        onFrame: (stream: StreamName, bytes: Buffer) => {
          if (stream === 'stderr') {
            stderrTail = (stderrTail + bytes.toString('latin1')).slice(-4096);
          }
          (stream === 'stdout' ? stdout : stderr).write(bytes);
        }
      };
      stderrTail = '';
      // The last step's helper sends the declared outputs after its end, when it runs it.
      const outputPaths = plan.outputs.map(output => output.path);
      if (
        position === plan.steps.length - 1 &&
        !maybeStarted &&
        canDeliver(outputPaths)
      ) {
        deliveries = new OutputDeliveries(outputPaths);
      }
      // A step started by a server that stopped is not run again: `runStep` finds its claim and
      // follows it; in a container that stopped meanwhile, only its files are left to read.
      const end =
        maybeStarted && !(await isRunning(container!))
          ? await followStep(follow)
          : await runStep({
              ...follow,
              step,
              helperEnv: await helperEnv(options),
              deliveries
            });
      if (end.kind === 'stopped') {
        return { lost: { status: 'cancelled', failedStep: position } };
      }
      if (end.kind === 'lost') {
        // Re-attached after a restart: what stopped it happened while no server was watching.
        return {
          lost: {
            status: options.reattach ? 'interrupted' : 'error',
            failedStep: position,
            reason: `Step ${position} (${step.id}) ended without an exit code: ${end.reason}.`
          }
        };
      }
      return { exitCode: end.exitCode };
    },
    async stepFailed(position, { exitCode }) {
      const memoryIsRlimit = !(await engineOf(docker)).cgroupLimits;
      const oom = memoryIsRlimit
        ? looksOutOfMemory(stderrTail)
        : exitCode === 137 && (await wasOomKilled(docker, container!));
      return stepFailed(plan, position, exitCode, oom);
    },
    async collectOutputs() {
      const engine = await engineOf(docker);
      await collectOutputs(
        container!,
        plan,
        options.sink,
        options.onEvent,
        archiveKeepsOwners(engine)
          ? undefined
          : paths => ownersInContainer(docker, container!, paths),
        await deliveries?.results()
      );
    },
    interrupt() {
      void container?.kill({ signal: 'SIGKILL' }).catch(() => undefined);
    },
    async cleanup() {
      await container?.remove({ force: true, v: true }).catch(() => undefined);
      // With the container gone, nothing more comes to the spool.
      await deliveries?.discard();
    }
  };
}

/** What the engine needs the helper to enforce itself (nothing on Docker: `podman-quirks.ts`). */
async function helperEnv(options: DockerRunOptions): Promise<string[]> {
  return stepLimitEnv(
    await engineOf(options.docker),
    options.plan.limits,
    openFilesLimit(),
    diskBytes(options)
  );
}

function diskBytes(options: DockerRunOptions): number {
  return options.plan.limits.diskMiB * 1024 * 1024;
}

/**
 * A container that an earlier version of the server started kept its steps' files in a host
 * folder, which this version no longer follows: such a run is stopped and said interrupted.
 */
async function olderRun(
  container: Docker.Container
): Promise<RunResult | undefined> {
  if (!(await startedByOlderVersion(container))) {
    return undefined;
  }
  return {
    status: 'interrupted',
    reason:
      'An earlier version of the server started this run, and this one cannot follow it; run it again.'
  };
}

/** Whether an earlier version of the server, which mounted a host folder in it, made it. */
export async function startedByOlderVersion(
  container: Docker.Container
): Promise<boolean> {
  const info = await container.inspect();
  return info.Config.Labels?.[STEP_CONTROL_LABEL] !== STEP_CONTROL;
}

async function isRunning(container: Docker.Container): Promise<boolean> {
  return (await container.inspect()).State.Running === true;
}

function openFilesLimit(): number {
  const text = process.env.REPROSERVER_OPEN_FILES;
  const value = text === undefined || text === '' ? NaN : Number(text);
  return Number.isInteger(value) && value >= 64 && value <= 1_048_576
    ? value
    : DEFAULT_OPEN_FILES;
}

async function createContainer(
  options: DockerRunOptions
): Promise<Docker.Container> {
  const { docker, image, plan } = options;
  const { limits } = plan;
  const openFiles = openFilesLimit();
  const user = await containerUser(docker, await engineOf(docker), image);
  const container = await docker.createContainer({
    Image: image,
    Cmd: [HELPER, '--idle'],
    Hostname: plan.hostname,
    ...(user === undefined ? {} : { User: user }),
    WorkingDir: '/',
    NetworkDisabled: true,
    Labels: {
      'org.reproserver.role': 'run',
      [STEP_CONTROL_LABEL]: STEP_CONTROL,
      ...options.labels
    },
    HostConfig: {
      NetworkMode: 'none',
      Init: true,
      Memory: limits.memoryMiB * 1024 * 1024,
      MemorySwap: limits.memoryMiB * 1024 * 1024,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: DROPPED_CAPABILITIES,
      Ulimits: [
        { Name: 'nofile', Soft: openFiles, Hard: openFiles },
        { Name: 'fsize', Soft: diskBytes(options), Hard: diskBytes(options) }
      ],
      // The helper comes from the host, read-only, as Docker's own init does: the image keeps
      // only the package's files, and nothing is copied per run. Nothing else of the host is
      // mounted. (The daemon is local: we talk to it over a unix socket.)
      Binds: [`${options.helperPath}:${HELPER}:ro`],
      LogConfig: { Type: 'none', Config: {} }
    }
  });
  return container;
}

async function placeInputs(
  container: Docker.Container,
  inputs: InputPlacement[],
  open: (input: InputPlacement) => Promise<{ body: Readable; size: number }>
): Promise<void> {
  for (const input of inputs) {
    const { body, size } = await open(input);
    await container.putArchive(
      tarOfFiles([
        {
          path: input.path,
          body,
          size,
          mode: input.mode,
          uid: input.uid,
          gid: input.gid
        }
      ]),
      { path: '/' }
    );
  }
}

/**
 * Whether the kernel killed a process for lack of memory in this container. Docker's OOMKilled
 * flag only covers the main process, so ask the cgroup (through the helper) as well.
 */
async function wasOomKilled(
  docker: Docker,
  container: Docker.Container
): Promise<boolean> {
  const info = await container.inspect();
  if (info.State.OOMKilled === true) {
    return true;
  }
  if (!info.State.Running) {
    return false;
  }
  let text = '';
  await runAttached(
    docker,
    container,
    { Cmd: [HELPER, 'oom-kills'], User: '0:0' },
    chunk => {
      // A count: a few bytes, whatever the container says.
      text += chunk.toString('latin1').slice(0, 32 - text.length);
    }
  );
  return /^\d{1,9}\n$/.test(text) && Number(text) > 0;
}
