/**
 * The declared outputs a run's last step sends after its end (`rpz-exec step --deliver`,
 * helpers/deliver.c), so that collecting them needs no call to the engine's archive API: Docker
 * serves each such call by starting a copy of its own 80 MB binary, the largest part of the
 * engine's work for a small run.
 *
 * Each delivered file is written to a private spool folder as it comes (the exec's stream is read
 * only as fast as the disk takes it), and handed to the output collector when the steps are
 * done, exactly as a file from the archive would be. Whatever did not come whole (the helper
 * skipped it, cut it short, the stream ended, or what came was not valid) is left to the archive
 * API: delivery only ever saves work, it never decides what a run's outputs are.
 *
 * Everything here comes from inside the container, where a root step can write to the helper's
 * stdout: the order of the records, their indexes and sizes are all checked, and at most
 * `SPOOL_BYTES` are written to the spool.
 */
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHeader } from './archive';
import type { OutputRecord } from './frames';

/** Declared outputs a run asks for at most (DELIVER_MAX_COUNT in deliver.h). */
export const MAX_DELIVERED_OUTPUTS = 256;
/** Larger files are left to the archive API: the spool is for the many small outputs. */
export const MAX_DELIVERED_FILE_BYTES = 16 * 1024 * 1024;
/** What one run's spool may hold; what comes beyond is dropped, left to the archive API. */
const SPOOL_BYTES = 64 * 1024 * 1024;
/** The argv the paths take at most (Linux allows 128 KiB per argument, 2 MiB in all). */
const MAX_PATH_BYTES = 64 * 1024;
/** How long the helper may be silent before its deliveries are given up. */
const SILENCE_MS = 30_000;

/** One declared output, as the helper delivered it. */
export type Delivered =
  | { state: 'file'; header: FileHeader; spool: string }
  | { state: 'absent' }
  | { state: 'not-a-file' };

/** Whether these paths can be asked of the helper at all (count, and the argv they take). */
export function canDeliver(paths: readonly string[]): boolean {
  return (
    paths.length > 0 &&
    paths.length <= MAX_DELIVERED_OUTPUTS &&
    paths.reduce((n, path) => n + Buffer.byteLength(path) + 1, 0) <=
      MAX_PATH_BYTES
  );
}

export class OutputDeliveries {
  /** `paths`: the declared outputs' paths, in the order they are asked for. */
  constructor(
    readonly paths: readonly string[],
    private readonly maxFileBytes = MAX_DELIVERED_FILE_BYTES,
    private readonly spoolBytes = SPOOL_BYTES
  ) {
    this._done = new Promise(resolve => (this._resolveDone = resolve));
  }

  /** The helper's arguments that ask for them. */
  helperArgs(): string[] {
    return [
      '--deliver',
      String(this.maxFileBytes),
      String(this.paths.length),
      ...this.paths
    ];
  }

  /**
   * Takes the next record. Returns a promise when the spool should be let catch up before more
   * is read (the caller awaits it), undefined otherwise.
   */
  take(record: OutputRecord): Promise<void> | undefined {
    if (this._over) {
      return undefined;
    }
    this._armSilence();
    try {
      return this._take(record);
    } catch (error) {
      this._giveUp(error);
      return undefined;
    }
  }

  /** The exec that carries them has ended (or failed): what did not come is not coming. */
  streamEnded(): void {
    this._giveUp(undefined);
  }

  /**
   * What came whole, by index of `paths`, once the deliveries are over (done, given up, or the
   * helper silent for too long). Never rejects.
   */
  async results(): Promise<ReadonlyMap<number, Delivered>> {
    this._armSilence();
    await this._done;
    return this._results;
  }

  /** Removes the spool (when the run's container is gone: nothing more is written to it). */
  async discard(): Promise<void> {
    this._giveUp(undefined);
    await this._done;
    if (this._spoolDir) {
      await rm(this._spoolDir, { recursive: true, force: true });
    }
  }

  /** Why the deliveries stopped short, if they did (for tests and logs). */
  get stoppedBecause(): string | undefined {
    return this._stoppedBecause;
  }

  private _take(record: OutputRecord): Promise<void> | undefined {
    const file = this._file;
    switch (record.kind) {
      case 'output-data': {
        if (!file) {
          throw new Error('output data outside a file');
        }
        file.received += record.bytes.length;
        if (file.received > file.header.size) {
          throw new Error(
            `output ${file.index} is longer than the ${file.header.size} bytes announced`
          );
        }
        const room = file.stream?.write(record.bytes) ?? true;
        if (file.received === file.header.size) {
          return this._close(file);
        }
        // A failed write is the stream's 'error' (`_open`): here, only wait for room.
        return room
          ? undefined
          : once(file.stream!, 'drain').then(
              () => {},
              () => {}
            );
      }
      case 'output-cut':
        if (!file) {
          throw new Error('an output cut outside a file');
        }
        this._file = undefined;
        this._drop(file);
        return undefined;
      case 'output-file': {
        this._expectIndex(record.index);
        if (record.size > this.maxFileBytes) {
          throw new Error(
            `output ${record.index} has ${record.size} bytes, more than the ${this.maxFileBytes} asked`
          );
        }
        const { index, size, mode, uid, gid } = record;
        const fits = this._spooled + size <= this.spoolBytes;
        this._spooled += fits ? size : 0;
        const opened: OpenFile = {
          index,
          header: { size, mode, uid, gid },
          received: 0,
          spool: undefined,
          stream: undefined
        };
        this._file = opened;
        if (fits) {
          this._open(opened);
        } // else its data is read and dropped: the archive API has it
        return size === 0 ? this._close(opened) : undefined;
      }
      case 'output-skipped':
        this._expectIndex(record.index);
        if (record.reason !== 'not-sent') {
          this._results.set(record.index, { state: record.reason });
        }
        return undefined;
      case 'outputs-done':
        if (file) {
          throw new Error(`the outputs ended inside output ${file.index}`);
        }
        this._finish(undefined);
        return undefined;
      case 'outputs-bad':
        throw new Error(record.reason);
    }
  }

  /** Indexes come in increasing order, each within `paths`, and not inside another file. */
  private _expectIndex(index: number): void {
    if (this._file) {
      throw new Error(`output ${this._file.index} was not sent whole`);
    }
    if (index <= this._lastIndex || index >= this.paths.length) {
      throw new Error(`output index ${index} out of order`);
    }
    this._lastIndex = index;
  }

  /** Starts the file's spool copy (the folder is made with the first: one mkdir, at once). */
  private _open(file: OpenFile): void {
    this._spoolDir ??= mkdtempSync(join(tmpdir(), 'reproserver-outputs-'));
    file.spool = join(this._spoolDir, String(file.index));
    const stream = createWriteStream(file.spool, { flags: 'wx', mode: 0o600 });
    stream.on('error', error => {
      file.failed = true;
      this._giveUp(error);
    });
    file.stream = stream;
  }

  /** The file came whole: once it is on disk, it is a result (even if the rest goes wrong). */
  private _close(file: OpenFile): Promise<void> {
    this._file = undefined;
    const stream = file.stream;
    if (!stream) {
      return Promise.resolve();
    }
    stream.end();
    const closed = once(stream, 'close').then(
      () => {
        if (!file.failed) {
          this._results.set(file.index, {
            state: 'file',
            header: file.header,
            spool: file.spool!
          });
        }
      },
      () => {}
    );
    this._closing.add(closed);
    void closed.then(() => this._closing.delete(closed));
    return closed;
  }

  private _drop(file: OpenFile): void {
    file.failed = true;
    file.stream?.destroy();
  }

  private _giveUp(error: unknown): void {
    if (this._over) {
      return;
    }
    if (this._file) {
      this._drop(this._file);
      this._file = undefined;
    }
    this._finish(
      error === undefined
        ? this._stoppedBecause
        : error instanceof Error
          ? error.message
          : String(error)
    );
  }

  private _finish(why: string | undefined): void {
    this._over = true;
    this._stoppedBecause = why;
    clearTimeout(this._silence);
    // Files that came whole and are still being written count, once written.
    void Promise.all([...this._closing]).then(() => this._resolveDone());
  }

  /** Gives up after SILENCE_MS without a record, once results are awaited or records come. */
  private _armSilence(): void {
    if (this._over) {
      return;
    }
    clearTimeout(this._silence);
    this._silence = setTimeout(
      () =>
        this._giveUp(
          new Error(`the helper said nothing for ${SILENCE_MS / 1000} s`)
        ),
      SILENCE_MS
    );
    this._silence.unref();
  }

  private readonly _results = new Map<number, Delivered>();
  private readonly _closing = new Set<Promise<void>>();
  private _file: OpenFile | undefined;
  private _lastIndex = -1;
  private _spooled = 0;
  private _spoolDir: string | undefined;
  private _over = false;
  private _stoppedBecause: string | undefined;
  private _silence: NodeJS.Timeout | undefined;
  private readonly _done: Promise<void>;
  private _resolveDone!: () => void;
}

interface OpenFile {
  index: number;
  header: FileHeader;
  received: number;
  /** Unset when it does not fit in the spool: its data is dropped. */
  spool: string | undefined;
  stream: WriteStream | undefined;
  /** Its spool copy failed or was dropped: not a result. */
  failed?: boolean;
}
