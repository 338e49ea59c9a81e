/**
 * A tar archive as raw members, for mutating real packages: each member keeps its header block
 * byte for byte (pax and GNU records are members of their own), so that a mutation changes
 * exactly what it means to and the rest stays as reprozip wrote it.
 */

export interface RawMember {
  /** The 512-byte header block (a copy: mutate freely). */
  header: Buffer;
  /** The body, unpadded. */
  body: Buffer;
}

export interface RawTar {
  members: RawMember[];
  /** What follows the last member (the two zero blocks and any padding reprozip wrote). */
  trailer: Buffer;
}

/** The header's size field (octal or GNU base-256); -1 when it is not a size. */
export function headerSize(header: Buffer): number {
  if (header[124] & 0x80) {
    let value = 0;
    for (let i = 125; i < 136; i++) {
      value = value * 256 + header[i];
    }
    return value;
  }
  const text = header.toString('latin1', 124, 136).replace(/[\0 ]+$/, '');
  return /^[0-7]+$/.test(text.trim()) ? parseInt(text.trim(), 8) : -1;
}

/** The header's name (name field only, ustar prefix ignored). */
export function headerName(header: Buffer): string {
  const end = header.indexOf(0, 0);
  return header.toString('utf8', 0, end === -1 || end > 100 ? 100 : end);
}

/** Splits a well-formed tar; throws on anything else (seeds are real packages). */
export function splitTar(bytes: Buffer): RawTar {
  const members: RawMember[] = [];
  let offset = 0;
  while (offset + 512 <= bytes.length) {
    const header = bytes.subarray(offset, offset + 512);
    if (header.every(b => b === 0)) {
      break;
    }
    const size = headerSize(header);
    if (size < 0) {
      throw new Error(`seed tar: bad size at ${offset}`);
    }
    const body = bytes.subarray(offset + 512, offset + 512 + size);
    members.push({ header: Buffer.from(header), body: Buffer.from(body) });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return { members, trailer: Buffer.from(bytes.subarray(offset)) };
}

/** Recomputes the header's checksum (so that a mutation reaches past the checksum test). */
export function fixChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) {
    sum += byte;
  }
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** Sets the size field (octal) to `size` and fixes the checksum. */
export function setSize(header: Buffer, size: number): void {
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  fixChecksum(header);
}

/** A copy of `member` with a new body, its header's size and checksum updated. */
export function withBody(member: RawMember, body: Buffer): RawMember {
  const header = Buffer.from(member.header);
  setSize(header, body.length);
  return { header, body };
}

/** Joins members back into tar bytes, each body padded to 512 bytes. */
export function joinTar(tar: RawTar): Buffer {
  const parts: Buffer[] = [];
  for (const member of tar.members) {
    parts.push(member.header, member.body);
    const rest = member.body.length % 512;
    if (rest !== 0) {
      parts.push(Buffer.alloc(512 - rest));
    }
  }
  parts.push(tar.trailer);
  return Buffer.concat(parts);
}

/** A pax record `<len> key=value\n`. */
export function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.from(` ${key}=${value}\n`);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) {
    length = String(length).length + body.length;
  }
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** A pax header member (`x`, or `g` for global) holding `records`. */
export function paxMember(records: Buffer, global: boolean): RawMember {
  const header = Buffer.alloc(512);
  header.write(global ? 'pax_global_header' : 'PaxHeader/x', 0, 'latin1');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write('14000000000\0', 136, 'latin1');
  header.write(global ? 'g' : 'x', 156, 'latin1');
  header.write('ustar\u000000', 257, 'latin1');
  setSize(header, records.length);
  return { header, body: records };
}
