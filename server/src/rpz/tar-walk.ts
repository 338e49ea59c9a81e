/**
 * Walks the headers of an uncompressed tar file with positioned reads, skipping member data
 * without reading it. This is what makes inspecting a multi-GB version 2 package cost
 * milliseconds: the outer tar has four members, and `DATA.tar.gz` is jumped over.
 */
import type { PositionalFile } from './positional-file';
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

async function readAt(
  file: PositionalFile,
  position: number,
  length: number
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(
      buffer,
      done,
      length - done,
      position + done
    );
    if (bytesRead === 0) {
      break;
    }
    done += bytesRead;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

/**
 * Yields every member of the plain tar in `file` (of `fileSize` bytes), in order. Data is not
 * read; use `member.dataOffset` and `member.size` for positioned reads. Throws `truncated` when a
 * header or a member's data extends past the end of the file, `corrupt-tar` on a bad header.
 */
export async function* walkTar(
  file: PositionalFile,
  fileSize: number,
  limits: ReadLimits = READ_LIMITS
): AsyncGenerator<TarMember> {
  const state = new HeaderState(limits);
  let offset = 0;
  let memberStart = 0;
  while (true) {
    if (offset + BLOCK > fileSize) {
      // Tolerate a missing end-of-archive marker exactly at a block boundary (some writers stop
      // there), but not a partial header.
      if (offset === fileSize && memberStart === offset) {
        return;
      }
      throw new RpzError(
        'truncated',
        'The package is truncated: it ends in the middle of a tar header.'
      );
    }
    const block = await readAt(file, offset, BLOCK);
    const raw = decodeHeader(block);
    if (raw === null) {
      return; // end-of-archive marker
    }
    const dataOffset = offset + BLOCK;
    if (isMetaHeader(raw.typeflag)) {
      if (raw.size > MAX_LONG_HEADER) {
        throw new RpzError(
          'corrupt-tar',
          `A tar long-name or pax header declares ${raw.size} bytes, too many.`
        );
      }
      if (dataOffset + raw.size > fileSize) {
        throw new RpzError(
          'truncated',
          'The package is truncated: it ends in the middle of a tar extended header.'
        );
      }
      state.absorb(raw.typeflag, await readAt(file, dataOffset, raw.size));
      offset = dataOffset + paddedSize(raw.size);
      continue;
    }
    const member = state.resolve(raw, memberStart, dataOffset);
    if (dataOffset + member.size > fileSize) {
      throw new RpzError(
        'truncated',
        `The package is truncated: member ${member.name} declares ${member.size} bytes but the file ends before.`,
        member.name
      );
    }
    yield member;
    offset = dataOffset + paddedSize(member.size);
    memberStart = offset;
  }
}

export { readAt };
