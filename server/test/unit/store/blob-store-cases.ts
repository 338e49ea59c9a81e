/**
 * The table every BlobStore implementation must pass: the filesystem store's unit test and the
 * S3 store's integration test (against a real S3-compatible server) both run it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  BlobNotFoundError,
  BlobRangeError,
  BlobTooLargeError,
  type BlobStore
} from '../../../src/store/blob-store';

/** A fresh, empty store, and a way to see everything it holds (temporaries included). */
export interface BlobStoreFixture {
  store: BlobStore;
  /** Every file or object under the store's root or prefix. */
  listAll(): Promise<string[]>;
}

const MiB = 1024 ** 2;

export const sha256Of = (data: Buffer): string =>
  createHash('sha256').update(data).digest('hex');

/** A body of these chunks, as a network upload would arrive. */
export const bodyOf = (...chunks: Buffer[]): Readable =>
  Readable.from(chunks, { objectMode: false });

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Deterministic bytes that do not repeat within a part (a multi-part upload must keep order). */
export function bytes(size: number, seed = 1): Buffer {
  const data = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

/** A body of `total` bytes made lazily, counting how much of it was actually produced. */
function lazyBody(total: number, chunkSize = 64 * 1024) {
  const state = { produced: 0 };
  const chunk = Buffer.alloc(chunkSize, 7);
  const stream = new Readable({
    read() {
      if (state.produced >= total) {
        this.push(null);
        return;
      }
      state.produced += chunk.length;
      this.push(chunk);
    }
  });
  return { stream, state };
}

const INVALID_KEYS = [
  '../../etc/passwd',
  'a'.repeat(63),
  'a'.repeat(65),
  'A'.repeat(64),
  `${'a'.repeat(62)}/x`,
  `..${'a'.repeat(62)}`,
  'g'.repeat(64),
  ''
];

export function blobStoreCases(
  name: string,
  setup: () => Promise<BlobStoreFixture>
): void {
  describe(`${name}: the BlobStore contract`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;
    beforeEach(async () => {
      fixture = await setup();
      store = fixture.store;
    });

    it('stores a body under its sha256 and streams it back', async () => {
      const data = Buffer.from('hello, reproducible world\n');
      const info = await store.put(
        bodyOf(data.subarray(0, 5), data.subarray(5))
      );
      expect(info).toEqual({ sha256: sha256Of(data), size: data.length });
      expect(await readAll(await store.get(info.sha256))).toEqual(data);
      expect(await store.stat(info.sha256)).toEqual(info);
      expect(await store.has(info.sha256)).toBe(true);
      expect(await fixture.listAll()).toHaveLength(1);
    });

    it('stores an empty body', async () => {
      const info = await store.put(bodyOf());
      expect(info).toEqual({ sha256: sha256Of(Buffer.alloc(0)), size: 0 });
      expect(await readAll(await store.get(info.sha256))).toEqual(
        Buffer.alloc(0)
      );
    });

    it('keeps one copy of content stored twice', async () => {
      const data = bytes(1000);
      const first = await store.put(bodyOf(data));
      const second = await store.put(bodyOf(data));
      expect(second).toEqual(first);
      expect(await fixture.listAll()).toHaveLength(1);
    });

    it('settles concurrent puts of the same content on one complete blob', async () => {
      const data = bytes(300 * 1024, 2);
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          store.put(bodyOf(data.subarray(0, 1000), data.subarray(1000)))
        )
      );
      for (const result of results) {
        expect(result).toEqual({ sha256: sha256Of(data), size: data.length });
      }
      expect(await fixture.listAll()).toHaveLength(1);
      expect(sha256Of(await readAll(await store.get(sha256Of(data))))).toBe(
        sha256Of(data)
      );
    });

    // 11 MiB written and fsynced: seconds on a slow disk, so not jest's default 5 s timeout.
    it('stores a body larger than one upload part intact', async () => {
      const data = bytes(11 * MiB, 3);
      const chunks: Buffer[] = [];
      for (let at = 0; at < data.length; at += 700 * 1024) {
        chunks.push(data.subarray(at, at + 700 * 1024));
      }
      const info = await store.put(bodyOf(...chunks));
      expect(info).toEqual({ sha256: sha256Of(data), size: data.length });
      expect(sha256Of(await readAll(await store.get(info.sha256)))).toBe(
        info.sha256
      );
      expect(await fixture.listAll()).toHaveLength(1);
    }, 30_000);

    it('accepts a body of exactly the size limit', async () => {
      const data = bytes(4096);
      await expect(
        store.put(bodyOf(data), { maxBytes: 4096 })
      ).resolves.toEqual({ sha256: sha256Of(data), size: 4096 });
    });

    it('refuses a body over the size limit, leaving nothing behind', async () => {
      const data = bytes(4097);
      const error = await store
        .put(bodyOf(data.subarray(0, 4000), data.subarray(4000)), {
          maxBytes: 4096
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BlobTooLargeError);
      expect((error as Error).message).toMatch(/4096 bytes/);
      expect(await store.has(sha256Of(data))).toBe(false);
      expect(await fixture.listAll()).toEqual([]);
    });

    it('stops reading a body as soon as it passes the limit', async () => {
      const { stream, state } = lazyBody(200 * MiB);
      await expect(store.put(stream, { maxBytes: 6 * MiB })).rejects.toThrow(
        BlobTooLargeError
      );
      expect(state.produced).toBeLessThan(40 * MiB);
      expect(stream.destroyed).toBe(true);
      expect(await fixture.listAll()).toEqual([]);
    });

    it('fails with the body’s own error when the body breaks, leaving nothing', async () => {
      const broken = new Readable({
        read() {
          this.push(Buffer.alloc(1024, 1));
          this.destroy(new Error('client went away'));
        }
      });
      await expect(store.put(broken)).rejects.toThrow('client went away');
      expect(await fixture.listAll()).toEqual([]);
    });

    it('reads byte ranges, both ends inclusive', async () => {
      const data = Buffer.from('0123456789');
      const { sha256 } = await store.put(bodyOf(data));
      const range = async (start: number, end?: number) =>
        (await readAll(await store.get(sha256, { start, end }))).toString();
      expect(await range(2, 5)).toBe('2345');
      expect(await range(7)).toBe('789');
      expect(await range(0, 0)).toBe('0');
      expect(await range(9, 9)).toBe('9');
      await expect(store.get(sha256, { start: 10 })).rejects.toThrow(
        BlobRangeError
      );
      await expect(store.get(sha256, { start: 5, end: 10 })).rejects.toThrow(
        BlobRangeError
      );
      await expect(store.get(sha256, { start: 5, end: 4 })).rejects.toThrow(
        BlobRangeError
      );
      await expect(store.get(sha256, { start: -1 })).rejects.toThrow(
        BlobRangeError
      );
    });

    it('says plainly when a blob is missing', async () => {
      const missing = sha256Of(Buffer.from('never stored'));
      await expect(store.get(missing)).rejects.toThrow(BlobNotFoundError);
      await expect(store.get(missing, { start: 0 })).rejects.toThrow(
        BlobNotFoundError
      );
      expect(await store.stat(missing)).toBeUndefined();
      expect(await store.has(missing)).toBe(false);
      expect(await store.delete(missing)).toBe(false);
    });

    it('deletes a blob', async () => {
      const { sha256 } = await store.put(bodyOf(Buffer.from('short-lived')));
      expect(await store.delete(sha256)).toBe(true);
      expect(await store.has(sha256)).toBe(false);
      expect(await store.delete(sha256)).toBe(false);
      expect(await fixture.listAll()).toEqual([]);
    });

    it.each(INVALID_KEYS.map(key => [JSON.stringify(key), key]))(
      'refuses the key %s in every method',
      async (_, key) => {
        await expect(store.get(key)).rejects.toThrow(/Invalid blob key/);
        await expect(store.stat(key)).rejects.toThrow(/Invalid blob key/);
        await expect(store.has(key)).rejects.toThrow(/Invalid blob key/);
        await expect(store.delete(key)).rejects.toThrow(/Invalid blob key/);
      }
    );
  });
}
