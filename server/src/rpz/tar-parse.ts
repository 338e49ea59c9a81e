/**
 * A streaming tar parser over an async source of chunks (e.g. a gunzip stream). It yields one
 * member at a time; a regular file's data is exposed as a Node `Readable` that pulls from the
 * source on demand, so memory stays flat (one chunk in flight) and backpressure reaches the file
 * or the decompressor. Shares header decoding with `tar-walk.ts`.
 *
 * Contract: read (or ignore) a member's body before asking for the next member. Asking for the
 * next member skips whatever is left of the body, and the body stream is then destroyed.
 */
import { Readable } from 'node:stream';
import { RpzError } from './errors';
import { READ_LIMITS, type ReadLimits } from './limits';
import {
  BLOCK,
  HeaderState,
  MAX_LONG_HEADER,
  decodeHeader,
  isMetaHeader,
  paddedSize,
  type TarMember
} from './tar-header';

/**
 * Lengths come from tar headers. The header decoder only lets whole numbers through, but a
 * fraction here would make the loops below ask for half a byte forever: refuse it at the door.
 */
function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RpzError(
      'bad-number',
      `A tar length of ${length} bytes is not a whole number.`
    );
  }
}

/** Pulls exact byte counts out of an async iterator of chunks. */
export class ByteReader {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private ended = false;
  /** Bytes handed out (or skipped) so far. */
  consumed = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.ended) {
        return false;
      }
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.chunk = next.value;
      this.pos = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at the end of the source. Zero-copy when possible. */
  async readSome(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) {
      return null;
    }
    const end = Math.min(this.chunk.length, this.pos + max);
    const out = this.chunk.subarray(this.pos, end);
    this.pos = end;
    this.consumed += out.length;
    return out;
  }

  /** Exactly `length` bytes, or fewer if the source ends first. */
  async readExact(length: number): Promise<Buffer> {
    checkLength(length);
    const first = await this.readSome(length);
    if (first === null || first.length === length) {
      return first ?? Buffer.alloc(0);
    }
    const parts = [first];
    let have = first.length;
    while (have < length) {
      const part = await this.readSome(length - have);
      if (part === null) {
        break;
      }
      parts.push(part);
      have += part.length;
    }
    return Buffer.concat(parts, have);
  }

  /** Skips `length` bytes; returns how many were actually skipped. */
  async skip(length: number): Promise<number> {
    checkLength(length);
    let skipped = 0;
    while (skipped < length) {
      const part = await this.readSome(length - skipped);
      if (part === null) {
        break;
      }
      skipped += part.length;
    }
    return skipped;
  }

  /** Lets the source release its resources (file descriptors, zlib) when reading stops early. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.source.return?.();
    }
  }

  /** Reads and discards everything left (so a decompressor verifies its trailer). */
  async drain(): Promise<void> {
    while ((await this.readSome(Number.MAX_SAFE_INTEGER)) !== null) {
      // discard
    }
  }
}

/** A member from the stream; `body` is set for regular files (and unknown types) with data. */
export interface StreamMember extends TarMember {
  body: Readable | null;
}

/**
 * A readable over the next `size` bytes of the reader. Errors with `truncated` if they are short.
 * Consumers that write files (the sandbox extractor) can pull with `readChunk()` instead, skipping
 * the stream machinery that costs more than the write itself for small files.
 */
export class BodyStream extends Readable {
  remaining: number;
  private pulling: Promise<void> | null = null;

  constructor(
    private readonly reader: ByteReader,
    size: number,
    private readonly memberName: string,
    private readonly mapError: (error: unknown) => Error
  ) {
    super({ highWaterMark: 256 * 1024 });
    checkLength(size);
    this.remaining = size;
  }

  override _read(): void {
    if (this.pulling !== null) {
      return;
    }
    if (this.remaining === 0) {
      this.push(null);
      return;
    }
    this.pulling = this.reader.readSome(this.remaining).then(
      chunk => {
        this.pulling = null;
        if (chunk === null) {
          this.destroy(this.mapError(truncatedBody(this.memberName)));
          return;
        }
        this.remaining -= chunk.length;
        // A view, not a copy: zlib never rewrites output it has handed out.
        const more = this.push(chunk);
        if (this.remaining === 0) {
          this.push(null);
        } else if (more) {
          this._read();
        }
      },
      (error: unknown) => {
        this.pulling = null;
        this.destroy(this.mapError(error));
      }
    );
  }

  /**
   * The next piece of the body (a view of the decompressed chunk, not a copy), or null once all
   * of it was read. Use either this or the stream, not both. Errors are mapped like the stream's.
   */
  async readChunk(): Promise<Buffer | null> {
    if (this.remaining === 0) {
      return null;
    }
    let chunk: Buffer | null;
    try {
      chunk = await this.reader.readSome(this.remaining);
    } catch (error) {
      throw this.mapError(error);
    }
    if (chunk === null) {
      throw this.mapError(truncatedBody(this.memberName));
    }
    this.remaining -= chunk.length;
    return chunk;
  }

  /** Waits for an in-flight pull, so the reader is not used by two parties at once. */
  async settle(): Promise<void> {
    if (this.pulling !== null) {
      await this.pulling;
    }
  }
}

function truncatedBody(name: string): RpzError {
  return new RpzError(
    'truncated',
    `The package is truncated: member ${name} ends before its declared size.`,
    name
  );
}

/**
 * Parses the tar in `source`, yielding members in order. Throws `corrupt-tar` on a bad header and
 * `truncated` when the source ends early. After the end-of-archive marker, the rest of the source
 * is drained (so a gzip trailer is checked) unless `drainAfterEnd` is false. `mapError` turns
 * errors met while a body is being read into what the body stream emits.
 */
export async function* parseTar(
  source: AsyncIterable<Buffer>,
  options: {
    drainAfterEnd?: boolean;
    mapError?: (error: unknown) => Error;
    limits?: ReadLimits;
  } = {}
): AsyncGenerator<StreamMember> {
  const reader = new ByteReader(source[Symbol.asyncIterator]());
  const mapError =
    options.mapError ??
    ((error: unknown) =>
      error instanceof Error ? error : new Error(String(error)));
  try {
    yield* members(
      reader,
      options.drainAfterEnd !== false,
      mapError,
      options.limits ?? READ_LIMITS
    );
  } finally {
    await reader.close();
  }
}

async function* members(
  reader: ByteReader,
  drainAfterEnd: boolean,
  mapError: (error: unknown) => Error,
  limits: ReadLimits
): AsyncGenerator<StreamMember> {
  const state = new HeaderState(limits);
  let memberStart = 0;
  while (true) {
    const headerOffset = reader.consumed;
    const block = await reader.readExact(BLOCK);
    if (block.length === 0 && memberStart === headerOffset) {
      return; // end of source at a member boundary without an end marker: accept, like tarfile
    }
    if (block.length < BLOCK) {
      throw new RpzError(
        'truncated',
        'The package is truncated: it ends in the middle of a tar header.'
      );
    }
    const raw = decodeHeader(block);
    if (raw === null) {
      if (drainAfterEnd) {
        await reader.drain();
      }
      return;
    }
    if (isMetaHeader(raw.typeflag)) {
      if (raw.size > MAX_LONG_HEADER) {
        throw new RpzError(
          'corrupt-tar',
          `A tar long-name or pax header declares ${raw.size} bytes, too many.`
        );
      }
      const data = await reader.readExact(raw.size);
      if (
        data.length < raw.size ||
        (await reader.skip(paddedSize(raw.size) - raw.size)) <
          paddedSize(raw.size) - raw.size
      ) {
        throw new RpzError(
          'truncated',
          'The package is truncated: it ends in the middle of a tar extended header.'
        );
      }
      state.absorb(raw.typeflag, data);
      continue;
    }
    const member = state.resolve(raw, memberStart, reader.consumed);
    const body =
      member.size > 0
        ? new BodyStream(reader, member.size, member.name, mapError)
        : null;
    yield { ...member, body };
    // Skip what the consumer did not read, then the padding.
    let left = paddedSize(member.size) - member.size;
    if (body !== null) {
      await body.settle();
      left += body.remaining;
      if (body.remaining > 0 && !body.destroyed) {
        body.destroy();
      }
      body.remaining = 0;
    }
    if ((await reader.skip(left)) < left) {
      throw truncatedBody(member.name);
    }
    memberStart = reader.consumed;
  }
}
