import type { Readable } from 'node:stream';

/** What the store knows of one blob: its name (the sha256 of its content) and its size. */
export interface BlobInfo {
  sha256: string;
  size: number;
}

/** A byte range, both ends inclusive as in HTTP's `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  /** Last byte to read; the blob's last byte when absent. */
  end?: number;
}

export interface PutOptions {
  /**
   * Largest accepted body, bytes. Past it the upload stops (the body is destroyed) and put rejects
   * with BlobTooLargeError, leaving nothing stored.
   */
  maxBytes?: number;
}

/**
 * Content-addressed storage: packages, inputs and outputs are stored once, named by the sha256 of
 * their bytes, and streamed in and out without being held in memory.
 */
export interface BlobStore {
  /**
   * Stores a body; resolves once it is fully and durably stored under its sha256. Storing content
   * that is already there keeps the one copy.
   */
  put(body: Readable, options?: PutOptions): Promise<BlobInfo>;
  /** Streams a blob, or part of it; rejects with BlobNotFoundError when it is not stored. */
  get(sha256: string, range?: ByteRange): Promise<Readable>;
  /** The blob's size, or undefined when it is not stored. */
  stat(sha256: string): Promise<BlobInfo | undefined>;
  has(sha256: string): Promise<boolean>;
  /** Removes a blob; resolves false when there was none. */
  delete(sha256: string): Promise<boolean>;
}

/** The body was larger than `PutOptions.maxBytes`. */
export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(
      `The file is larger than the limit of ${maxBytes} bytes; nothing was stored.`
    );
    this.name = 'BlobTooLargeError';
  }
}

export class BlobNotFoundError extends Error {
  constructor(readonly sha256: string) {
    super(`No stored file has the sha256 ${sha256}.`);
    this.name = 'BlobNotFoundError';
  }
}

/** A range that does not fit the blob (HTTP 416). */
export class BlobRangeError extends Error {
  constructor(
    readonly range: ByteRange,
    readonly size: number
  ) {
    super(
      `The range ${range.start}-${range.end ?? ''} is outside the file (${size} bytes).`
    );
    this.name = 'BlobRangeError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** True for a well-formed blob key: 64 lowercase hex digits. */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256.test(value);
}

/**
 * Checks a key before it becomes part of a path or an object key: anything but 64 lowercase hex
 * digits could name a file outside the store (`../…`) or an object of someone else.
 */
export function assertSha256(value: unknown): string {
  if (!isSha256(value)) {
    throw new TypeError(
      `Invalid blob key ${JSON.stringify(value)}: expected a sha256 as 64 lowercase hex digits.`
    );
  }
  return value;
}

/**
 * Checks a range against the blob's size and fills in its end; throws BlobRangeError when it does
 * not fit. An empty blob has no valid range.
 */
export function resolveRange(
  range: ByteRange,
  size: number
): { start: number; end: number } {
  const end = range.end ?? size - 1;
  if (
    !Number.isSafeInteger(range.start) ||
    !Number.isSafeInteger(end) ||
    range.start < 0 ||
    end < range.start ||
    end >= size
  ) {
    throw new BlobRangeError(range, size);
  }
  return { start: range.start, end };
}
