/**
 * Executes a run plan on the Docker Engine.
 *
 * One container per run, from the package's image, whose main process idles (under Docker's init,
 * which reaps orphans) while each step runs through `exec` with its recorded user, working
 * directory, and — through our static `rpz-exec` helper — exactly its recorded environment and
 * argv. Steps therefore see what earlier steps wrote, and each step gets its own exit code and
 * separate stdout/stderr streams. Outputs are copied out of the container when the steps are done,
 * then the container is removed; the package image stays.
 */
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { RunEvent, RunStatus } from '../../runs/events';
import type { OutputSink } from '../../runs/output-sink';
import type { InputPlacement, RunPlan, StepPlan } from '../../runs/plan';
import { firstFileOfTar, tarOfFiles } from './archive';
import { stepFailed, stoppedBy } from '../common/endings';
import { LogBudget } from '../common/log-budget';
import {
  openFileInput,
  type RunBackendOptions,
  type RunResult
} from '../common/run-backend';

/** Where the helper lives inside containers: at the root, so no packed `/bin` link can hide it. */
export const HELPER_DIR = '/.reproserver';
const HELPER = `${HELPER_DIR}/rpz-exec`;

/** Paths Docker itself changes in every container; they are not the experiment's outputs. */
const ENGINE_PATHS = [
  '/etc/hostname',
  '/etc/hosts',
  '/etc/resolv.conf',
  // Docker's init (HostConfig.Init) is bind-mounted here, through a packed /sbin link or not.
  '/sbin/docker-init',
  '/usr/sbin/docker-init',
  '/dev',
  '/proc',
  '/sys'
];

export interface DockerRunOptions extends RunBackendOptions {
  docker: Docker;
  image: string;
  /** The static `rpz-exec` binary on this host. */
  helperPath: string;
  /** Labels added to the container, e.g. the run's id for reconciliation after a restart. */
  labels?: Record<string, string>;
}

export type DockerRunResult = RunResult;

/** Runs the plan; always resolves (failures are statuses), and always removes its container. */
export async function runOnDocker(
  options: DockerRunOptions
): Promise<DockerRunResult> {
  const { docker, plan, onEvent, signal } = options;
  const emit = (status: RunStatus, detail?: string): void =>
    onEvent({
      type: 'status',
      time: Date.now(),
      status,
      ...(detail ? { detail } : {})
    });
  let container: Docker.Container | undefined;
  let ending: 'timed-out' | 'cancelled' | undefined;
  const kill = (why: 'timed-out' | 'cancelled'): void => {
    ending ??= why;
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
    container = await createContainer(options);
    if (signal?.aborted) {
      return finish(onEvent, { status: 'cancelled' });
    }
    await container.start();
    emit('running');
    timer = setTimeout(
      () => kill('timed-out'),
      plan.limits.timeoutSeconds * 1000
    );
    const log = new LogBudget(plan.limits.logBytes, onEvent);
    result = { status: 'succeeded' };
    for (let position = 0; position < plan.steps.length; position++) {
      const inputs = plan.inputs.filter(input => input.beforeStep === position);
      if (inputs.length > 0) {
        await placeInputs(
          container,
          inputs,
          options.openInput ?? openFileInput
        );
      }
      const exitCode = await runStep(
        docker,
        container,
        plan.steps[position],
        position,
        log,
        onEvent
      );
      if (ending) {
        result = stoppedBy(ending, plan, position);
        break;
      }
      if (exitCode !== 0) {
        const oom = exitCode === 137 && (await wasOomKilled(docker, container));
        result = stepFailed(plan, position, exitCode, oom);
        break;
      }
    }
    clearTimeout(timer);
    if (result.status !== 'cancelled') {
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

async function createContainer(
  options: DockerRunOptions
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
      // only the package's files, and nothing is copied per run. (The daemon is local: we talk to
      // it over a unix socket.)
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

/** Runs one step to its end; resolves with its exit code (128 + N when killed by signal N). */
async function runStep(
  docker: Docker,
  container: Docker.Container,
  step: StepPlan,
  position: number,
  log: LogBudget,
  onEvent: (event: RunEvent) => void
): Promise<number> {
  const started = Date.now();
  onEvent({
    type: 'step-start',
    time: started,
    step: position,
    id: step.id,
    argv: step.argv
  });
  const environ = Object.entries(step.environ).map(
    ([name, value]) => `${name}=${value}`
  );
  const exec = await container.exec({
    Cmd: [
      HELPER,
      'run',
      step.binary ?? '-',
      String(environ.length),
      ...environ,
      '--',
      ...step.argv
    ],
    User: `${step.uid}:${step.gid}`,
    WorkingDir: step.workingdir,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = log.pump(position, 'stdout');
  const stderr = log.pump(position, 'stderr');
  docker.modem.demuxStream(stream, stdout, stderr);
  await Promise.race([once(stream, 'end'), once(stream, 'close')]);
  stdout.flush();
  stderr.flush();
  const exitCode = await execExitCode(exec);
  onEvent({
    type: 'step-end',
    time: Date.now(),
    step: position,
    exitCode,
    durationMs: Date.now() - started
  });
  return exitCode;
}

/** The engine may report the exec as running for a moment after its stream ended. */
async function execExitCode(exec: Docker.Exec): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) {
      return info.ExitCode;
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  return 137;
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

/** Copies the declared outputs, then every other file the run created or changed. */
async function collectOutputs(
  container: Docker.Container,
  plan: RunPlan,
  sink: OutputSink,
  onEvent: (event: RunEvent) => void
): Promise<void> {
  let budget = plan.limits.outputBytes;
  const copy = async (
    name: string,
    path: string,
    kind: 'declared' | 'changed'
  ): Promise<void> => {
    const missing = (reason: string): void =>
      onEvent({ type: 'output-missing', time: Date.now(), name, path, reason });
    let archive: NodeJS.ReadableStream;
    try {
      archive = await container.getArchive({ path });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        missing('The run did not create it.');
        return;
      }
      throw error;
    }
    let stored: { size: number; sha256: string } | undefined;
    let owner: { uid: number; gid: number; mode: number } | undefined;
    const result = await firstFileOfTar(archive, async (body, header) => {
      owner = { uid: header.uid, gid: header.gid, mode: header.mode };
      if (header.size > budget) {
        body.resume();
        await once(body, 'end');
        return;
      }
      stored = await sink.store({ name, path, kind }, body);
      budget -= stored.size;
    });
    if (result === 'not-a-file') {
      if (kind === 'declared') {
        missing('It is not a regular file.');
      }
    } else if (!stored) {
      missing(
        `The outputs reached their size limit of ${plan.limits.outputBytes} bytes.`
      );
    } else {
      onEvent({
        type: 'output',
        time: Date.now(),
        name,
        path,
        kind,
        ...stored,
        ...owner!
      });
    }
  };

  for (const output of plan.outputs) {
    await copy(output.name, output.path, 'declared');
  }
  // Replaced inputs were put there by the user, not made by the run.
  const declared = new Set(
    [...plan.outputs, ...plan.inputs].map(file => file.path)
  );
  const changes = ((await container.changes()) ?? []) as {
    Path: string;
    Kind: number;
  }[];
  const paths = changes.filter(c => c.Kind !== 2).map(c => c.Path);
  // A path with changed paths below it is a directory: no need to ask the engine.
  const parents = new Set(paths.flatMap(ancestorsOf));
  for (const path of paths.sort()) {
    if (declared.has(path) || parents.has(path) || isEngineOrHelperPath(path)) {
      continue;
    }
    if (!(await isRegularFile(container, path))) {
      continue;
    }
    await copy(path, path, 'changed');
  }
}

function ancestorsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts
    .slice(0, -1)
    .map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

/**
 * Asks the engine for a path's type without transferring it (HEAD …/archive). The stat is a
 * base64 JSON header whose mode uses Go's bits: any of the type bits set means not a regular file.
 */
async function isRegularFile(
  container: Docker.Container,
  path: string
): Promise<boolean> {
  try {
    const info = (await container.infoArchive({ path })) as {
      headers?: Record<string, string>;
      resume?: () => void;
    };
    info.resume?.();
    const header = info.headers?.['x-docker-container-path-stat'];
    if (!header) {
      return true;
    }
    const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as {
      mode: number;
    };
    const GO_TYPE_BITS = 0x8f280000; // dir, symlink, named pipe, socket, device, char device, irregular
    return (stat.mode & GO_TYPE_BITS) === 0;
  } catch {
    return false;
  }
}

function isEngineOrHelperPath(path: string): boolean {
  return [HELPER_DIR, ...ENGINE_PATHS].some(
    p => path === p || path.startsWith(p + '/')
  );
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/^\(HTTP code \d+\)\s*/, '')
    .replace(/^Error: /, '')
    .trim();
}
