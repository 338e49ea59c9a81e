/** Reading at most so many bytes of a stream: comparisons never hold more than their bounds. */
import type { Readable } from 'node:stream';

/**
 * The stream's bytes, or null as soon as it has more than `maxBytes` (the stream is destroyed
 * then, so nothing more is read).
 */
export async function readAtMost(
  stream: Readable,
  maxBytes: number
): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += buffer.length;
      if (size > maxBytes) {
        return null;
      }
      chunks.push(buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, size);
}

/** The first `maxBytes` of a stream (fewer when it is shorter). */
export async function readHead(
  stream: Readable,
  maxBytes: number
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      chunks.push(buffer);
      size += buffer.length;
      if (size >= maxBytes) {
        break;
      }
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, size).subarray(0, maxBytes);
}
