/**
 * The framing `rpz-exec step` writes a step's output in: one byte for the stream (1 stdout,
 * 2 stderr), four for the length (big-endian), then the bytes. One file keeps the order in which
 * the two streams were written, as Docker's own multiplexing does.
 */
export type StreamName = 'stdout' | 'stderr';

export interface Frame {
  stream: StreamName;
  bytes: Buffer;
}

const HEADER_BYTES = 5;

/** The file is not made of frames: it was not written by our helper alone. */
export class FrameError extends Error {}

/**
 * Cuts a byte stream into frames, whatever the chunks it arrives in: a frame split between two
 * chunks is kept until its last byte arrives. Holds at most one incomplete frame.
 */
export class FrameParser {
  /** Frames complete in `chunk` (with what came before); their bytes may share its memory. */
  push(chunk: Buffer): Frame[] {
    let data =
      this._pending.length > 0 ? Buffer.concat([this._pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (data.length >= HEADER_BYTES) {
      const kind = data[0];
      if (kind !== 1 && kind !== 2) {
        throw new FrameError(
          `A step's log has an unknown stream ${kind} at byte ${this._offset}.`
        );
      }
      const size = data.readUInt32BE(1);
      if (data.length < HEADER_BYTES + size) {
        break;
      }
      frames.push({
        stream: kind === 1 ? 'stdout' : 'stderr',
        bytes: data.subarray(HEADER_BYTES, HEADER_BYTES + size)
      });
      this._offset += HEADER_BYTES + size;
      data = data.subarray(HEADER_BYTES + size);
    }
    // Copied: the caller may reuse the chunk's buffer.
    this._pending = Buffer.from(data);
    return frames;
  }

  /** Bytes of an incomplete frame waiting for the rest. */
  get pendingBytes(): number {
    return this._pending.length;
  }

  private _pending: Buffer = Buffer.alloc(0);
  private _offset = 0;
}
