/**
 * A small pool of reader processes (`reader-process.ts`) with a deadline and a memory cap per
 * task. Each process does one task at a time and is reused; a process that passes its deadline
 * or its cap is killed (SIGKILL: it may be stuck in native code, where nothing else reaches it)
 * and the next task gets a fresh one. The event loop of the server only waits on messages.
 *
 * Why processes and not worker threads: a worker thread stuck in native code (an endless SQLite
 * query over a recursive view) cannot be terminated — `worker.terminate()` never settles and even
 * `process.exit()` hangs — and a native crash in a thread takes the server down with it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DiskFullError } from '../../sandbox/extract';
import { RpzError } from '../errors';
import { readDeadline, readTimeoutError } from './deadline';
import type {
  ReaderErrorData,
  ReaderReady,
  ReaderReply,
  ReaderResults,
  ReaderTask
} from './protocol';
import { readerScript } from './reader-script';

export interface ReaderLimits {
  /** Deadline of one task, before the allowance for the package's size; milliseconds. */
  timeoutMs: number;
  /** Extra time allowed per MiB of package (big packages take time to hash or decompress). */
  msPerMib: number;
  /** JavaScript heap cap of a reader, and its resident memory cap above an idle reader; MiB. */
  memoryMib: number;
}

export interface ReaderPoolOptions extends ReaderLimits {
  /** Reader processes at most (tasks beyond wait their turn). */
  processes: number;
  /** How the limits are named to users (flags), for the sentences of refusals. */
  limitNames?: { timeout: string; memory: string };
}

/** How often a busy reader's resident memory is sampled. */
const MEMORY_POLL_MS = 100;
/** A reader that has not said it is ready within this is broken (not the package's fault). */
const START_TIMEOUT_MS = 30_000;
/** What is kept of a reader's stderr, to tell a heap exhaustion from another crash. */
const STDERR_TAIL_BYTES = 4096;

export interface Reader {
  child: ChildProcess;
  /** Resident memory of the idle reader, bytes (0 when it cannot be measured). */
  baselineRss: number;
  stderrTail: string;
  nextId: number;
}

type Settle = (reply: ReaderReply | { failed: RpzError }) => void;

/** Resident set size of a process in bytes, from /proc; null where there is no /proc. */
export async function residentBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Lets the process exit while a reader idles (a CLI must not wait for its pool). */
function setRef(child: ChildProcess, ref: boolean): void {
  const handles = [child, child.channel, child.stderr] as (
    { ref?: () => void; unref?: () => void } | null | undefined
  )[];
  for (const handle of handles) {
    if (ref) {
      handle?.ref?.();
    } else {
      handle?.unref?.();
    }
  }
}

/** The error a reader replied with, as an `RpzError` (its own, or `unreadable`). */
export function readerError(
  error: ReaderErrorData,
  label: string
): RpzError | DiskFullError {
  const { code, message, member } = error;
  if (error.name === 'DiskFullError') {
    return new DiskFullError(message);
  }
  return code === undefined
    ? new RpzError(
        'unreadable',
        `Cannot read the package: ${message} (${label})`
      )
    : new RpzError(code, message, member);
}

/**
 * Starts a reader process with a heap cap of `memoryMib` and waits until it is ready. With
 * `outputPipe`, its fd 3 is a pipe from the reader to this process (`child.stdio[3]`), for the
 * bytes of a stream job.
 */
export async function startReader(
  memoryMib: number,
  outputPipe = false
): Promise<Reader> {
  const child = fork(readerScript(), [], {
    // Only the heap caps: the server's own flags (a debugger, a test runner's) stay here. The
    // young generation is capped too: from Node.js 24 (V8 13) it grows to several times its
    // former 16 MiB semi-spaces, and a config.yml of 10,000 entries then took 270 MiB resident
    // instead of 180 MiB, past the resident cap (`memoryMib` above an idle reader).
    execArgv: [`--max-old-space-size=${memoryMib}`, '--max-semi-space-size=16'],
    serialization: 'advanced',
    stdio: outputPipe
      ? // The channel moves to fd 4 so that the pipe is fd 3 (the index is the child's fd).
        ['ignore', 'ignore', 'pipe', 'pipe', 'ipc']
      : ['ignore', 'ignore', 'pipe', 'ipc']
  });
  const reader: Reader = {
    child,
    baselineRss: 0,
    stderrTail: '',
    nextId: 1
  };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    reader.stderrTail = (reader.stderrTail + text).slice(-STDERR_TAIL_BYTES);
  });
  child.on('error', () => {
    // Reported through 'exit' or the start timeout; never an unhandled 'error'.
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('The package reader did not start in time.'));
    }, START_TIMEOUT_MS);
    const onMessage = (message: ReaderReady): void => {
      if (message.ready) {
        done();
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(
        new Error(
          `The package reader exited at start (${signal ?? `code ${code}`}): ${reader.stderrTail.trim()}`
        )
      );
    };
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
  reader.baselineRss = (await residentBytes(child.pid!)) ?? 0;
  return reader;
}

/**
 * A reader stuck in native code never sees its IPC channel close when the server exits: every
 * open pool kills its readers then.
 */
const livePools = new Set<ReaderPool>();
process.on('exit', () => {
  for (const pool of livePools) {
    pool._killAll();
  }
});

export class ReaderPool {
  constructor(private readonly options: ReaderPoolOptions) {
    if (options.processes < 1) {
      throw new Error('A reader pool needs at least one process.');
    }
    livePools.add(this);
  }

  /**
   * Runs `task` in a reader; `label` names the package in refusals, `sizeBytes` (the package's
   * size) extends the deadline. Rejects with the reader's `RpzError`, or with `read-timeout`,
   * `read-memory` or `read-failed` when the reader had to be stopped.
   */
  async run<K extends ReaderTask['kind']>(
    task: ReaderTask & { kind: K },
    label: string,
    sizeBytes: number
  ): Promise<ReaderResults[K]> {
    if (this._closed) {
      throw new RpzError('aborted', `The package reader is closed (${label}).`);
    }
    const reader = await this._acquire();
    let healthy = false;
    try {
      const value = await this._perform(reader, task, label, sizeBytes);
      healthy = true;
      return value as ReaderResults[K];
    } catch (error) {
      // An answer from the reader (a refusal) leaves it healthy; a stopped reader is gone.
      const { child } = reader;
      healthy =
        !child.killed && child.exitCode === null && child.signalCode === null;
      throw error;
    } finally {
      this._release(reader, healthy);
    }
  }

  /** Stops every reader; tasks in flight are refused with `read-failed`. */
  close(): void {
    this._closed = true;
    livePools.delete(this);
    this._killAll();
    for (const wake of this._waiting.splice(0)) {
      wake(null);
    }
  }

  /** Kills every reader now (also when this process exits). */
  _killAll(): void {
    for (const reader of this._all) {
      reader.child.kill('SIGKILL');
    }
  }

  /** Readers alive now (for tests and health). */
  get size(): number {
    return this._all.size;
  }

  private async _acquire(): Promise<Reader> {
    const idle = this._idle.pop();
    if (idle !== undefined) {
      return idle;
    }
    if (this._all.size + this._starting < this.options.processes) {
      try {
        return await this._start();
      } catch (error) {
        // Its place is free again: a waiting task tries in turn.
        this._waiting.shift()?.(null);
        throw error;
      }
    }
    const handed = await new Promise<Reader | null>(resolve =>
      this._waiting.push(resolve)
    );
    if (handed === null) {
      // Closed, or a reader died and its place is free: start one (or fail when closed).
      if (this._closed) {
        throw new RpzError('aborted', 'The package reader is closed.');
      }
      return this._acquire();
    }
    return handed;
  }

  private _release(reader: Reader, healthy: boolean): void {
    if (!healthy) {
      reader.child.kill('SIGKILL');
      this._all.delete(reader);
      this._waiting.shift()?.(null);
      return;
    }
    const next = this._waiting.shift();
    if (next !== undefined) {
      next(reader);
    } else {
      setRef(reader.child, false);
      this._idle.push(reader);
    }
  }

  private async _start(): Promise<Reader> {
    this._starting++;
    try {
      const reader = await startReader(this.options.memoryMib);
      reader.child.on('exit', () => {
        this._all.delete(reader);
        const at = this._idle.indexOf(reader);
        if (at !== -1) {
          this._idle.splice(at, 1);
        }
      });
      this._all.add(reader);
      return reader;
    } finally {
      this._starting--;
    }
  }

  private _perform(
    reader: Reader,
    task: ReaderTask,
    label: string,
    sizeBytes: number
  ): Promise<ReaderResults[ReaderTask['kind']]> {
    const { child } = reader;
    const id = reader.nextId++;
    // Big packages take time to hash or decompress: they get more, said only when it counts.
    const deadline = readDeadline(
      this.options.timeoutMs,
      sizeBytes,
      this.options.msPerMib
    );
    const names = this.options.limitNames ?? {
      timeout: 'the read timeout',
      memory: 'the read memory cap'
    };
    setRef(child, true);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle: Settle = outcome => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if ('failed' in outcome) {
          reject(outcome.failed);
        } else if (outcome.ok) {
          // A task's reply carries that task's value (the protocol pairs them by id).
          resolve(outcome.value as ReaderResults[ReaderTask['kind']]);
        } else {
          reject(readerError(outcome.error, label));
        }
      };
      const stop = (error: RpzError): void => {
        child.kill('SIGKILL');
        settle({ failed: error });
      };
      const onMessage = (message: ReaderReply | ReaderReady): void => {
        if ('id' in message && message.id === id) {
          settle(message);
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        const heap = /heap out of memory|heap limit/i.test(reader.stderrTail);
        settle({
          failed: heap
            ? new RpzError(
                'read-memory',
                `Reading the package needed more than ${this.options.memoryMib} MiB of memory (${names.memory}); it is refused (${label})`
              )
            : new RpzError(
                'read-failed',
                `The package reader stopped unexpectedly (${signal ?? `exit code ${code}`}) while reading the package; it is refused (${label})`
              )
        });
      };
      const timer = setTimeout(
        () => stop(readTimeoutError(deadline, names.timeout, label)),
        deadline.ms
      );
      const capBytes =
        reader.baselineRss + this.options.memoryMib * 1024 * 1024;
      const poll = setInterval(() => {
        void residentBytes(child.pid!).then(rss => {
          if (rss !== null && reader.baselineRss > 0 && rss > capBytes) {
            stop(
              new RpzError(
                'read-memory',
                `Reading the package needed more than ${this.options.memoryMib} MiB of memory (${names.memory}); it is refused (${label})`
              )
            );
          }
        });
      }, MEMORY_POLL_MS);
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ id, task }, error => {
        if (error) {
          stop(
            new RpzError(
              'read-failed',
              `The package reader could not be reached (${error.message}); try again (${label})`
            )
          );
        }
      });
    });
  }

  private _closed = false;
  private _starting = 0;
  private readonly _all = new Set<Reader>();
  private readonly _idle: Reader[] = [];
  private readonly _waiting: ((reader: Reader | null) => void)[] = [];
}
