/**
 * Stream jobs (server side): a job that walks a package's data runs in a reader process of its
 * own and writes its bytes to a pipe (the reader's fd 3); this side hands them on without reading
 * them (no tar header of a package is parsed on the event loop), and learns of progress, warnings
 * and the outcome over IPC. The reader is killed (SIGKILL) when the job is aborted, when this
 * process exits, when it passes its memory cap, or when its counters stop moving for the stall
 * timeout: a walk can take as long as the data needs, but never stand still.
 */
import type { ChildProcess } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import { RpzError } from '../errors';
import type {
  ReaderReply,
  StreamNotice,
  StreamProgress,
  StreamResults,
  StreamTask
} from './protocol';
import {
  readerError,
  residentBytes,
  startReader,
  type Reader
} from './reader-pool';
import { readerScript } from './reader-script';

export interface StreamJobOptions {
  /** JavaScript heap cap of the reader, and its resident memory cap above an idle reader; MiB. */
  memoryMib: number;
  /** The reader is stopped when its counters have not changed for this long; milliseconds. */
  stallMs: number;
  /** Names the package in refusals. */
  label: string;
  /** Receives the counters when they change (at most every 250 ms). */
  onProgress?: (progress: StreamProgress) => void;
  onWarning?: (message: string) => void;
  /** Aborting it stops the job (`result` rejects with an `aborted` `RpzError`). */
  signal?: AbortSignal;
  /** How the limits are named to users (flags), for the sentences of refusals. */
  limitNames?: { stall: string; memory: string };
}

export interface StreamJob<R> {
  /**
   * The job's bytes. It ends only after the job has succeeded; when the job fails it is destroyed
   * with the job's error instead, so that a consumer never takes a cut stream for a complete one.
   */
  output: Readable;
  /** The job's final counters, or its `RpzError` (`read-memory`, `read-timeout` for a stall…). */
  result: Promise<R>;
  /** Stops the job (its consumer gave up): `result` rejects with a `StreamJobAbortedError`. */
  abort(): void;
}

/** Why a job stopped when its consumer, not the package, ended it. */
export class StreamJobAbortedError extends Error {
  constructor() {
    super('The stream job was stopped by its consumer.');
    this.name = 'StreamJobAbortedError';
  }
}

/** How often a running job's memory is sampled and its stall checked. */
const POLL_MS = 100;

/** Readers of running jobs: killed when this process exits (they may be stuck in native code). */
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) {
    child.kill('SIGKILL');
  }
});

/**
 * One reader started ahead for the next job: starting Node costs about 130 ms, which a small
 * package's whole unpacking would otherwise pay. It does not keep this process alive (its
 * handles are unreferenced until it is taken) and is killed when this process exits. It is used
 * only by a job with the same memory cap, and never for a reader script named in
 * REPROSERVER_READER_SCRIPT (tests' fake readers count the processes they start).
 */
let spare: { key: string; reader: Promise<Reader> } | undefined;

function prepareSpare(key: string, memoryMib: number): void {
  const reader = startReader(memoryMib, true).then(started => {
    liveChildren.add(started.child);
    setReferenced(started.child, false);
    started.child.once('exit', () => liveChildren.delete(started.child));
    return started;
  });
  reader.catch(() => undefined);
  spare = { key, reader };
}

/**
 * Starts the spare reader for jobs with this memory cap now, so that the first job does not wait
 * for Node to start (a server calls it once at start). Resolves when it is ready.
 */
export async function startSpareReader(memoryMib: number): Promise<void> {
  if (process.env.REPROSERVER_READER_SCRIPT) {
    return;
  }
  const key = `${readerScript()}\0${memoryMib}`;
  if (spare?.key !== key) {
    prepareSpare(key, memoryMib);
  }
  await spare?.reader.catch(() => undefined);
}

/** A reader with its output pipe: the spare when it fits and is alive, else a new one. */
async function takeReader(memoryMib: number): Promise<Reader> {
  if (process.env.REPROSERVER_READER_SCRIPT) {
    return startReader(memoryMib, true);
  }
  const key = `${readerScript()}\0${memoryMib}`;
  const taken = spare;
  prepareSpare(key, memoryMib);
  const ready = await taken?.reader.catch(() => undefined);
  if (
    ready &&
    taken?.key === key &&
    ready.child.exitCode === null &&
    ready.child.signalCode === null
  ) {
    setReferenced(ready.child, true);
    return ready;
  }
  ready?.child.kill('SIGKILL');
  return startReader(memoryMib, true);
}

/** Whether a reader's process, channel and pipes keep this process alive. */
function setReferenced(child: ChildProcess, referenced: boolean): void {
  const handles: ({ ref(): void; unref(): void } | null | undefined)[] = [
    child,
    child.channel,
    ...(child.stdio as unknown as ({ ref(): void; unref(): void } | null)[])
  ];
  for (const handle of handles) {
    if (handle && typeof handle.unref === 'function') {
      if (referenced) {
        handle.ref();
      } else {
        handle.unref();
      }
    }
  }
}

export function startStreamJob<K extends StreamTask['kind']>(
  task: StreamTask & { kind: K },
  options: StreamJobOptions
): StreamJob<StreamResults[K]> {
  const { label } = options;
  const names = options.limitNames ?? {
    stall: 'the stall timeout',
    memory: 'the read memory cap'
  };
  let settle!: (
    outcome: { value: StreamResults[K] } | { error: Error }
  ) => void;
  const result = new Promise<StreamResults[K]>((resolve, reject) => {
    let settled = false;
    settle = outcome => {
      if (settled) {
        return;
      }
      settled = true;
      if ('error' in outcome) {
        reject(outcome.error);
        output.destroy(outcome.error);
      } else {
        resolve(outcome.value);
      }
    };
  });
  // Nobody may await `result` when the consumer learns of failures through `output`.
  result.catch(() => undefined);

  // Passes chunks through untouched; holds back the end until the job has said it succeeded.
  const output = new Transform({
    transform(chunk, _encoding, callback) {
      callback(null, chunk);
    },
    flush(callback) {
      result.then(
        () => callback(),
        (error: Error) => callback(error)
      );
    }
  });
  // Failures are the job's `result` too: a stream nobody reads must not crash the process.
  output.on('error', () => undefined);
  // A consumer that destroys the stream early has given up.
  output.on('close', () => {
    if (!output.writableFinished) {
      settle({ error: new StreamJobAbortedError() });
    }
  });

  const onAbort = (): void =>
    settle({
      error: new RpzError(
        'aborted',
        `Reading the package was stopped by its caller (${label}).`
      )
    });
  if (options.signal?.aborted) {
    onAbort();
  }
  options.signal?.addEventListener('abort', onAbort, { once: true });

  run().catch((error: unknown) =>
    settle({
      error: new RpzError(
        'read-failed',
        `The package reader failed (${(error as Error).message}) (${label})`
      )
    })
  );

  async function run(): Promise<void> {
    let reader;
    try {
      reader = await takeReader(options.memoryMib);
    } catch (error) {
      settle({
        error: new RpzError(
          'read-failed',
          `The package reader could not be started (${(error as Error).message}) (${label})`
        )
      });
      return;
    }
    const { child } = reader;
    liveChildren.add(child);
    let lastChange = Date.now();
    const timers: NodeJS.Timeout[] = [];
    const stop = (error: Error): void => settle({ error });
    void result
      .catch(() => undefined)
      .finally(() => {
        for (const timer of timers) {
          clearInterval(timer);
        }
        options.signal?.removeEventListener('abort', onAbort);
        child.kill('SIGKILL');
        liveChildren.delete(child);
      });
    const pipe = child.stdio[3] as Readable;
    pipe.on('data', () => {
      lastChange = Date.now();
    });
    pipe.pipe(output);
    child.on('message', (message: ReaderReply | StreamNotice) => {
      if ('progress' in message) {
        lastChange = Date.now();
        options.onProgress?.(message.progress);
      } else if ('warning' in message) {
        options.onWarning?.(message.warning);
      } else if ('ok' in message) {
        if (message.ok) {
          settle({ value: message.value as StreamResults[K] });
        } else {
          stop(readerError(message.error, label));
        }
      }
    });
    const memoryError = (): RpzError =>
      new RpzError(
        'read-memory',
        `Reading the package needed more than ${options.memoryMib} MiB of memory (${names.memory}); it is refused (${label})`
      );
    child.on('exit', (code, signal) => {
      const heap = /heap out of memory|heap limit/i.test(reader.stderrTail);
      stop(
        heap
          ? memoryError()
          : new RpzError(
              'read-failed',
              `The package reader stopped unexpectedly (${signal ?? `exit code ${code}`}) while reading the package's data; it is refused (${label})`
            )
      );
    });
    const capBytes = reader.baselineRss + options.memoryMib * 1024 * 1024;
    timers.push(
      setInterval(() => {
        const idleMs = Date.now() - lastChange;
        if (idleMs > options.stallMs) {
          stop(
            new RpzError(
              'read-timeout',
              `Reading the package's data made no progress for ${Math.round(options.stallMs / 1000)} s (${names.stall}); it was stopped (${label})`
            )
          );
          return;
        }
        void residentBytes(child.pid!).then(rss => {
          if (rss !== null && reader.baselineRss > 0 && rss > capBytes) {
            stop(memoryError());
          }
        });
      }, POLL_MS)
    );
    child.send({ id: 1, stream: task }, error => {
      if (error) {
        stop(
          new RpzError(
            'read-failed',
            `The package reader could not be reached (${error.message}); try again (${label})`
          )
        );
      }
    });
  }

  return {
    output,
    result,
    abort(): void {
      settle({ error: new StreamJobAbortedError() });
    }
  };
}
