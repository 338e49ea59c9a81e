/**
 * The sandbox's root-filesystem cache on synthetic packages: what lands on disk, what is recorded,
 * and that one package is extracted once however many ask.
 */
import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { join } from 'node:path';
import {
  resolveInRoot,
  placeFile,
  openRegularFile
} from '../../../src/backends/sandbox/run-tree';
import { looksOutOfMemory } from '../../../src/backends/sandbox/limits';
import { readPackage } from '../../../src/rpz';
import {
  prepareRootfs,
  removeTree,
  rootfsCacheDir
} from '../../../src/sandbox';
import { tempFolder, writeRpz, type Member } from '../../helpers/synthetic-rpz';

describe('prepareRootfs', () => {
  let folder: ReturnType<typeof tempFolder>;
  beforeEach(() => {
    folder = tempFolder();
  });
  afterEach(async () => {
    await removeTree(folder.dir);
  });

  it('extracts files, modes, mtimes, links and recorded owners', async () => {
    const rpz = await writeRpz(folder, 'basic.rpz');
    const stateDir = join(folder.dir, 'state');
    const prepared = await prepareRootfs(rpz, { stateDir });
    const { root, info } = prepared;
    expect(prepared.reused).toBe(false);
    const { sha256 } = await readPackage(rpz);
    expect(root).toBe(join(rootfsCacheDir(stateDir), sha256!, 'root'));
    // Absolute and relative symlinks are kept verbatim, never rewritten.
    expect(readlinkSync(join(root, 'bin'))).toBe('usr/bin');
    expect(readlinkSync(join(root, 'etc/alternatives/python'))).toBe(
      '/usr/bin/python3'
    );
    // Hard links share the inode.
    expect(lstatSync(join(root, 'home/ana/copy.py')).ino).toBe(
      lstatSync(join(root, 'home/ana/script.py')).ino
    );
    expect(readFileSync(join(root, 'home/ana/in.txt'), 'utf8')).toBe(
      'a,b\n1,2\n'
    );
    // Modes, setuid included; directory modes applied last.
    expect(lstatSync(join(root, 'usr/bin/python3')).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(root, 'home/ana')).mode & 0o7777).toBe(0o750);
    expect(lstatSync(root).mode & 0o777).toBe(0o755);
    // Ownership is recorded, not applied.
    expect(info.ownershipEmulated).toBe(true);
    expect(info.owners.common).toEqual([0, 0]);
    expect(info.owners.others['home/ana/in.txt']).toEqual([1000, 1000]);
    expect(info.owners.others['usr/bin/python3']).toBeUndefined();
    // The tree is private to the user: an untrusted package's setuid files stay unreachable.
    expect(lstatSync(rootfsCacheDir(stateDir)).mode & 0o777).toBe(0o700);
  });

  it('keeps mtimes of files and directories', async () => {
    const mtime = new Date('2020-02-03T04:05:06Z');
    const data: Member[] = [
      { name: 'DATA/d', type: 'directory', mtime, mode: 0o555 },
      { name: 'DATA/d/f', content: 'x', mtime }
    ];
    const rpz = await writeRpz(folder, 'times.rpz', { data });
    const { root } = await prepareRootfs(rpz, {
      stateDir: join(folder.dir, 'state')
    });
    expect(lstatSync(join(root, 'd/f')).mtime).toEqual(mtime);
    expect(lstatSync(join(root, 'd')).mtime).toEqual(mtime);
    expect(lstatSync(join(root, 'd')).mode & 0o777).toBe(0o555);
  });

  it('extracts a package once, however many ask at the same time', async () => {
    const rpz = await writeRpz(folder, 'basic.rpz');
    const stateDir = join(folder.dir, 'state');
    const all = await Promise.all(
      [1, 2, 3, 4].map(() => prepareRootfs(rpz, { stateDir }))
    );
    expect(new Set(all.map(p => p.root)).size).toBe(1);
    expect(all.filter(p => !p.reused)).toHaveLength(1);
    // Later calls find it complete; no partial folder is left.
    expect((await prepareRootfs(rpz, { stateDir })).reused).toBe(true);
    expect(
      readdirSync(rootfsCacheDir(stateDir)).filter(n => n.startsWith('.'))
    ).toEqual([]);
  });

  it('refuses to start when the disk cannot hold the package', async () => {
    const rpz = await writeRpz(folder, 'basic.rpz');
    await expect(
      prepareRootfs(rpz, {
        stateDir: join(folder.dir, 'state'),
        reserveBytes: Number.MAX_SAFE_INTEGER
      })
    ).rejects.toThrow(/Not enough disk space to unpack the package/);
  });

  it('leaves nothing behind when the package is damaged', async () => {
    const rpz = await writeRpz(folder, 'bad.rpz', {
      data: [
        { name: 'DATA/a', type: 'symlink', linkname: '/etc' },
        { name: 'DATA/a/passwd', content: 'root::0:0::/:/bin/sh\n' }
      ]
    });
    const stateDir = join(folder.dir, 'state');
    await expect(prepareRootfs(rpz, { stateDir })).rejects.toThrow(/symlink/);
    expect(readdirSync(rootfsCacheDir(stateDir))).toEqual([]);
  });
});

describe('paths inside a run tree', () => {
  let folder: ReturnType<typeof tempFolder>;
  let root: string;
  beforeEach(() => {
    folder = tempFolder();
    root = join(folder.dir, 'root');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'etc'));
    symlinkSync('usr/bin', join(root, 'bin'));
    symlinkSync('/usr', join(root, 'abs'));
    symlinkSync('../../../../../../etc', join(root, 'escape'));
    symlinkSync('/etc/passwd', join(root, 'usr/bin/passwd-link'));
    writeFileSync(join(root, 'usr/bin/tool'), 'tool');
  });
  afterEach(() => folder.cleanup());

  it('follows directory links inside the root, never out of it', async () => {
    expect(await resolveInRoot(root, '/bin/tool')).toBe(
      join(root, 'usr/bin/tool')
    );
    expect(await resolveInRoot(root, '/abs/bin/tool')).toBe(
      join(root, 'usr/bin/tool')
    );
    // `..` stops at the sandbox's root, as it does inside the sandbox.
    expect(await resolveInRoot(root, '/escape/passwd')).toBe(
      join(root, 'etc/passwd')
    );
    expect(await resolveInRoot(root, '/../../etc/passwd')).toBe(
      join(root, 'etc/passwd')
    );
  });

  it('never follows the last component', async () => {
    expect(await openRegularFile(root, '/usr/bin/passwd-link')).toBe(
      'not-a-file'
    );
    expect(await openRegularFile(root, '/usr/bin/missing')).toBe('missing');
    const opened = await openRegularFile(root, '/bin/tool');
    expect(opened).not.toBe('missing');
    if (typeof opened === 'object') {
      await opened.file.close();
    }
  });

  it('replaces a symlink with the input instead of writing through it', async () => {
    await placeFile(root, '/bin/passwd-link', 0o644, async file => {
      await file.write('mine\n');
    });
    const placed = join(root, 'usr/bin/passwd-link');
    expect(lstatSync(placed).isFile()).toBe(true);
    expect(readFileSync(placed, 'utf8')).toBe('mine\n');
    await placeFile(root, '/new/dir/input.txt', 0o600, async file => {
      await file.write('x');
    });
    expect(lstatSync(join(root, 'new/dir/input.txt')).mode & 0o777).toBe(0o600);
  });
});

describe('out-of-memory under rlimits', () => {
  it('recognises the usual allocation failures', () => {
    expect(looksOutOfMemory('Traceback…\nMemoryError\n')).toBe(true);
    expect(
      looksOutOfMemory(
        "terminate called after throwing an instance of 'std::bad_alloc'"
      )
    ).toBe(true);
    expect(
      looksOutOfMemory('Error: cannot allocate vector of size 1.2 Gb')
    ).toBe(true);
    expect(looksOutOfMemory('ValueError: bad input\n')).toBe(false);
  });
});
