/**
 * Follows a file another machine appends to (a step's stdout or stderr in the shared folder):
 * each `poll` reads what was added since, in bounded chunks, and never more than `maxBytes` in
 * all; the file is opened without following a link, and only when it is a regular file.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

const CHUNK_BYTES = 64 * 1024;

export class FileFollower {
  constructor(
    private readonly path: string,
    private readonly to: Writable,
    /** Bytes read at most (the log's room, plus one to see it overflow). */
    private readonly maxBytes: number
  ) {}

  /** Passes on what the file gained since the last poll; false while the file is missing. */
  async poll(): Promise<boolean> {
    const handle = await openRegular(this.path);
    if (!handle) {
      return false;
    }
    try {
      const buffer = Buffer.alloc(CHUNK_BYTES);
      while (this.offset < this.maxBytes) {
        const want = Math.min(CHUNK_BYTES, this.maxBytes - this.offset);
        const { bytesRead } = await handle.read(buffer, 0, want, this.offset);
        if (bytesRead === 0) {
          break;
        }
        this.offset += bytesRead;
        this.to.write(Buffer.from(buffer.subarray(0, bytesRead)));
      }
    } finally {
      await handle.close();
    }
    return true;
  }

  private offset = 0;
}

/** Opens a regular file for reading, never through a link; undefined when it is not one. */
export async function openRegular(
  path: string
): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
    );
  } catch {
    return undefined;
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    return undefined;
  }
  return handle;
}

/** The last `bytes` of a regular file (UTF-8), or "" when there is none. */
export async function readTail(path: string, bytes: number): Promise<string> {
  const handle = await openRegular(path);
  if (!handle) {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(Math.min(bytes, size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A small file's first line as a whole number in [min, max]; undefined otherwise. */
export async function readNumber(
  path: string,
  max: number
): Promise<number | undefined> {
  const handle = await openRegular(path);
  if (!handle) {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(32);
    const { bytesRead } = await handle.read(buffer, 0, 32, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8').trim();
    const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(value) && value <= max ? value : undefined;
  } finally {
    await handle.close();
  }
}

/** The first `bytes` of a regular file (empty when there is none). */
export async function readHead(path: string, bytes: number): Promise<Buffer> {
  const handle = await openRegular(path);
  if (!handle) {
    return Buffer.alloc(0);
  }
  try {
    const buffer = Buffer.alloc(Math.min(bytes, (await handle.stat()).size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
