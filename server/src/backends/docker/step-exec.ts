/**
 * One step of a Docker run: started as a detached exec of `rpz-exec step` (so it survives the
 * server), then followed through its files on the host until its exit code is there.
 */
import { once } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import type Docker from 'dockerode';
import type { StepPlan } from '../../runs/plan';
import { FrameParser, type StreamName } from './frames';
import { HELPER } from './layout';
import type { StepFiles } from './step-files';

/** How often a follower looks again without being told of a change, and asks the engine. */
const POLL_MS = 1000;
const READ_BYTES = 64 * 1024;

/** How a followed step ended. */
export type StepEnd =
  | { kind: 'exited'; exitCode: number }
  /** Its process is gone without an exit code: the container stopped or was killed. */
  | { kind: 'lost'; reason: string }
  /** The caller stopped following (the run is being cancelled or timed out). */
  | { kind: 'stopped' };

/** Starts the step; `keepBytes` bounds the output its log file may grow to. Returns the exec's id. */
export async function startStep(
  container: Docker.Container,
  files: StepFiles,
  position: number,
  step: StepPlan,
  keepBytes: number
): Promise<string> {
  await files.prepare(position);
  const environ = Object.entries(step.environ).map(
    ([name, value]) => `${name}=${value}`
  );
  const exec = await container.exec({
    Cmd: [
      HELPER,
      'step',
      files.containerPath(position, 'log'),
      files.containerPath(position, 'exit'),
      String(keepBytes),
      step.binary ?? '-',
      String(environ.length),
      ...environ,
      '--',
      ...step.argv
    ],
    User: `${step.uid}:${step.gid}`,
    WorkingDir: step.workingdir,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false
  });
  await files.recordExec(position, exec.id);
  await startDetached(exec);
  return exec.id;
}

/** Starts an exec without attaching to it; the engine's (empty) answer is read to its end. */
async function startDetached(exec: Docker.Exec): Promise<void> {
  const answer = (await exec.start({ Detach: true })) as unknown as
    NodeJS.ReadableStream | undefined;
  if (answer && typeof answer.resume === 'function') {
    answer.resume();
    await once(answer, 'end').catch(() => undefined);
  }
}

/**
 * Hands every frame of the step's log to `onFrame`, from the start of the file (a restarted
 * server reads again what its predecessor read; the caller drops what was already delivered),
 * until the step's exit code is written, its process is gone, or `signal` aborts.
 */
export async function followStep(options: {
  docker: Docker;
  files: StepFiles;
  position: number;
  execId: string;
  onFrame: (stream: StreamName, bytes: Buffer) => void;
  signal: AbortSignal;
}): Promise<StepEnd> {
  const { files, position, signal } = options;
  const log = await files.openLog(position);
  const parser = new FrameParser();
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  let offset = 0;
  const readToEnd = async (): Promise<void> => {
    for (;;) {
      const { bytesRead } = await log.read(buffer, 0, READ_BYTES, offset);
      if (bytesRead === 0) {
        return;
      }
      offset += bytesRead;
      for (const frame of parser.push(buffer.subarray(0, bytesRead))) {
        options.onFrame(frame.stream, frame.bytes);
      }
    }
  };
  const changes = new FolderChanges(files.hostDir);
  const onAbort = (): void => changes.wake();
  signal.addEventListener('abort', onAbort);
  try {
    let lastAsked = Date.now();
    for (;;) {
      await readToEnd();
      const exitCode = await files.exitCode(position);
      if (exitCode !== undefined) {
        // rpz-exec wrote its last frame before the exit code.
        await readToEnd();
        return { kind: 'exited', exitCode };
      }
      if (signal.aborted) {
        return { kind: 'stopped' };
      }
      if (Date.now() - lastAsked >= POLL_MS) {
        lastAsked = Date.now();
        const gone = await execGone(options.docker, options.execId);
        // The exit code may have been written just before the process ended.
        if (gone && (await files.exitCode(position)) === undefined) {
          await readToEnd();
          return { kind: 'lost', reason: gone };
        }
      }
      await changes.next(POLL_MS);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    changes.close();
    await log.close();
  }
}

/**
 * Why the exec running a step is gone though our helper did not write its exit code (the
 * container was killed or stopped; the helper itself was killed); undefined while it runs.
 */
async function execGone(
  docker: Docker,
  execId: string
): Promise<string | undefined> {
  let info: Docker.ExecInspectInfo;
  try {
    info = await docker.getExec(execId).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      return 'the engine no longer knows its process';
    }
    throw error;
  }
  if (info.Running) {
    return undefined;
  }
  return info.ExitCode === null || info.ExitCode === undefined
    ? 'its container stopped'
    : `its process was killed (exit code ${info.ExitCode})`;
}

/**
 * Starts a step whose exec was created and recorded but never started: the server stopped
 * between the two. Does nothing to one that started, whatever became of it.
 */
export async function startIfNeverStarted(
  docker: Docker,
  execId: string
): Promise<void> {
  const exec = docker.getExec(execId);
  const info = await exec.inspect().catch(() => undefined);
  if (info && !info.Running && info.ExitCode === null && !info.Pid) {
    await startDetached(exec);
  }
}

/** Wakes a waiter when something in a folder changes (inotify), or after a time. */
class FolderChanges {
  constructor(folder: string) {
    try {
      this._watcher = watch(folder, () => this.wake());
      this._watcher.on('error', () => this._watcher?.close());
    } catch {
      // No notifications on this file system: the waiter's timeout polls instead.
    }
  }

  next(timeoutMs: number): Promise<void> {
    if (this._changed) {
      this._changed = false;
      return Promise.resolve();
    }
    return new Promise(resolve => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this._waiter = done;
    });
  }

  wake(): void {
    const waiter = this._waiter;
    this._waiter = undefined;
    if (waiter) {
      this._changed = false;
      waiter();
    } else {
      this._changed = true;
    }
  }

  close(): void {
    this._watcher?.close();
    this.wake();
  }

  private _watcher: FSWatcher | undefined;
  private _waiter: (() => void) | undefined;
  private _changed = false;
}
