/**
 * The extractor's write path: bodies pulled straight from the tar parser (one write per small
 * file, several for a file spanning decompressed chunks), bodies from any other stream, modes the
 * umask would lose, and an event loop that keeps turning while files are written synchronously.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FsEntry } from '../../../src/rpz';
import {
  extractEntries,
  prepareRootfs,
  removeTree
} from '../../../src/sandbox';
import { tempFolder, writeRpz } from '../../helpers/synthetic-rpz';

const sha = (data: Buffer): string =>
  createHash('sha256').update(data).digest('hex');

describe('extractEntries', () => {
  let folder: ReturnType<typeof tempFolder>;
  beforeEach(() => {
    folder = tempFolder();
  });
  afterEach(async () => {
    await removeTree(folder.dir);
  });

  it('writes files from the package: large, small, empty, with modes the umask would lose', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 123);
    const mtime = new Date('2021-06-07T08:09:10Z');
    const rpz = await writeRpz(folder, 'files.rpz', {
      data: [
        { name: 'DATA/big.bin', content: big, mtime },
        { name: 'DATA/small.txt', content: 'small\n', mtime },
        { name: 'DATA/empty', content: '', mtime },
        { name: 'DATA/shared', content: 'rw for all\n', mode: 0o666 },
        { name: 'DATA/tool', content: '#!/bin/sh\n', mode: 0o2755 }
      ]
    });
    const { root, info } = await prepareRootfs(rpz, {
      stateDir: join(folder.dir, 'state')
    });
    expect(sha(readFileSync(join(root, 'big.bin')))).toBe(sha(big));
    expect(readFileSync(join(root, 'small.txt'), 'utf8')).toBe('small\n');
    expect(lstatSync(join(root, 'empty')).size).toBe(0);
    for (const name of ['big.bin', 'small.txt', 'empty']) {
      expect(lstatSync(join(root, name)).mtime).toEqual(mtime);
    }
    expect(lstatSync(join(root, 'shared')).mode & 0o7777).toBe(0o666);
    expect(lstatSync(join(root, 'tool')).mode & 0o7777).toBe(0o2755);
    expect(info.bytes).toBe(big.length + 6 + 11 + 10);
  });

  it('writes bodies that come from any stream, and lets the event loop turn meanwhile', async () => {
    const root = join(folder.dir, 'root');
    mkdirSync(root);
    const count = 3000;
    // A producer that never waits for I/O: without the extractor's own turns, nothing but
    // promise jobs would run until the end (and zlib, in a real extraction, would sit idle).
    async function* entries(): AsyncGenerator<FsEntry> {
      yield {
        type: 'directory',
        path: 'd',
        mode: 0o755,
        uid: 0,
        gid: 0,
        uname: 'root',
        gname: 'root',
        mtime: 1600000000
      };
      for (let i = 0; i < count; i++) {
        const content = Buffer.from(`file ${i}\n`);
        yield {
          type: 'file',
          path: `d/f${i}`,
          size: content.length,
          body: Readable.from([content]),
          mode: 0o644,
          uid: i % 2,
          gid: 0,
          uname: '',
          gname: '',
          mtime: 1600000000
        };
      }
    }
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) {
        setImmediate(tick);
      }
    };
    setImmediate(tick);
    const started = performance.now();
    const summary = await extractEntries(entries(), root);
    const elapsed = performance.now() - started;
    ticking = false;
    expect(summary.entries).toBe(count + 1);
    expect(readFileSync(join(root, 'd/f1234'), 'utf8')).toBe('file 1234\n');
    // Recorded owners: half the files are uid 1; the directory and the other half uid 0.
    expect(summary.owners.common).toEqual([0, 0]);
    expect(Object.keys(summary.owners.others)).toHaveLength(count / 2);
    // About one turn per millisecond of extraction (at least a few, however fast the disk).
    expect(turns).toBeGreaterThanOrEqual(Math.min(3, elapsed / 4));
  });
});
