/**
 * Gzip decompression with a bomb guard: decompression stops with `size-limit` once the output
 * passes an absolute size, or once it is both past a grace size and more than `maxRatio` times the
 * compressed input consumed so far. Zlib errors become `corrupt-gzip` / `truncated` RpzErrors.
 */
import type { Readable } from 'node:stream';
import type * as Zlib from 'node:zlib';
import { errorMessage } from '../describe';
import { RpzError } from './errors';

/** Limits on decompression, to stop gzip bombs. All sizes in bytes. */
export interface InflateLimits {
  /** Stop once this many bytes were produced. Default 256 GiB. */
  maxBytes?: number;
  /** Stop once output / input exceeds this (after `ratioGraceBytes` of output). Default 500. */
  maxRatio?: number;
  /** Output size before the ratio is checked (small files compress very well). Default 64 MiB. */
  ratioGraceBytes?: number;
}

export const DEFAULT_LIMITS: Required<InflateLimits> = {
  maxBytes: 256 * 1024 ** 3,
  maxRatio: 500,
  ratioGraceBytes: 64 * 1024 ** 2
};

/** Progress counters updated while decompressing. */
export interface InflateCounters {
  compressedBytes: number;
  uncompressedBytes: number;
}

/** Output bytes per zlib job: bigger jobs mean fewer round trips through the event loop. */
const CHUNK_SIZE = 1024 * 1024;
/**
 * Decompressed bytes zlib may produce ahead of the consumer. Zlib runs in the libuv threadpool,
 * so a consumer busy with synchronous work (the extractor's file writes) keeps it decompressing
 * the next chunks instead of leaving it idle until the next `read()`; this bounds the memory.
 */
export const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * The decompressor's output as a queue the consumer pulls from, filled as zlib produces it and
 * paused once `READ_AHEAD_BYTES` wait. (A stream's own async iterator would hand out everything
 * buffered concatenated into one copy; this hands out zlib's chunks as they are.)
 */
class ReadAhead {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued >= READ_AHEAD_BYTES) {
        stream.pause();
      }
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.on('error', (error: unknown) => {
      this.failure ??= { error };
      this.notify();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The next chunk, or null at the end. Chunks produced before an error come first. */
  async next(): Promise<Buffer | null> {
    while (this.queue.length === 0) {
      if (this.failure !== null) {
        throw this.failure.error;
      }
      if (this.ended) {
        return null;
      }
      await new Promise<void>(resolve => (this.wake = resolve));
    }
    const chunk = this.queue.shift()!;
    this.queued -= chunk.length;
    if (this.queued < READ_AHEAD_BYTES && this.stream.isPaused()) {
      this.stream.resume();
    }
    return chunk;
  }
}

/**
 * Decompresses `source` (gzip), yielding output chunks. `what` names the compressed thing in
 * messages (e.g. "DATA.tar.gz", "the package"). The source is destroyed when iteration stops early.
 */
export async function* gunzipGuarded(
  source: Readable,
  what: string,
  limits: InflateLimits = {},
  counters: InflateCounters = { compressedBytes: 0, uncompressedBytes: 0 }
): AsyncGenerator<Buffer> {
  const { maxBytes, maxRatio, ratioGraceBytes } = {
    ...DEFAULT_LIMITS,
    ...limits
  };
  const What = what.charAt(0).toUpperCase() + what.slice(1);
  // Loaded here, not with the module: a plain package is read without zlib, and loading it was
  // about 2 ms of a small package's first `reproserver inspect` (bench/cli/startup.mjs).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createGunzip } = require('node:zlib') as typeof Zlib;
  const gunzip = createGunzip({ chunkSize: CHUNK_SIZE });
  let sourceError: unknown = null;
  source.on('error', error => {
    sourceError = error;
    gunzip.destroy(error);
  });
  source.pipe(gunzip);
  const output = new ReadAhead(gunzip);
  const start = counters.uncompressedBytes;
  try {
    for (let chunk = await output.next(); chunk; chunk = await output.next()) {
      counters.uncompressedBytes += chunk.length;
      counters.compressedBytes = gunzip.bytesWritten;
      const produced = counters.uncompressedBytes - start;
      if (produced > maxBytes) {
        throw new RpzError(
          'size-limit',
          `${What} expands to more than ${maxBytes} bytes, the configured limit (maxBytes); refusing to continue.`,
          what
        );
      }
      if (
        produced > ratioGraceBytes &&
        produced > maxRatio * Math.max(1, gunzip.bytesWritten)
      ) {
        throw new RpzError(
          'size-limit',
          `${What} expands more than ${maxRatio} times (a gzip bomb?), the configured limit (maxRatio); refusing to continue.`,
          what
        );
      }
      yield chunk;
    }
  } catch (error) {
    if (error instanceof RpzError) {
      throw error;
    }
    if (sourceError !== null) {
      throw sourceError;
    }
    const message = errorMessage(error);
    if (/unexpected end of file/i.test(message)) {
      throw new RpzError(
        'truncated',
        `The package is truncated: ${what} stops in the middle of its gzip stream.`,
        what
      );
    }
    throw new RpzError(
      'corrupt-gzip',
      `${What} is not valid gzip data (${message}).`,
      what
    );
  } finally {
    source.unpipe(gunzip);
    source.destroy();
    gunzip.destroy();
  }
}
