import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  mkdir,
  open,
  readdir,
  rename,
  rm,
  stat,
  unlink
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertSha256,
  BlobNotFoundError,
  resolveRange,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type PutOptions
} from './blob-store';
import { HashingLimiter } from './hashing-limiter';

/**
 * Blobs as files: `<root>/ab/cdef…` for the sha256 `abcdef…`, so no folder holds more than a
 * 256th of them. A body is written to `<root>/tmp/` first (same filesystem, so the final rename is
 * atomic), synced, then renamed into place: a reader never sees a partial blob, and a crash leaves
 * at most a stray temporary file.
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly tmpDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, 'tmp');
  }

  async put(body: Readable, options: PutOptions = {}): Promise<BlobInfo> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const temporary = join(
      this.tmpDir,
      `${process.pid}-${randomBytes(8).toString('hex')}`
    );
    const hasher = new HashingLimiter(options.maxBytes);
    try {
      await pipeline(
        body,
        hasher,
        // Read-only once in place: a blob's content is its name.
        createWriteStream(temporary, { flags: 'wx', mode: 0o400 })
      );
      await syncPath(temporary);
      const sha256 = hasher.digest();
      const target = this.pathOf(sha256);
      if (await exists(target)) {
        // Already stored: same name, same bytes.
        await rm(temporary, { force: true });
      } else {
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        // Two puts of the same content may both get here; the later rename atomically replaces
        // the earlier file with identical bytes, and open readers keep theirs.
        await rename(temporary, target);
        await syncPath(dirname(target));
      }
      return { sha256, size: hasher.byteCount };
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(sha256);
    // Opened before returning, so a missing blob is an error the caller sees before any byte.
    const handle = await open(path, 'r').catch((error: unknown) => {
      throw isNotFound(error) ? new BlobNotFoundError(sha256) : error;
    });
    try {
      if (!range) {
        return handle.createReadStream();
      }
      const { size } = await handle.stat();
      return handle.createReadStream(resolveRange(range, size));
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    try {
      const info = await stat(this.pathOf(sha256));
      return { sha256, size: info.size };
    } catch (error) {
      if (isNotFound(error)) {
        return undefined;
      }
      throw error;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async delete(sha256: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(sha256));
      return true;
    } catch (error) {
      if (isNotFound(error)) {
        return false;
      }
      throw error;
    }
  }

  /**
   * Removes temporary files older than `olderThanMs` (left by a crash during a put); younger ones
   * may belong to a put in progress, in this process or another sharing the folder.
   */
  async sweepTemporary(olderThanMs = 24 * 3600_000): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch (error) {
      if (isNotFound(error)) {
        return 0;
      }
      throw error;
    }
    let removed = 0;
    const before = Date.now() - olderThanMs;
    for (const name of names) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < before) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** The file of a blob; the key is checked first, so no key can name a file outside the root. */
  pathOf(sha256: string): string {
    assertSha256(sha256);
    return join(this.root, sha256.slice(0, 2), sha256.slice(2));
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) {
      return false;
    }
    throw error;
  }
}

/** fsync a file or a folder (for a rename to survive a power loss, its folder must be synced). */
async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
