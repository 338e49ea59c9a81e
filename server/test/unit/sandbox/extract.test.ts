/**
 * The extractor's write path: bodies pulled straight from the tar parser (one write per small
 * file, several for a file spanning decompressed chunks), bodies from any other stream, modes the
 * umask would lose, and an event loop that keeps turning while files are written synchronously.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync
} from 'node:fs';
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

  it('skips entries at the names the sandbox mounts over, with one warning per name, and keeps the rest', async () => {
    const rpz = await writeRpz(folder, 'reserved.rpz', {
      data: [
        { name: 'DATA/proc', type: 'directory' },
        { name: 'DATA/proc/self', type: 'directory' },
        { name: 'DATA/proc/self/environ', content: 'TOKEN=planted\n' },
        { name: 'DATA/dev', type: 'symlink', linkname: '/tmp' },
        { name: 'DATA/sys', content: 'a file where /sys is mounted\n' },
        { name: 'DATA/.reproserver', type: 'directory' },
        { name: 'DATA/.reproserver/rpz-exec', content: '#!/bin/sh\n' },
        {
          name: 'DATA/procfs',
          content: 'not reserved: only the exact name is\n'
        },
        { name: 'DATA/etc', type: 'directory' },
        {
          name: 'DATA/etc/mtab',
          type: 'symlink',
          linkname: '/proc/self/mounts'
        },
        {
          name: 'DATA/etc/helper',
          type: 'link',
          linkname: 'DATA/.reproserver/rpz-exec'
        },
        { name: 'DATA/etc/hosts', content: '127.0.0.1 localhost\n' }
      ]
    });
    const warned: string[] = [];
    const { root, info } = await prepareRootfs(rpz, {
      stateDir: join(folder.dir, 'state'),
      onWarning: message => warned.push(message)
    });
    expect(readdirSync(root).sort()).toEqual(['etc', 'procfs']);
    expect(existsSync(join(root, 'etc', 'helper'))).toBe(false);
    expect(readFileSync(join(root, 'etc', 'hosts'), 'utf8')).toBe(
      '127.0.0.1 localhost\n'
    );
    // A link to a mounted place is kept: it resolves to the runner's mount, as on the recorder.
    expect(lstatSync(join(root, 'etc', 'mtab')).isSymbolicLink()).toBe(true);
    expect(warned).toEqual([
      '3 package entries at /proc (or hard links to them) were not unpacked: the sandbox mounts its own /proc there.',
      '1 package entry at /dev (or hard links to it) was not unpacked: the sandbox mounts its own /dev there.',
      '1 package entry at /sys (or hard links to it) was not unpacked: the sandbox mounts its own /sys there.',
      '3 package entries at /.reproserver (or hard links to them) were not unpacked: the sandbox mounts its own /.reproserver there.'
    ]);
    expect(info.warnings).toEqual(warned);
  });
});
