/**
 * The decompressor's read-ahead: zlib (in the libuv threadpool) keeps decompressing while the
 * consumer is busy, but only up to `READ_AHEAD_BYTES`, and hands out its chunks as they are.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { READ_AHEAD_BYTES, gunzipGuarded } from '../../../src/rpz/gunzip';

const MiB = 1024 * 1024;

/** A source of `bytes` in 64 KiB pieces that counts how much was pulled from it. */
function countingSource(bytes: Buffer): { stream: Readable; pulled(): number } {
  let pulled = 0;
  function* pieces(): Generator<Buffer> {
    for (let i = 0; i < bytes.length; i += 64 * 1024) {
      const piece = bytes.subarray(i, i + 64 * 1024);
      pulled += piece.length;
      yield piece;
    }
  }
  return { stream: Readable.from(pieces()), pulled: () => pulled };
}

/** Waits until `value()` has not changed for 200 ms (or five seconds pass). */
async function settled(value: () => number): Promise<number> {
  let last = value();
  let still = 0;
  for (let i = 0; i < 100 && still < 4; i++) {
    await new Promise(resolve => setTimeout(resolve, 50));
    still = value() === last ? still + 1 : 0;
    last = value();
  }
  return last;
}

describe('gunzipGuarded', () => {
  it('yields the data in order, in chunks of at most 1 MiB (one zlib job each)', async () => {
    const data = randomBytes(5 * MiB);
    const hash = createHash('sha256');
    let largest = 0;
    for await (const chunk of gunzipGuarded(
      Readable.from([gzipSync(data)]),
      'DATA.tar.gz'
    )) {
      largest = Math.max(largest, chunk.length);
      hash.update(chunk);
    }
    expect(hash.digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex')
    );
    expect(largest).toBeLessThanOrEqual(MiB);
  });

  it('decompresses ahead of a consumer that is busy, but only so far', async () => {
    // Random data does not compress: compressed bytes pulled ≈ bytes decompressed.
    const source = countingSource(
      gzipSync(randomBytes(32 * MiB), { level: 1 })
    );
    const chunks = gunzipGuarded(source.stream, 'DATA.tar.gz');
    const first = await chunks.next();
    expect(first.done).toBe(false);
    // The consumer now does something else; zlib goes on without it…
    // (Without read-ahead it would stop after a chunk and the pipe's buffers: well under 1 MiB.)
    const pulled = await settled(source.pulled);
    expect(pulled).toBeGreaterThanOrEqual(READ_AHEAD_BYTES * 0.75);
    // …and stops once the read-ahead is full (plus the buffers of the pipe on the way).
    expect(pulled).toBeLessThan(READ_AHEAD_BYTES + 6 * MiB);
    await chunks.return(undefined);
  });

  it('hands out what was decompressed before an error, then the error', async () => {
    const data = randomBytes(3 * MiB);
    const gz = gzipSync(data);
    let got = 0;
    await expect(
      (async () => {
        for await (const chunk of gunzipGuarded(
          Readable.from([gz.subarray(0, gz.length - 100)]),
          'DATA.tar.gz'
        )) {
          got += chunk.length;
        }
      })()
    ).rejects.toMatchObject({ code: 'truncated' });
    expect(got).toBeGreaterThan(2 * MiB);
  });
});
