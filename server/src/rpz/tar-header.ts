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
import { READ_LIMITS, overLimit, type ReadLimits } from './limits';

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

/** Digits a pax record length may have: a header is at most `MAX_LONG_HEADER` (7 digits). */
const MAX_LENGTH_DIGITS = 12;

function malformedPax(): RpzError {
  return new RpzError('corrupt-tar', 'A pax extended header is malformed.');
}

/**
 * Parses pax extended header data (`<len> <key>=<value>\n` records), at most `maxRecords` of
 * them. The length is plain decimal digits (no sign, exponent or spaces). Throws `corrupt-tar`,
 * or `limit-exceeded` past `maxRecords`.
 */
export function parsePax(
  data: Buffer,
  maxRecords: number = READ_LIMITS.maxPaxRecords
): PaxRecords {
  const records: PaxRecords = new Map();
  let pos = 0;
  let count = 0;
  while (pos < data.length) {
    if (data[pos] === 0) {
      break; // padding
    }
    let length = 0;
    let space = pos;
    while (
      space < data.length &&
      space - pos < MAX_LENGTH_DIGITS &&
      data[space] >= 0x30 &&
      data[space] <= 0x39
    ) {
      length = length * 10 + data[space] - 0x30;
      space++;
    }
    // At least one digit, then a space, and a length that covers them and stays in the data.
    if (
      space === pos ||
      data[space] !== 0x20 ||
      length < space - pos + 2 ||
      pos + length > data.length
    ) {
      throw malformedPax();
    }
    if (++count > maxRecords) {
      throw overLimit('records in one pax header', 'maxPaxRecords', maxRecords);
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
  // A NUL cannot be part of a file name: only pax records and long names can carry one.
  if (bytes.includes(0)) {
    const shown = escaped(bytes);
    throw new RpzError(
      'corrupt-tar',
      `A ${what} in the package contains a NUL byte ("${shown}"), which no file name can.`,
      shown
    );
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    const shown = escaped(bytes);
    throw new RpzError(
      'non-utf8-name',
      `A ${what} in the package is not valid UTF-8 ("${shown}"); such names are not supported.`,
      shown
    );
  }
}

/** The first 200 bytes of a name, printable ASCII as is and the rest as `\xNN` escapes. */
function escaped(bytes: Buffer): string {
  const shown = Array.from(bytes.subarray(0, 200), b =>
    b >= 0x20 && b < 0x7f
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, '0')}`
  ).join('');
  return bytes.length > 200 ? `${shown}…` : shown;
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

/** Pax keys holding numbers, and whether the value may be negative or have a fraction. */
const PAX_NUMBERS = {
  size: { seconds: false },
  uid: { seconds: false },
  gid: { seconds: false },
  mtime: { seconds: true }
} as const;
type PaxNumberKey = keyof typeof PAX_NUMBERS;

/** A whole number: 1 to 16 digits, nothing else. Bounded quantifiers: linear. */
const WHOLE = /^[0-9]{1,16}$/;
/** Seconds since the epoch as Python's tarfile writes them: `1700000000` or `-12.5`. */
const SECONDS = /^-?[0-9]{1,16}(?:\.[0-9]{1,32})?$/;

/**
 * Parses a numeric pax record strictly: `size`, `uid` and `gid` are whole numbers from 0 to
 * 2^53-1 (no sign, fraction, exponent, hex, spaces or empty value); `mtime` may also be negative
 * or fractional. Anything else is `bad-number`, naming the key and the member.
 */
export function paxNumber(
  key: PaxNumberKey,
  raw: Buffer,
  member: string
): number {
  const text = raw.length <= 64 ? raw.toString('latin1') : null;
  const pattern = PAX_NUMBERS[key].seconds ? SECONDS : WHOLE;
  const value = text !== null && pattern.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    const shown = JSON.stringify(raw.toString('latin1', 0, 40)).slice(1, -1);
    throw new RpzError(
      'bad-number',
      `The pax header of ${member} has an invalid ${key} "${shown}${raw.length > 40 ? '…' : ''}": it must be ${PAX_NUMBERS[key].seconds ? 'a number of seconds' : 'a whole number from 0 to 9007199254740991'}.`,
      member
    );
  }
  return value;
}

/** GNU sparse files store a map of holes that a plain reader would write out as file data. */
function refuseSparse(records: PaxRecords, member: string): void {
  for (const key of records.keys()) {
    if (key.startsWith('GNU.sparse.')) {
      throw new RpzError(
        'corrupt-tar',
        `${member} is a GNU sparse file (pax record ${key}), which ReproZip never writes; refusing the package.`,
        member
      );
    }
  }
}

/** The first 100 bytes of a name, for messages about names too long to show. */
function shortName(bytes: Buffer): string {
  const shown = bytes.toString('utf8', 0, 100);
  return bytes.length > 100 ? `${shown}…` : shown;
}

/**
 * Accumulates GNU long names and pax records across header blocks and applies them to the next
 * real member. One instance per tar stream (global pax records last for the whole stream).
 *
 * Work per member is bounded by that member's own headers: global records are looked up, never
 * copied per member, and the global numbers and user/group names are checked and decoded once.
 */
export class HeaderState {
  private longName: Buffer | null = null;
  private longLink: Buffer | null = null;
  private pax: PaxRecords | null = null;
  private readonly globalPax: PaxRecords = new Map();
  /** Global numeric records, already checked. */
  private readonly globalNumbers = new Map<PaxNumberKey, number>();
  /** Global uname/gname, already decoded. */
  private readonly globalText = new Map<'uname' | 'gname', string>();

  constructor(private readonly limits: ReadLimits = READ_LIMITS) {}

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
        this.pax = parsePax(data, this.limits.maxPaxRecords);
        break;
      case 'g':
        this.absorbGlobal(parsePax(data, this.limits.maxPaxRecords));
        break;
    }
  }

  private absorbGlobal(records: PaxRecords): void {
    const where = 'a global pax header';
    refuseSparse(records, where);
    for (const [key, value] of records) {
      if (
        !this.globalPax.has(key) &&
        this.globalPax.size >= this.limits.maxGlobalPaxRecords
      ) {
        throw overLimit(
          'distinct global pax records',
          'maxGlobalPaxRecords',
          this.limits.maxGlobalPaxRecords
        );
      }
      this.globalPax.set(key, value);
      if (key in PAX_NUMBERS) {
        const numberKey = key as PaxNumberKey;
        this.globalNumbers.set(numberKey, paxNumber(numberKey, value, where));
      } else if (key === 'uname' || key === 'gname') {
        this.globalText.set(key, this.ownerName(value, where));
      }
    }
  }

  private ownerName(value: Buffer, member: string): string {
    if (value.length > this.limits.maxNameBytes) {
      throw overLimit(
        `bytes in the user or group name of ${member}`,
        'maxNameBytes',
        this.limits.maxNameBytes,
        member
      );
    }
    return value.toString('utf8');
  }

  private checkName(bytes: Buffer, what: string): void {
    if (bytes.length > this.limits.maxNameBytes) {
      throw overLimit(
        `bytes in one ${what} ("${shortName(bytes)}")`,
        'maxNameBytes',
        this.limits.maxNameBytes,
        shortName(bytes)
      );
    }
  }

  /** Builds the member from a real header, consuming the pending long names and pax records. */
  resolve(raw: RawHeader, headerOffset: number, dataOffset: number): TarMember {
    const own = this.pax ?? NO_RECORDS;
    const nameBytes =
      own.get('path') ??
      this.globalPax.get('path') ??
      this.longName ??
      raw.nameBytes;
    const linkBytes =
      own.get('linkpath') ??
      this.globalPax.get('linkpath') ??
      this.longLink ??
      raw.linkBytes;
    this.longName = null;
    this.longLink = null;
    this.pax = null;
    this.checkName(nameBytes, 'member name');
    let kind = kindOf(raw.typeflag);
    let name = decodeName(nameBytes, 'member name');
    if (raw.typeflag === 'S') {
      throw new RpzError(
        'corrupt-tar',
        `${name} is a GNU sparse file, which ReproZip never writes; refusing the package.`,
        name
      );
    }
    refuseSparse(own, name);
    // Very old tars mark directories with a trailing slash on a regular-file entry.
    if (kind === 'file' && name.endsWith('/')) {
      kind = 'directory';
    }
    if (name.endsWith('/')) {
      let end = name.length;
      while (end > 0 && name.charCodeAt(end - 1) === 0x2f) {
        end--;
      }
      name = name.slice(0, end);
    }
    // Only links have a target; a file's stray link field is not even decoded.
    let linkname = '';
    if ((kind === 'hardlink' || kind === 'symlink') && linkBytes.length > 0) {
      this.checkName(linkBytes, 'link target');
      linkname = decodeName(linkBytes, 'link target');
    }
    const number = (key: PaxNumberKey, fallback: number): number => {
      const value = own.get(key);
      return value !== undefined
        ? paxNumber(key, value, name)
        : (this.globalNumbers.get(key) ?? fallback);
    };
    const size = number('size', raw.size);
    const ownUname = own.get('uname');
    const ownGname = own.get('gname');
    return {
      name,
      linkname,
      kind,
      typeflag: raw.typeflag,
      mode: raw.mode & 0o7777,
      uid: number('uid', raw.uid),
      gid: number('gid', raw.gid),
      // Like Python's tarfile (the writer's own reader), only regular files and unknown types are
      // followed by data; any size on a link, directory or device header is ignored.
      size: kind === 'file' || kind === 'unknown' ? size : 0,
      mtime: number('mtime', raw.mtime),
      uname:
        ownUname !== undefined
          ? this.ownerName(ownUname, name)
          : (this.globalText.get('uname') ?? raw.uname),
      gname:
        ownGname !== undefined
          ? this.ownerName(ownGname, name)
          : (this.globalText.get('gname') ?? raw.gname),
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
