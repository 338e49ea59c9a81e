import { mkdtempSync } from 'node:fs';
import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FsBlobStore } from '../../../src/store/fs-blob-store';
import { blobStoreCases, bodyOf, sha256Of } from './blob-store-cases';

/** Every file under a folder, as paths relative to it. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, {
    recursive: true,
    withFileTypes: true
  }).catch(() => []);
  return entries
    .filter(entry => entry.isFile())
    .map(entry => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

const freshRoot = (): string =>
  join(mkdtempSync(join(tmpdir(), 'reproserver-blobs-')), 'blobs');

blobStoreCases('FsBlobStore', async () => {
  const root = freshRoot();
  return { store: new FsBlobStore(root), listAll: () => filesUnder(root) };
});

describe('FsBlobStore on disk', () => {
  it('lays blobs out as <root>/ab/cdef…, read-only', async () => {
    const root = freshRoot();
    const store = new FsBlobStore(root);
    const data = Buffer.from('layout');
    const { sha256 } = await store.put(bodyOf(data));
    expect(await filesUnder(root)).toEqual([
      join(sha256.slice(0, 2), sha256.slice(2))
    ]);
    expect(store.pathOf(sha256)).toBe(
      join(root, sha256.slice(0, 2), sha256.slice(2))
    );
    expect((await stat(store.pathOf(sha256))).mode & 0o777).toBe(0o400);
  });

  it('never maps a key to a path outside its root', () => {
    const store = new FsBlobStore(freshRoot());
    for (const key of [
      '../' + 'a'.repeat(61),
      '/etc/passwd',
      'a'.repeat(64) + '/'
    ]) {
      expect(() => store.pathOf(key)).toThrow(/Invalid blob key/);
    }
  });

  it('sweeps temporary files left by a crash, not recent ones', async () => {
    const root = freshRoot();
    const store = new FsBlobStore(root);
    await store.put(bodyOf(Buffer.from('makes the folders')));
    const old = join(root, 'tmp', 'crashed');
    const recent = join(root, 'tmp', 'in-progress');
    await writeFile(old, 'partial');
    await writeFile(recent, 'partial');
    const dayAgo = new Date(Date.now() - 2 * 24 * 3600_000);
    await utimes(old, dayAgo, dayAgo);
    expect(await store.sweepTemporary()).toBe(1);
    expect(await readdir(join(root, 'tmp'))).toEqual(['in-progress']);
    expect(await new FsBlobStore(freshRoot()).sweepTemporary()).toBe(0);
  });

  it('shares blobs between two stores on the same folder', async () => {
    const root = freshRoot();
    const data = Buffer.from('shared');
    await new FsBlobStore(root).put(bodyOf(data));
    expect(await new FsBlobStore(root).has(sha256Of(data))).toBe(true);
  });
});
