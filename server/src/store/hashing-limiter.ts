import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BlobTooLargeError } from './blob-store';

/**
 * Hashes and counts what flows through, and fails the stream as soon as it carries more than
 * `maxBytes`, before the excess reaches the destination: a blob store's put learns the name of a
 * body only at its end, so hashing must ride along with the copy.
 */
export class HashingLimiter extends Transform {
  /** Bytes seen so far. (Not `size`: lib-storage would take that for the body's length.) */
  byteCount = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly maxBytes = Infinity) {
    super();
  }

  _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: TransformCallback
  ): void {
    this.byteCount += chunk.length;
    if (this.byteCount > this.maxBytes) {
      callback(new BlobTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** The hex sha256 of everything that went through; call once, after the end. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
