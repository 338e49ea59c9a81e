import { formatBytes, type IByteWords } from '../../../src/contract/bytes';
import { formatBytes as describeFormatBytes } from '../../../src/describe';

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [1, '1 byte'],
    [1023, '1023 bytes'],
    [1024, '1.0 KiB'],
    [2048, '2.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 ** 2, '1.0 MiB'],
    [5 * 1024 ** 2 + 300 * 1024, '5.3 MiB'],
    [1024 ** 3, '1.0 GiB'],
    [1024 ** 4, '1.0 TiB'],
    // Past the largest unit, the figure grows rather than the unit.
    [2048 * 1024 ** 4, '2048.0 TiB']
  ])('writes %d as %s (binary units)', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])(
    'writes %d, which is no size, as ?',
    bytes => {
      expect(formatBytes(bytes)).toBe('?');
    }
  );

  it('takes the words for small counts from the caller (the panel translates them)', () => {
    const words: IByteWords = { bytes: n => `${n} octet${n === 1 ? '' : 's'}` };
    expect(formatBytes(1, words)).toBe('1 octet');
    expect(formatBytes(300, words)).toBe('300 octets');
    // Units are symbols, the same in every language.
    expect(formatBytes(4096, words)).toBe('4.0 KiB');
  });

  it('is the function the server’s messages use', () => {
    expect(describeFormatBytes).toBe(formatBytes);
  });
});
