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
  /** Records complete in `chunk` (with what came before); their bytes may share its memory. */
  push(chunk: Buffer): FollowRecord[] {
    const records: FollowRecord[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this._pendingBytes === 0) {
        // Whole records straight from the chunk, without copying.
        const size = this._recordSize(chunk, at, chunk.length - at);
        if (size !== undefined && chunk.length - at >= size) {
          records.push(this._record(chunk.subarray(at, at + size)));
          at += size;
          continue;
        }
      }
      // Gather the rest of a record; `need` is known once its header is complete.
      const need =
        this._recordSize(this._pending, 0, this._pendingBytes) ?? HEADER_BYTES;
      const take = Math.min(need - this._pendingBytes, chunk.length - at);
      chunk.copy(this._pending, this._pendingBytes, at, at + take);
      this._pendingBytes += take;
      at += take;
      const size = this._recordSize(this._pending, 0, this._pendingBytes);
      if (size !== undefined && this._pendingBytes === size) {
        // Copied out: the fixed buffer is reused for the next record.
        records.push(
          this._record(Buffer.from(this._pending.subarray(0, size)))
        );
        this._pendingBytes = 0;
      }
    }
    return records;
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
}

/** A sentence from the container, shown to the user: printable ASCII only, and short. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
