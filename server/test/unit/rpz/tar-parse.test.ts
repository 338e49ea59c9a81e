/**
 * Pulling a member's body straight from the tar reader (`BodyStream.readChunk`), as the sandbox
 * extractor does: same bytes as the stream, views of the source's chunks, same errors.
 */
import { randomBytes } from 'node:crypto';
import { BodyStream, parseTar } from '../../../src/rpz/tar-parse';
import { rawTar, tarStreamBuffer } from '../../helpers/synthetic-rpz';

/** `bytes` as a source of `size`-byte chunks. */
async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) {
    yield bytes.subarray(i, i + size);
  }
}

describe('BodyStream.readChunk', () => {
  it('hands out each body as views of the source chunks, then null', async () => {
    const big = randomBytes(300 * 1024);
    const tar = await tarStreamBuffer([
      { name: 'small.txt', content: 'hello' },
      { name: 'big.bin', content: big },
      { name: 'after.txt', content: 'after' }
    ]);
    const got: Record<string, { data: Buffer; pieces: number }> = {};
    for await (const member of parseTar(pieces(tar, 64 * 1024))) {
      const body = member.body;
      expect(body).toBeInstanceOf(BodyStream);
      const parts: Buffer[] = [];
      for (
        let chunk = await (body as BodyStream).readChunk();
        chunk !== null;
        chunk = await (body as BodyStream).readChunk()
      ) {
        expect(chunk.length).toBeLessThanOrEqual(64 * 1024);
        parts.push(chunk);
      }
      got[member.name] = { data: Buffer.concat(parts), pieces: parts.length };
    }
    expect(got['small.txt']).toEqual({ data: Buffer.from('hello'), pieces: 1 });
    expect(got['big.bin'].data.equals(big)).toBe(true);
    expect(got['big.bin'].pieces).toBeGreaterThanOrEqual(5);
    expect(got['after.txt'].data.toString()).toBe('after');
  });

  it('fails with truncated, mapped like the stream, when the source ends inside a body', async () => {
    const tar = await tarStreamBuffer([
      { name: 'cut.bin', content: randomBytes(4096) }
    ]);
    const mapError = (error: unknown): Error =>
      new Error(`mapped: ${(error as Error).message}`);
    const members = parseTar(
      pieces(rawTar([tar.subarray(0, 2048)], false), 512),
      {
        mapError
      }
    );
    const member = (await members.next()).value!;
    const body = member.body as BodyStream;
    await expect(
      (async () => {
        while ((await body.readChunk()) !== null) {
          // keep reading
        }
      })()
    ).rejects.toThrow(
      'mapped: The package is truncated: member cut.bin ends before its declared size.'
    );
    await members.return(undefined);
  });
});
