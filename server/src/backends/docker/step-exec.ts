/**
 * One step of a Docker run. It is started as root through an attached exec of `rpz-exec step`,
 * which claims it (a step is never run twice, whatever the server did), becomes the step's user,
 * writes the step's output and exit code into files inside the container and copies them to its
 * stdout, which the server reads live, for as long as that never blocks the step (see
 * rpz-exec.c). When that copy stops short (the server was slower than the step, or it restarted
 * and the step was already running), an attached exec of `rpz-exec follow` streams the files from
 * the byte the server had; if that exec goes too (the connection dropped, a root step killed it),
 * another one goes on. Nothing of the container is ever reached through a host path.
 */
import type Docker from 'dockerode';
import type { StepPlan } from '../../runs/plan';
import { errorMessage } from '../../describe';
import { firstFileOfTar } from './archive';
import { runAttached } from './attached-exec';
import {
  FrameError,
  FrameParser,
  MAX_FRAME_BYTES,
  type FollowRecord,
  type StreamName
} from './frames';
import { HELPER, STEPS_DIR } from './layout';
import type { OutputDeliveries } from './deliveries';

/** How a followed step ended. */
export type StepEnd =
  | { kind: 'exited'; exitCode: number }
  /** Its process is gone without an exit code, or what it left cannot be trusted. */
  | { kind: 'lost'; reason: string }
  /** The caller stopped following (the run is being cancelled or timed out). */
  | { kind: 'stopped' };

/** Followers started again for one step at most (a root step may kill them). */
const MAX_FOLLOWERS = 10;

/** A step could not be started (what the helper or the engine said). */
export class StepStartError extends Error {}

export interface FollowOptions {
  docker: Docker;
  container: Docker.Container;
  position: number;
  /**
   * The most log bytes the step can have written (what it was told to keep): a stream that
   * holds more was not our helper's alone, and the step is stopped.
   */
  keepBytes: number;
  onFrame: (stream: StreamName, bytes: Buffer) => void;
  signal: AbortSignal;
}

/**
 * Starts the step unless it was started before (by us, or by a server that stopped), and hands
 * every frame of its log to `onFrame`, from its start, until its exit code is there, its helper
 * or container is gone, or `signal` aborts. `keepBytes` bounds the output its log may grow to.
 */
export async function runStep(
  options: FollowOptions & {
    step: StepPlan;
    /** The helper's own environment, where the engine needs it (`podman-quirks.ts`). */
    helperEnv?: string[];
    /**
     * The declared outputs the helper sends once the step has ended (its last step's): this
     * resolves at the step's end, and they keep coming into `deliveries` (`deliveries.ts`).
     */
    deliveries?: OutputDeliveries;
  }
): Promise<StepEnd> {
  const { docker, container, position, step, signal, deliveries } = options;
  const environ = Object.entries(step.environ).map(
    ([name, value]) => `${name}=${value}`
  );
  const log = new LogReader(options);
  // What the spool must take before more of the stream is read.
  const backlog: Promise<unknown>[] = [];
  const parser = new FrameParser(
    deliveries &&
      (record => {
        const wait = deliveries.take(record);
        if (wait) {
          backlog.push(wait);
        }
      })
  );
  let claim: 'started' | 'already-started' | undefined;
  let gap = false;
  let end: StepEnd | undefined;
  let reachEnd: (end: StepEnd) => void = () => {};
  const endReached = new Promise<StepEnd>(resolve => (reachEnd = resolve));
  let outcome;
  try {
    const attached = runAttached(
      docker,
      container,
      {
        Cmd: [
          HELPER,
          'step',
          STEPS_DIR,
          String(position),
          String(options.keepBytes),
          String(step.uid),
          String(step.gid),
          ...(deliveries?.helperArgs() ?? []),
          step.binary ?? '-',
          String(environ.length),
          ...environ,
          '--',
          ...step.argv
        ],
        // The helper becomes the step's user itself, after claiming the step as root.
        User: '0:0',
        WorkingDir: step.workingdir,
        // Only where needed: Docker's exec request stays what it always was.
        ...(options.helperEnv?.length ? { Env: options.helperEnv } : {})
      },
      chunk => {
        for (const record of parser.push(chunk)) {
          if (record.kind === 'started' || record.kind === 'already-started') {
            claim ??= record.kind;
          } else if (claim === undefined) {
            throw new FrameError('The step said nothing of its start.');
          } else if (record.kind === 'gap') {
            gap = true;
          } else {
            end = log.take(record) ?? end;
            if (end) {
              reachEnd(end);
            }
          }
        }
        // A step claimed before, or that stopped copying its frames, is followed from its log.
        if (claim === 'already-started' || gap) {
          return true;
        }
        // Outputs wait for the disk: the stream is read on once it has caught up.
        return backlog.length > 0
          ? Promise.all(backlog.splice(0)).then(() => {})
          : undefined;
      },
      signal
    );
    if (deliveries) {
      void attached.then(
        () => deliveries.streamEnded(),
        () => deliveries.streamEnded()
      );
      // The step's end is all the run waits for: its outputs come on meanwhile.
      const first = await Promise.race([
        attached.then(done => ({ done })),
        endReached.then(reached => ({ reached }))
      ]);
      if ('reached' in first) {
        return first.reached;
      }
      outcome = first.done;
    } else {
      outcome = await attached;
    }
  } catch (error) {
    if (error instanceof FrameError || error instanceof LogTooLargeError) {
      return lost(error);
    }
    // Stopping kills the container: Podman may then reset the exec's connection, where Docker
    // ends it.
    if (signal.aborted) {
      return { kind: 'stopped' };
    }
    throw error;
  }
  if (signal.aborted) {
    return { kind: 'stopped' };
  }
  if (claim === undefined) {
    const why = (outcome.stderr || `exit code ${outcome.exitCode}`).trim();
    throw new StepStartError(
      `Step ${position} (${step.id}) could not be started: ${why.slice(0, 300)}`
    );
  }
  return end ?? followStep(options, log);
}

/** Whether the step was ever started in this container (running or stopped): its claim is there. */
export async function wasStarted(
  container: Docker.Container,
  position: number
): Promise<boolean> {
  try {
    const info = (await container.infoArchive({
      path: `${STEPS_DIR}/${position}.started`
    })) as { resume?: () => void };
    info.resume?.();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      return false;
    }
    throw error;
  }
}

/**
 * Hands every frame of the step's log to `onFrame`, from where `log` is (its start by default),
 * until the step's exit code is there, its helper or container is gone, or `signal` aborts.
 */
export async function followStep(
  options: FollowOptions,
  log = new LogReader(options)
): Promise<StepEnd> {
  const { docker, container, position, signal } = options;
  for (let follower = 0; follower < MAX_FOLLOWERS; follower++) {
    let end: StepEnd | undefined;
    const parser = new FrameParser();
    try {
      await runAttached(
        docker,
        container,
        {
          Cmd: [
            HELPER,
            'follow',
            STEPS_DIR,
            String(position),
            String(log.offset)
          ],
          User: '0:0'
        },
        chunk => {
          for (const record of parser.push(chunk)) {
            end = log.take(record) ?? end;
          }
        },
        signal
      );
    } catch (error) {
      if (error instanceof FrameError || error instanceof LogTooLargeError) {
        return lost(error);
      }
      if (signal.aborted) {
        return { kind: 'stopped' };
      }
      if (!(await isRunning(container))) {
        return followStopped(options, log);
      }
      throw error;
    }
    if (signal.aborted) {
      return { kind: 'stopped' };
    }
    if (end) {
      return end;
    }
    // The follower ended without its last record: the container stopped, or it was killed.
    if (!(await isRunning(container))) {
      return followStopped(options, log);
    }
  }
  return {
    kind: 'lost',
    reason: `its follower was stopped ${MAX_FOLLOWERS} times (by the step itself?)`
  };
}

/** The log of a step as the server takes it: where it is, and that it stays within bounds. */
class LogReader {
  constructor(private readonly options: FollowOptions) {
    // Each frame holds at least one byte, so its header is at most five more per byte kept.
    this._maxBytes = 6 * options.keepBytes + MAX_FRAME_BYTES;
  }

  /** Bytes of the step's log file delivered so far: where a new follower starts. */
  offset = 0;

  /** Delivers a log frame, or says how the step ended. */
  take(record: FollowRecord): StepEnd | undefined {
    switch (record.kind) {
      case 'started':
      case 'already-started':
      case 'gap':
        throw new FrameError(
          `The step's log holds a record of its start (${record.kind}).`
        );
      case 'log':
        this.offset += 5 + record.bytes.length;
        if (this.offset > this._maxBytes) {
          throw new LogTooLargeError(
            `its log grew past what the helper writes (${this._maxBytes} bytes): it was tampered with`
          );
        }
        this.options.onFrame(record.stream, record.bytes);
        return undefined;
      case 'end':
        return { kind: 'exited', exitCode: record.exitCode };
      case 'lost':
        return { kind: 'lost', reason: record.reason };
      case 'not-started':
        return { kind: 'lost', reason: 'it was never started' };
      case 'bad-log':
        return { kind: 'lost', reason: record.reason };
    }
  }

  private readonly _maxBytes: number;
}

class LogTooLargeError extends Error {}

function lost(error: Error): StepEnd {
  return { kind: 'lost', reason: error.message.replace(/\.$/, '') };
}

/**
 * The step of a container that stopped (killed, or the engine restarted): what its files say,
 * read through the engine's archive API. The rest of its log is delivered; it ended if its exit
 * code is there, and was lost otherwise.
 */
async function followStopped(
  options: FollowOptions,
  log: LogReader
): Promise<StepEnd> {
  const { container, position } = options;
  const exitText = await smallFile(container, `${position}.exit`);
  try {
    const parser = new FrameParser();
    let skip = log.offset;
    await readFile(container, `${position}.log`, chunk => {
      const rest = chunk.subarray(Math.min(skip, chunk.length));
      skip -= chunk.length - rest.length;
      for (const record of parser.push(rest)) {
        if (record.kind !== 'log') {
          throw new FrameError('The step log holds a record of the follower.');
        }
        log.take(record);
      }
    });
  } catch (error) {
    return { kind: 'lost', reason: errorMessage(error).replace(/\.$/, '') };
  }
  const match = /^(\d{1,3})\n$/.exec(exitText ?? '');
  if (match && Number(match[1]) <= 255) {
    return { kind: 'exited', exitCode: Number(match[1]) };
  }
  return { kind: 'lost', reason: 'its container stopped' };
}

async function smallFile(
  container: Docker.Container,
  name: string
): Promise<string | undefined> {
  let text = '';
  const found = await readFile(container, name, chunk => {
    text += chunk.toString('latin1').slice(0, 16 - text.length);
  });
  return found ? text : undefined;
}

/** Streams a regular file of the steps' folder out of the container; false when it is absent. */
async function readFile(
  container: Docker.Container,
  name: string,
  onChunk: (chunk: Buffer) => void
): Promise<boolean> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path: `${STEPS_DIR}/${name}` });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      return false;
    }
    throw error;
  }
  const kind = await firstFileOfTar(archive, async body => {
    for await (const chunk of body) {
      onChunk(chunk as Buffer);
    }
  });
  return kind === 'file';
}

async function isRunning(container: Docker.Container): Promise<boolean> {
  try {
    return (await container.inspect()).State.Running === true;
  } catch {
    return false;
  }
}
