/**
 * Tar header decoding shared by the positioned walker (`tar-walk.ts`) and the streaming parser
 * (`tar-parse.ts`). Handles the dialects Python's `tarfile` writes: ustar, GNU (`L`/`K` long
 * names, base-256 numbers) and pax (`x` per-file and `g` global headers, `hdrcharset=BINARY`).
 *
 * Names are kept as bytes until the very end and then decoded as strict UTF-8: a name that is not
 * UTF-8 makes the package fail with `non-utf8-name` instead of being silently renamed (which is
 * what a lossy decoder would do, and what a later path lookup would then miss).
 */
import { RpzError } from './errors';

/** Size of a tar block. */
export const BLOCK = 512;

/** Long-name and pax headers above this are refused (they are a few hundred bytes in practice). */
export const MAX_LONG_HEADER = 1024 * 1024;

/** The member kinds this reader distinguishes. */
export type MemberKind =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'chardev'
  | 'blockdev'
  | 'directory'
  | 'fifo'
  | 'unknown';

/** A member header after long names and pax records were applied. */
export interface TarMember {
  name: string;
  /** Link target (hard or symbolic); '' when none. */
  linkname: string;
  kind: MemberKind;
  /** The raw type flag character, for messages. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data following the header (0 for links and directories). */
  size: number;
  /** Seconds since the epoch; fractional when it came from a pax record. */
  mtime: number;
  uname: string;
  gname: string;
  /** Offset of the member's (first) header block in the tar stream. */
  headerOffset: number;
  /** Offset of the member's data in the tar stream. */
  dataOffset: number;
}

/** One decoded 512-byte header block, before long names and pax records are applied. */
export interface RawHeader {
  nameBytes: Buffer;
  linkBytes: Buffer;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function cstring(block: Buffer, start: number, length: number): Buffer {
  const end = block.indexOf(0, start);
  return block.subarray(
    start,
    end === -1 || end > start + length ? start + length : end
  );
}

/** Parses a numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
export function parseNumber(field: Buffer, what: string): number {
  if (field.length > 0 && (field[0] & 0x80) !== 0) {
    if (field[0] === 0xff) {
      throw new RpzError('corrupt-tar', `A tar header has a negative ${what}.`);
    }
    // Positive base-256: the first byte's low 7 bits are the most significant digits.
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i];
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new RpzError(
          'corrupt-tar',
          `A tar header has a ${what} too large to represent.`
        );
      }
    }
    return value;
  }
  // Octal text, padded with spaces or NULs on either side. Parsed byte by byte: this runs for
  // eight fields of every header, and strings plus regular expressions cost more than the parse.
  let start = 0;
  let end = field.length;
  while (end > start && (field[end - 1] === 0 || field[end - 1] === 0x20)) {
    end--;
  }
  while (start < end && (field[start] === 0x20 || field[start] === 0)) {
    start++;
  }
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = field[i] - 0x30;
    if (digit < 0 || digit > 7) {
      throw new RpzError(
        'corrupt-tar',
        `A tar header has a ${what} that is not a number ("${field.toString('latin1', start, end)}").`
      );
    }
    value = value * 8 + digit;
  }
  return value;
}

/** True when the block is all zeros (an end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) {
    if (block[i] !== 0) {
      return false;
    }
  }
  return true;
}

/** True when the 512 bytes have a valid tar checksum (unsigned or, for old writers, signed). */
export function checksumOk(block: Buffer): boolean {
  if (block.length < BLOCK) {
    return false;
  }
  let stored: number;
  try {
    stored = parseNumber(block.subarray(148, 156), 'checksum');
  } catch {
    return false;
  }
  // One pass: the sum of the bytes, and how many are above 127 (each counts 256 less when signed).
  let unsigned = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = block[i];
    unsigned += byte;
    high += byte >>> 7;
  }
  // The checksum field itself counts as eight spaces.
  for (let i = 148; i < 156; i++) {
    const byte = block[i];
    unsigned += 0x20 - byte;
    high -= byte >>> 7;
  }
  return stored === unsigned || stored === unsigned - 256 * high;
}

/** Decodes one header block. Returns null for an all-zero block. Throws `corrupt-tar`. */
export function decodeHeader(block: Buffer): RawHeader | null {
  if (isZeroBlock(block)) {
    return null;
  }
  if (!checksumOk(block)) {
    throw new RpzError(
      'corrupt-tar',
      'A tar header has a bad checksum (the archive is corrupt).'
    );
  }
  const magic = block.toString('latin1', 257, 263);
  let nameBytes = cstring(block, 0, 100);
  // Only POSIX ustar has the 155-byte prefix; GNU uses those bytes for other fields.
  if (magic === 'ustar\0' && block[345] !== 0) {
    nameBytes = Buffer.concat([
      cstring(block, 345, 155),
      Buffer.from('/'),
      nameBytes
    ]);
  }
  const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
  return {
    nameBytes,
    linkBytes: cstring(block, 157, 100),
    typeflag,
    mode: parseNumber(block.subarray(100, 108), 'mode'),
    uid: parseNumber(block.subarray(108, 116), 'uid'),
    gid: parseNumber(block.subarray(116, 124), 'gid'),
    size: parseNumber(block.subarray(124, 136), 'size'),
    mtime: parseNumber(block.subarray(136, 148), 'mtime'),
    uname: cstring(block, 265, 32).toString('utf8'),
    gname: cstring(block, 297, 32).toString('utf8')
  };
}

/** Pax records, values kept as bytes (their charset depends on `hdrcharset`). */
export type PaxRecords = Map<string, Buffer>;

const NO_RECORDS: PaxRecords = new Map();

/** Parses pax extended header data (`<len> <key>=<value>\n` records). Throws `corrupt-tar`. */
export function parsePax(data: Buffer): PaxRecords {
  const records: PaxRecords = new Map();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) {
      break; // padding
    }
    const space = data.indexOf(0x20, pos);
    const length =
      space === -1 ? NaN : Number(data.toString('latin1', pos, space));
    if (
      !Number.isInteger(length) ||
      length <= 0 ||
      pos + length > data.length
    ) {
      throw new RpzError('corrupt-tar', 'A pax extended header is malformed.');
    }
    const record = data.subarray(space + 1, pos + length - 1); // drop the trailing '\n'
    const eq = record.indexOf(0x3d);
    if (eq === -1) {
      throw new RpzError(
        'corrupt-tar',
        'A pax extended header has a record without "=".'
      );
    }
    records.set(
      record.toString('utf8', 0, eq),
      Buffer.from(record.subarray(eq + 1))
    );
    pos += length;
  }
  return records;
}

/** Decodes name bytes as strict UTF-8; throws `non-utf8-name` naming the bytes as escapes. */
export function decodeName(bytes: Buffer, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    const shown = Array.from(bytes, b =>
      b >= 0x20 && b < 0x7f
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`
    ).join('');
    throw new RpzError(
      'non-utf8-name',
      `A ${what} in the package is not valid UTF-8 ("${shown}"); such names are not supported.`,
      shown
    );
  }
}

function kindOf(typeflag: string): MemberKind {
  switch (typeflag) {
    case '0':
    case '7': // contiguous file: a regular file everywhere that matters
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'chardev';
    case '4':
      return 'blockdev';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'unknown';
  }
}

/** True for header types that describe the next member rather than being one. */
export function isMetaHeader(typeflag: string): boolean {
  return (
    typeflag === 'L' || typeflag === 'K' || typeflag === 'x' || typeflag === 'g'
  );
}

function paxNumber(records: PaxRecords, key: string, fallback: number): number {
  const raw = records.get(key);
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw.toString('latin1'));
  if (!Number.isFinite(value) || value < 0) {
    throw new RpzError(
      'corrupt-tar',
      `A pax header has an invalid ${key} ("${raw.toString('latin1')}").`
    );
  }
  return value;
}

/**
 * Accumulates GNU long names and pax records across header blocks and applies them to the next
 * real member. One instance per tar stream (global pax records last for the whole stream).
 */
export class HeaderState {
  private longName: Buffer | null = null;
  private longLink: Buffer | null = null;
  private pax: PaxRecords | null = null;
  private globalPax: PaxRecords = new Map();

  /** Feeds the data of a meta header (`L`, `K`, `x`, `g`). */
  absorb(typeflag: string, data: Buffer): void {
    switch (typeflag) {
      case 'L':
        this.longName = stripNuls(data);
        break;
      case 'K':
        this.longLink = stripNuls(data);
        break;
      case 'x':
        this.pax = parsePax(data);
        break;
      case 'g':
        for (const [key, value] of parsePax(data)) {
          this.globalPax.set(key, value);
        }
        break;
    }
  }

  /** Builds the member from a real header, consuming the pending long names and pax records. */
  resolve(raw: RawHeader, headerOffset: number, dataOffset: number): TarMember {
    // Most members have per-file records (Python's tarfile writes an mtime for each) and no
    // global ones: use them as they are rather than merging into a new map.
    const pax =
      this.globalPax.size === 0
        ? (this.pax ?? NO_RECORDS)
        : new Map([...this.globalPax, ...(this.pax ?? [])]);
    const nameBytes = pax.get('path') ?? this.longName ?? raw.nameBytes;
    const linkBytes = pax.get('linkpath') ?? this.longLink ?? raw.linkBytes;
    this.longName = null;
    this.longLink = null;
    this.pax = null;
    let kind = kindOf(raw.typeflag);
    let name = decodeName(nameBytes, 'member name');
    // Very old tars mark directories with a trailing slash on a regular-file entry.
    if (kind === 'file' && name.endsWith('/')) {
      kind = 'directory';
    }
    if (name.endsWith('/')) {
      name = name.replace(/\/+$/, '');
    }
    const linkname =
      linkBytes.length === 0 ? '' : decodeName(linkBytes, 'link target');
    const size = paxNumber(pax, 'size', raw.size);
    return {
      name,
      linkname,
      kind,
      typeflag: raw.typeflag,
      mode: raw.mode & 0o7777,
      uid: paxNumber(pax, 'uid', raw.uid),
      gid: paxNumber(pax, 'gid', raw.gid),
      // Like Python's tarfile (the writer's own reader), only regular files and unknown types are
      // followed by data; any size on a link, directory or device header is ignored.
      size: kind === 'file' || kind === 'unknown' ? size : 0,
      mtime: paxNumber(pax, 'mtime', raw.mtime),
      uname: pax.get('uname')?.toString('utf8') ?? raw.uname,
      gname: pax.get('gname')?.toString('utf8') ?? raw.gname,
      headerOffset,
      dataOffset
    };
  }
}

function stripNuls(data: Buffer): Buffer {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) {
    end--;
  }
  return Buffer.from(data.subarray(0, end));
}

/** Bytes of data plus padding to the next block boundary. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}
