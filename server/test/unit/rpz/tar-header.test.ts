import { RpzError } from '../../../src/rpz/errors';
import {
  HeaderState,
  decodeHeader,
  parseNumber,
  parsePax
} from '../../../src/rpz/tar-header';
import { paxRecord, rawHeader } from '../../helpers/synthetic-rpz';

describe('tar header decoding', () => {
  it('reads octal and base-256 numbers, including sizes over 8 GiB', () => {
    expect(parseNumber(Buffer.from('00000001750\0'), 'size')).toBe(0o1750);
    expect(parseNumber(Buffer.from('  1750 \0'), 'size')).toBe(0o1750);
    const nine = 9 * 1024 ** 3;
    const header = decodeHeader(
      rawHeader({ name: 'big', size: nine, base256Size: true })
    );
    expect(header?.size).toBe(nine);
  });

  it('refuses negative base-256 numbers and non-numbers', () => {
    const negative = Buffer.alloc(12, 0xff);
    expect(() => parseNumber(negative, 'size')).toThrow(
      'A tar header has a negative size.'
    );
    expect(() => parseNumber(Buffer.from('12x4\0'), 'uid')).toThrow(
      'A tar header has a uid that is not a number ("12x4").'
    );
  });

  it('parses octal fields byte by byte with the padding old and new writers use', () => {
    const cases: [string, number][] = [
      ['0000644\0', 0o644],
      ['   644 \0', 0o644], // leading spaces, trailing space and NUL
      ['\x00\x00\x00644\x00\x00', 0o644], // leading NULs
      ['000000000000', 0],
      ['\0\0\0\0\0\0\0\0', 0], // empty field
      ['        ', 0],
      ['77777777777\0', 0o77777777777]
    ];
    for (const [text, value] of cases) {
      expect(parseNumber(Buffer.from(text, 'latin1'), 'size')).toBe(value);
    }
    expect(() => parseNumber(Buffer.from('0000800\0'), 'mode')).toThrow(
      'A tar header has a mode that is not a number ("0000800").'
    );
    expect(() => parseNumber(Buffer.from(' 12 34\0'), 'gid')).toThrow(
      'A tar header has a gid that is not a number ("12 34").'
    );
  });

  it('accepts the signed checksum old writers computed over bytes above 127', () => {
    const name = Buffer.from('DATA/café-ñ', 'utf8');
    const block = rawHeader({ name });
    let signed = 0;
    block.fill(0x20, 148, 156);
    for (const byte of block) {
      signed += byte > 127 ? byte - 256 : byte;
    }
    block.write(signed.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    expect(decodeHeader(block)?.nameBytes.equals(name)).toBe(true);
    block.write(
      (signed + 1).toString(8).padStart(6, '0') + '\0 ',
      148,
      'latin1'
    );
    expect(() => decodeHeader(block)).toThrow(/bad checksum/);
  });

  it('returns null for a zero block and rejects a bad checksum', () => {
    expect(decodeHeader(Buffer.alloc(512))).toBeNull();
    expect(() =>
      decodeHeader(rawHeader({ name: 'x', badChecksum: true }))
    ).toThrow('A tar header has a bad checksum (the archive is corrupt).');
  });

  it('parses pax records with multi-byte values and applies them over the header', () => {
    const data = Buffer.concat([
      paxRecord('path', 'DATA/é/long'),
      paxRecord('size', '9663676416'),
      paxRecord('mtime', '1700000000.5')
    ]);
    const records = parsePax(data);
    expect(records.get('path')?.toString('utf8')).toBe('DATA/é/long');
    const state = new HeaderState();
    state.absorb('x', data);
    const raw = decodeHeader(rawHeader({ name: 'PaxHeader', size: 0 }));
    const member = state.resolve(raw!, 0, 1024);
    expect(member).toMatchObject({
      name: 'DATA/é/long',
      size: 9663676416,
      mtime: 1700000000.5,
      kind: 'file'
    });
  });

  it('rejects names that are not UTF-8 with the bytes shown, from ustar and from pax BINARY', () => {
    const state = new HeaderState();
    const raw = decodeHeader(
      rawHeader({
        name: Buffer.from([0x44, 0x41, 0x54, 0x41, 0x2f, 0xff, 0x61])
      })
    );
    expect(() => state.resolve(raw!, 0, 512)).toThrow(
      new RpzError(
        'non-utf8-name',
        'A member name in the package is not valid UTF-8 ("DATA/\\xffa"); such names are not supported.'
      )
    );
    state.absorb(
      'x',
      Buffer.concat([
        paxRecord('hdrcharset', 'BINARY'),
        paxRecord('path', Buffer.from([0x61, 0xe9]))
      ])
    );
    expect(() =>
      state.resolve(decodeHeader(rawHeader({ name: 'ok' }))!, 0, 512)
    ).toThrow(/not valid UTF-8 \("a\\xe9"\)/);
  });

  it('rejects malformed pax data', () => {
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(
      'A pax extended header is malformed.'
    );
  });
});
