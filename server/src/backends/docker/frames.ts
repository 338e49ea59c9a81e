/**
 * The records `rpz-exec follow` writes on its stdout: one byte for the kind, four for the length
 * (big-endian), then the bytes. Kinds 1 and 2 are the step's stdout and stderr, copied from its
 * log (where `rpz-exec step` wrote them in this same framing, keeping the order in which the two
 * streams were written); the last record says how the step ended.
 *
 * `rpz-exec step` writes the same records on its stdout, after one saying whether it claimed the
 * step (7, started; 8, already started), as long as the server keeps up; when it stops copying
 * them, it says so (9, gap) if it can.
 *
 * Everything here comes from inside the container, where a root step can change the log or the
 * follower itself: every record is checked, none may be longer than the helper ever writes, and
 * at most one incomplete record is held, in a buffer of fixed size.
 */
export type StreamName = 'stdout' | 'stderr';

export type FollowRecord =
  | { kind: 'log'; stream: StreamName; bytes: Buffer }
  /** `rpz-exec step` claimed the step, or found it claimed before (and did nothing). */
  | { kind: 'started' }
  | { kind: 'already-started' }
  /** `rpz-exec step` stopped copying frames: the rest is read from the log. */
  | { kind: 'gap' }
  /** The step ended with this exit code. */
  | { kind: 'end'; exitCode: number }
  /** The step's helper is gone without an exit code (the sentence says why). */
  | { kind: 'lost'; reason: string }
  /** The step was never started. */
  | { kind: 'not-started' }
  /** The step's log is not made of valid frames (a root step changed it). */
  | { kind: 'bad-log'; reason: string };

/**
 * What `rpz-exec step --deliver` sends after its end record: the declared outputs asked for, in
 * the order asked (helpers/deliver.c). `deliveries.ts` checks that they follow each other as
 * they must; here only each record's shape is checked.
 */
export type OutputRecord =
  | {
      kind: 'output-file';
      index: number;
      mode: number;
      uid: number;
      gid: number;
      size: number;
    }
  | { kind: 'output-data'; bytes: Buffer }
  | {
      kind: 'output-skipped';
      index: number;
      reason: 'absent' | 'not-a-file' | 'not-sent';
    }
  /** The file being sent was cut short: what came of it is dropped. */
  | { kind: 'output-cut' }
  | { kind: 'outputs-done' }
  /** What came after the end record was not valid records: the rest is ignored. */
  | { kind: 'outputs-bad'; reason: string };

const OUTPUT_FILE_BYTES = 24;
const OUTPUT_SKIPPED_BYTES = 5;
const SKIP_REASONS = ['absent', 'not-a-file', 'not-sent'] as const;

const HEADER_BYTES = 5;
/** What `rpz-exec` puts in one frame at most (FRAME_DATA there). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** The follower's own records are a number or a sentence. */
const MAX_RECORD_BYTES = 1024;

/** The stream did not hold valid records: it was not written by our helper alone. */
export class FrameError extends Error {}

/**
 * Cuts a byte stream into records, whatever the chunks it arrives in: a record split between
 * chunks is gathered in a fixed buffer (each byte copied at most once) until its last byte.
 */
export class FrameParser {
  /**
   * With `onOutput`, what follows the end record is outputs (`OutputRecord`), handed to it as
   * they are read; a malformed one ends them (`outputs-bad`) without touching the records before.
   */
  constructor(private readonly onOutput?: (record: OutputRecord) => void) {}

  /** Records complete in `chunk` (with what came before); their bytes may share its memory. */
  push(chunk: Buffer): FollowRecord[] {
    const records: FollowRecord[] = [];
    let at = 0;
    while (at < chunk.length && !this._ignoring) {
      if (this._outputs) {
        try {
          at = this._pushOutputs(chunk, at);
        } catch (error) {
          if (!(error instanceof FrameError)) {
            throw error;
          }
          this._ignoring = true;
          this.onOutput!({ kind: 'outputs-bad', reason: error.message });
        }
        continue;
      }
      const record = this._gather(chunk, at);
      at = record.at;
      if (record.data) {
        records.push(this._record(record.data));
      }
    }
    return records;
  }

  /** Reads output records from `at` on (until the chunk ends); where it stopped. */
  private _pushOutputs(chunk: Buffer, at: number): number {
    while (at < chunk.length && !this._finished) {
      const record = this._gather(chunk, at);
      at = record.at;
      if (record.data) {
        this.onOutput!(this._output(record.data));
      }
    }
    if (at < chunk.length) {
      throw new FrameError(
        `The step's helper wrote after its last output, at byte ${this._offset}.`
      );
    }
    return at;
  }

  /**
   * One record from `at`: whole from the chunk without copying, or gathered in the fixed buffer
   * (its size is known once its header is complete) and copied out once complete; `data` then.
   */
  private _gather(chunk: Buffer, at: number): { at: number; data?: Buffer } {
    if (this._pendingBytes === 0) {
      const size = this._recordSize(chunk, at, chunk.length - at);
      if (size !== undefined && chunk.length - at >= size) {
        return { at: at + size, data: chunk.subarray(at, at + size) };
      }
    }
    const need =
      this._recordSize(this._pending, 0, this._pendingBytes) ?? HEADER_BYTES;
    const take = Math.min(need - this._pendingBytes, chunk.length - at);
    chunk.copy(this._pending, this._pendingBytes, at, at + take);
    this._pendingBytes += take;
    const size = this._recordSize(this._pending, 0, this._pendingBytes);
    if (size !== undefined && this._pendingBytes === size) {
      this._pendingBytes = 0;
      return {
        at: at + take,
        data: Buffer.from(this._pending.subarray(0, size))
      };
    }
    return { at: at + take };
  }

  private _output(data: Buffer): OutputRecord {
    this._offset += data.length;
    const bytes = data.subarray(HEADER_BYTES);
    switch (data[0]) {
      case 10: {
        const size = bytes.readUInt32BE(16) * 2 ** 32 + bytes.readUInt32BE(20);
        const mode = bytes.readUInt32BE(4);
        if (mode > 0o7777 || !Number.isSafeInteger(size)) {
          throw new FrameError(
            `The step's helper sent an output of mode ${mode} and size ${size}.`
          );
        }
        return {
          kind: 'output-file',
          index: bytes.readUInt32BE(0),
          mode,
          uid: bytes.readUInt32BE(8),
          gid: bytes.readUInt32BE(12),
          size
        };
      }
      case 11:
        return { kind: 'output-data', bytes };
      case 12: {
        const reason = SKIP_REASONS[bytes[4] - 1];
        if (reason === undefined) {
          throw new FrameError(
            `The step's helper skipped an output for an unknown reason ${bytes[4]}.`
          );
        }
        return {
          kind: 'output-skipped',
          index: bytes.readUInt32BE(0),
          reason
        };
      }
      case 13:
        return { kind: 'output-cut' };
      default:
        this._finished = true;
        return { kind: 'outputs-done' };
    }
  }

  /** Bytes of an incomplete record waiting for the rest. */
  get pendingBytes(): number {
    return this._pendingBytes;
  }

  /** Whether the last record (end, lost, ...) was read: nothing may follow it. */
  get finished(): boolean {
    return this._finished;
  }

  /** The whole size of the record starting at `at`, once its header is there; checks the header. */
  private _recordSize(
    data: Buffer,
    at: number,
    available: number
  ): number | undefined {
    if (available < HEADER_BYTES) {
      return undefined;
    }
    const kind = data[at];
    const length = data.readUInt32BE(at + 1);
    if (this._finished) {
      throw new FrameError(
        `The step's follower wrote after its last record, at byte ${this._offset}.`
      );
    }
    if (this._outputs) {
      return HEADER_BYTES + outputRecordLength(kind, length, this._offset);
    }
    if (kind < 1 || kind > 9) {
      throw new FrameError(
        `The step's log has an unknown record kind ${kind} at byte ${this._offset}.`
      );
    }
    const max = kind <= 2 ? MAX_FRAME_BYTES : MAX_RECORD_BYTES;
    if (length > max || (kind <= 2 && length === 0)) {
      throw new FrameError(
        `The step's log has a record of ${length} bytes at byte ${this._offset}; the helper writes 1 to ${max}.`
      );
    }
    return HEADER_BYTES + length;
  }

  private _record(data: Buffer): FollowRecord {
    this._offset += data.length;
    const bytes = data.subarray(HEADER_BYTES);
    switch (data[0]) {
      case 1:
        return { kind: 'log', stream: 'stdout', bytes };
      case 2:
        return { kind: 'log', stream: 'stderr', bytes };
      case 7:
        return { kind: 'started' };
      case 9:
        return { kind: 'gap' };
    }
    this._finished = true;
    const text = bytes.toString('latin1');
    switch (data[0]) {
      case 3: {
        const match = /^(\d{1,3})\n$/.exec(text);
        if (!match || Number(match[1]) > 255) {
          throw new FrameError(
            `The step's exit file holds ${JSON.stringify(text.slice(0, 20))}, not an exit code.`
          );
        }
        if (this.onOutput) {
          // Outputs may follow: they are what is read from here on.
          this._finished = false;
          this._outputs = true;
        }
        return { kind: 'end', exitCode: Number(match[1]) };
      }
      case 4:
        return { kind: 'lost', reason: printable(text) };
      case 5:
        return { kind: 'not-started' };
      case 8:
        return { kind: 'already-started' };
      default:
        return { kind: 'bad-log', reason: printable(text) };
    }
  }

  private readonly _pending = Buffer.allocUnsafe(
    HEADER_BYTES + MAX_FRAME_BYTES
  );
  private _pendingBytes = 0;
  private _offset = 0;
  private _finished = false;
  /** After the end record, with `onOutput`. */
  private _outputs = false;
  /** After a malformed output record: nothing more is read. */
  private _ignoring = false;
}

/** The length an output record of this kind must have; throws when it does not. */
function outputRecordLength(
  kind: number,
  length: number,
  offset: number
): number {
  const expected =
    kind === 10
      ? length === OUTPUT_FILE_BYTES
      : kind === 11
        ? length >= 1 && length <= MAX_FRAME_BYTES
        : kind === 12
          ? length === OUTPUT_SKIPPED_BYTES
          : (kind === 13 || kind === 14) && length === 0;
  if (!expected) {
    throw new FrameError(
      `The step's helper sent an output record of kind ${kind} and ${length} bytes at byte ${offset}.`
    );
  }
  return length;
}

/** A sentence from the container, shown to the user: printable ASCII only, and short. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
