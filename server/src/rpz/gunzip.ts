/**
 * Gzip decompression with a bomb guard: decompression stops with `size-limit` once the output
 * passes an absolute size, or once it is both past a grace size and more than `maxRatio` times the
 * compressed input consumed so far. Zlib errors become `corrupt-gzip` / `truncated` RpzErrors.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { RpzError, errorMessage } from './errors';

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
  const gunzip = createGunzip({ chunkSize: 128 * 1024 });
  let sourceError: unknown = null;
  source.on('error', error => {
    sourceError = error;
    gunzip.destroy(error);
  });
  source.pipe(gunzip);
  const start = counters.uncompressedBytes;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
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
