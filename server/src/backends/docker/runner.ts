/**
 * Executes a run plan on the Docker Engine.
 *
 * One container per run, from the package's image, whose main process idles (under Docker's init,
 * which reaps orphans) while each step runs through a detached `exec` of our static `rpz-exec`
 * helper, with its recorded user and working directory and exactly its recorded environment and
 * argv. Steps therefore see what earlier steps wrote, and each step gets its own exit code and
 * separate stdout/stderr. The helper writes each step's output and exit code into a host folder
 * mounted in the container, which the server follows: steps do not depend on the server process,
 * and a restarted server re-attaches to the container (`reattach`), replays what the steps wrote
 * and goes on. Outputs are copied out when the steps are done, then the container is removed; the
 * package image stays.
 */
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { RunEvent } from '../../runs/events';
import type { InputPlacement } from '../../runs/plan';
import { stepFailed, stoppedBy } from '../common/endings';
import { LogBudget } from '../common/log-budget';
import {
  openFileInput,
  type RunBackendOptions,
  type RunResult
} from '../common/run-backend';
import { tarOfFiles } from './archive';
import { HELPER } from './layout';
import { collectOutputs } from './outputs';
import { followStep, startIfNeverStarted, startStep } from './step-exec';
import { STEPS_MOUNT, StepFiles } from './step-files';
import { errorMessage } from '../../describe';

export interface DockerRunOptions extends RunBackendOptions {
  docker: Docker;
  image: string;
  /** The static `rpz-exec` binary on this host. */
  helperPath: string;
  /** Labels added to the container, e.g. the run's id for reconciliation after a restart. */
  labels?: Record<string, string>;
  /**
   * The host folder for the steps' logs and exit codes (created, and removed at the end). A run
   * whose folder is known can be re-attached after a restart. Default: a temporary folder.
   */
  stepsDir?: string;
  /**
   * Goes on with a run that a previous server process started in this container (with the same
   * `stepsDir`): steps that ended are replayed from their files (events the caller already has
   * must be dropped by the caller), the one running is followed, the others run.
   */
  reattach?: { container: Docker.Container; startedAt: number };
}

export type DockerRunResult = RunResult;

/** Runs the plan; always resolves (failures are statuses), and always removes its container. */
export async function runOnDocker(
  options: DockerRunOptions
): Promise<DockerRunResult> {
  const { plan, onEvent, signal } = options;
  const files = new StepFiles(
    options.stepsDir ?? (await mkdtemp(join(tmpdir(), 'reproserver-steps-')))
  );
  let container = options.reattach?.container;
  let ending: 'timed-out' | 'cancelled' | undefined;
  const stopFollowing = new AbortController();
  const kill = (why: 'timed-out' | 'cancelled'): void => {
    ending ??= why;
    stopFollowing.abort();
    void container?.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  };
  const onAbort = (): void => kill('cancelled');
  signal?.addEventListener('abort', onAbort);
  let timer: NodeJS.Timeout | undefined;
  let result: DockerRunResult;
  try {
    if (signal?.aborted) {
      return finish(onEvent, { status: 'cancelled' });
    }
    if (!container) {
      await files.create();
      container = await createContainer(options, files.hostDir);
      if (signal?.aborted) {
        return finish(onEvent, { status: 'cancelled' });
      }
      await container.start();
    }
    onEvent({ type: 'status', time: Date.now(), status: 'running' });
    const startedAt = options.reattach?.startedAt ?? Date.now();
    timer = setTimeout(
      () => kill('timed-out'),
      Math.max(0, startedAt + plan.limits.timeoutSeconds * 1000 - Date.now())
    );
    result = await runSteps(options, container, files, stopFollowing.signal);
    if (ending) {
      result = stoppedBy(ending, plan, result.failedStep ?? 0);
    }
    clearTimeout(timer);
    if (result.status !== 'cancelled' && result.status !== 'error') {
      await collectOutputs(container, plan, options.sink, onEvent);
    }
  } catch (error) {
    result = ending
      ? { status: ending }
      : { status: 'error', reason: `Docker failed: ${describe(error)}` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    await container?.remove({ force: true, v: true }).catch(() => undefined);
    await files.remove().catch(() => undefined);
  }
  return finish(onEvent, result);
}

function finish(
  onEvent: (event: RunEvent) => void,
  result: DockerRunResult
): DockerRunResult {
  onEvent({ type: 'end', time: Date.now(), ...result });
  return result;
}

/**
 * Each step in turn: started unless its files say it already was, then followed to its end. The
 * result names the step that ended the run; `failedStep` is where it stopped when `stop` aborts.
 */
async function runSteps(
  options: DockerRunOptions,
  container: Docker.Container,
  files: StepFiles,
  stop: AbortSignal
): Promise<RunResult> {
  const { docker, plan, onEvent } = options;
  const log = new LogBudget(plan.limits.logBytes, onEvent);
  for (let position = 0; position < plan.steps.length; position++) {
    const step = plan.steps[position];
    const state = await files.state(position);
    let execId: string;
    if (state.kind === 'not-started') {
      const inputs = plan.inputs.filter(input => input.beforeStep === position);
      await placeInputs(container, inputs, options.openInput ?? openFileInput);
      // One byte past what the log may still keep, so that we see it overflow.
      execId = await startStep(
        container,
        files,
        position,
        step,
        plan.limits.logBytes - log.used + 1
      );
    } else {
      execId = state.execId;
      if (state.exitCode === undefined) {
        await startIfNeverStarted(docker, execId);
      }
    }
    const started = Date.now();
    onEvent({
      type: 'step-start',
      time: started,
      step: position,
      id: step.id,
      argv: step.argv
    });
    const stdout = log.pump(position, 'stdout');
    const stderr = log.pump(position, 'stderr');
    const end = await followStep({
      docker,
      files,
      position,
      execId,
      signal: stop,
      onFrame: (stream, bytes) =>
        (stream === 'stdout' ? stdout : stderr).write(bytes)
    });
    stdout.flush();
    stderr.flush();
    if (end.kind === 'stopped') {
      return { status: 'cancelled', failedStep: position };
    }
    if (end.kind === 'lost') {
      // Re-attached after a restart: what stopped it happened while no server was watching.
      return {
        status: options.reattach ? 'interrupted' : 'error',
        failedStep: position,
        reason: `Step ${position} (${step.id}) ended without an exit code: ${end.reason}.`
      };
    }
    onEvent({
      type: 'step-end',
      time: Date.now(),
      step: position,
      exitCode: end.exitCode,
      durationMs: Date.now() - started
    });
    if (end.exitCode !== 0) {
      const oom =
        end.exitCode === 137 && (await wasOomKilled(docker, container));
      return stepFailed(plan, position, end.exitCode, oom);
    }
  }
  return { status: 'succeeded' };
}

async function createContainer(
  options: DockerRunOptions,
  stepsDir: string
): Promise<Docker.Container> {
  const { docker, image, plan } = options;
  const { limits } = plan;
  const container = await docker.createContainer({
    Image: image,
    Cmd: [HELPER, '--idle'],
    Hostname: plan.hostname,
    User: '0:0',
    WorkingDir: '/',
    NetworkDisabled: true,
    Labels: { 'org.reproserver.role': 'run', ...options.labels },
    HostConfig: {
      NetworkMode: 'none',
      Init: true,
      Memory: limits.memoryMiB * 1024 * 1024,
      MemorySwap: limits.memoryMiB * 1024 * 1024,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      SecurityOpt: ['no-new-privileges'],
      // The helper comes from the host, read-only, as Docker's own init does: the image keeps
      // only the package's files, and nothing is copied per run. The steps' folder is the
      // server's. (The daemon is local: we talk to it over a unix socket.)
      Binds: [
        `${options.helperPath}:${HELPER}:ro`,
        `${stepsDir}:${STEPS_MOUNT}:rw`
      ],
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
  const exec = await container.exec({
    Cmd: [HELPER, 'oom-kills'],
    User: '0:0',
    AttachStdout: true,
    AttachStderr: true
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  docker.modem.demuxStream(stream, out, new PassThrough().resume());
  await Promise.race([once(stream, 'end'), once(stream, 'close')]);
  return Number(text.trim()) > 0;
}

function describe(error: unknown): string {
  const message = errorMessage(error);
  return message
    .replace(/^\(HTTP code \d+\)\s*/, '')
    .replace(/^Error: /, '')
    .trim();
}
