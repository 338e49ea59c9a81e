/**
 * Records of a `find -printf '…\0'` listing, read as they come: whatever the chunking, each
 * record once, and never more than one record held.
 */
import {
  nulRecords,
  RecordTooLongError
} from '../../../src/backends/sandbox/nul-records';

async function all(
  chunks: Iterable<Buffer> | AsyncIterable<Buffer>,
  max = 100
): Promise<string[]> {
  const records: string[] = [];
  for await (const record of nulRecords(
    (async function* () {
      yield* chunks;
    })(),
    max
  )) {
    records.push(record.toString('utf8'));
  }
  return records;
}

describe('NUL-terminated records', () => {
  const listing = Buffer.from('0 0 d 1.5 a\x001 2 f 3.25 a/b c\0\0x\ny\0');
  const expected = ['0 0 d 1.5 a', '1 2 f 3.25 a/b c', '', 'x\ny'];

  it('are the same records however the bytes are cut', async () => {
    expect(await all([listing])).toEqual(expected);
    for (let size = 1; size < listing.length; size++) {
      const chunks = [];
      for (let start = 0; start < listing.length; start += size) {
        chunks.push(listing.subarray(start, start + size));
      }
      expect(await all(chunks)).toEqual(expected);
    }
  });

  it('keep their bytes, UTF-8 or not', async () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0, 0x78]); // "caf\xe9", "x"
    const records: Buffer[] = [];
    for await (const record of nulRecords(
      (async function* () {
        yield latin1.subarray(0, 4);
        yield latin1.subarray(4);
      })(),
      100
    )) {
      records.push(record);
    }
    expect(records).toEqual([latin1.subarray(0, 4), Buffer.from('x')]);
  });

  it('keep what follows the last NUL, and UTF-8 cut between chunks', async () => {
    const accented = Buffer.from('données\0résumé');
    const cut = accented.indexOf(0xa9); // inside the two bytes of "é"
    expect(
      await all([accented.subarray(0, cut), accented.subarray(cut)])
    ).toEqual(['données', 'résumé']);
  });

  it('stop at a record longer than allowed, before holding more of it', async () => {
    let given = 0;
    const endless = (async function* () {
      yield Buffer.from('short\0');
      for (;;) {
        given++;
        yield Buffer.alloc(64, 'a');
      }
    })();
    const records: string[] = [];
    await expect(
      (async () => {
        for await (const record of nulRecords(endless, 1000)) {
          records.push(record.toString());
        }
      })()
    ).rejects.toBeInstanceOf(RecordTooLongError);
    expect(records).toEqual(['short']);
    // It stopped at the chunk that passed the bound: 16 × 64 bytes.
    expect(given).toBe(16);
  });
});
