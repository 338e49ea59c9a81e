/**
 * The host side of a run's tree, shaped by a hostile experiment: the disk measurement, reading
 * outputs and removing the tree never follow its links, never open its FIFOs or device nodes, and
 * stay bounded however many or deep its folders are.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { join } from 'node:path';
import {
  DiskWatch,
  measureTree,
  overLimit
} from '../../../src/backends/sandbox/disk-watch';
import {
  findFiles,
  openRegularFile
} from '../../../src/backends/sandbox/run-tree';
import { removeTree } from '../../../src/sandbox';
import { tempFolder } from '../../helpers/synthetic-rpz';
import { requireRoot } from '../../helpers/requires-root';

const MiB = 1024 * 1024;

let folder: ReturnType<typeof tempFolder>;
let root: string;
beforeEach(() => {
  folder = tempFolder();
  root = join(folder.dir, 'root');
  mkdirSync(root);
});
afterEach(async () => {
  await removeTree(folder.dir);
});

/** `depth` nested folders of 10-character names below `dir`, made from inside (no long paths). */
function nest(dir: string, depth: number): void {
  execFileSync('python3', [
    '-c',
    'import os, sys\nos.chdir(sys.argv[1])\nfor _ in range(int(sys.argv[2])):\n    os.mkdir("dddddddddd")\n    os.chdir("dddddddddd")\nopen("f", "w").write("deep")\n',
    dir,
    String(depth)
  ]);
}

describe('measuring a run tree', () => {
  it('counts the blocks of what is there once, and nothing a link points at', async () => {
    writeFileSync(join(root, 'a'), Buffer.alloc(2 * MiB, 1));
    linkSync(join(root, 'a'), join(root, 'a-again'));
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd', 'b'), Buffer.alloc(MiB, 1));
    // Links to big places of the host: measured as links, never followed.
    symlinkSync('/usr', join(root, 'usr-link'));
    symlinkSync('/', join(root, 'd', 'slash'));
    const measure = await measureTree(root, { maxEntries: 100, maxDepth: 8 });
    expect(measure.tooLarge).toBeUndefined();
    expect(measure.visited).toBe(6);
    expect(measure.bytes).toBeGreaterThanOrEqual(3 * MiB);
    expect(measure.bytes).toBeLessThan(3 * MiB + 64 * 1024);
  });

  it('counts only what changed since a time, for a copy that holds the package too', async () => {
    writeFileSync(join(root, 'package-file'), Buffer.alloc(MiB, 1));
    await new Promise(resolve => setTimeout(resolve, 20));
    const since = Date.now();
    await new Promise(resolve => setTimeout(resolve, 20));
    writeFileSync(join(root, 'new-file'), Buffer.alloc(64 * 1024, 1));
    const measure = await measureTree(root, {
      maxEntries: 100,
      maxDepth: 8,
      sinceMs: since
    });
    expect(measure.entries).toBe(1);
    expect(measure.bytes).toBeLessThan(MiB);
  });

  it('stops at its bounds of entries and depth, and says so', async () => {
    for (let i = 0; i < 50; i++) {
      writeFileSync(join(root, `f${i}`), '');
    }
    const wide = await measureTree(root, { maxEntries: 20, maxDepth: 8 });
    expect(wide.tooLarge).toBe('entries');
    expect(wide.visited).toBeGreaterThan(20);
    expect(
      overLimit(wide, { limitBytes: MiB, maxEntries: 20, maxDepth: 8 })
    ).toBe(
      "The run's tree grew past 20 files and folders, more than the sandbox measures; it was stopped."
    );
    const deepRoot = join(folder.dir, 'deep');
    mkdirSync(deepRoot);
    nest(deepRoot, 40);
    const deep = await measureTree(deepRoot, {
      maxEntries: 1000,
      maxDepth: 16
    });
    expect(deep.tooLarge).toBe('depth');
  });

  it('tells the run it is over its limit, once', async () => {
    writeFileSync(join(root, 'big'), Buffer.alloc(2 * MiB, 1));
    const reasons: string[] = [];
    const watch = new DiskWatch({
      roots: [root],
      limitBytes: MiB,
      maxEntries: 100,
      maxDepth: 8,
      intervalMs: 10,
      onExceeded: reason => reasons.push(reason)
    });
    await new Promise(resolve => setTimeout(resolve, 200));
    await watch.stop();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(
      /^The run used more than its disk limit of 1\.0 MiB \(2\.\d MiB written\); raise limits\.diskMiB if it needs more\.$/
    );
  });
});

describe('reading outputs from a run tree', () => {
  it('refuses FIFOs and links without opening them, and does not block', async () => {
    execFileSync('mkfifo', [join(root, 'fifo')]);
    symlinkSync('/etc/hostname', join(root, 'link'));
    expect(await openRegularFile(root, '/fifo')).toBe('not-a-file');
    expect(await openRegularFile(root, '/link')).toBe('not-a-file');
  });

  it('refuses a device node without opening it (only root can make one)', async () => {
    requireRoot('Making a device node');
    execFileSync('mknod', [join(root, 'disk'), 'b', '7', '0']);
    expect(await openRegularFile(root, '/disk')).toBe('not-a-file');
  });

  it('lists at most its bound of files, and counts the others', async () => {
    for (let i = 0; i < 30; i++) {
      writeFileSync(join(root, `f${String(i).padStart(2, '0')}`), 'x');
    }
    const found = await findFiles(root, () => true, { maxFiles: 10 });
    expect(found.files.map(f => f.path)).toEqual(
      Array.from({ length: 10 }, (_, i) => `/f0${i}`)
    );
    expect(found.more).toBe(20);
  });
});

describe('removing a run tree', () => {
  it('removes folders without permissions and deeper than a path can name, never a link target', async () => {
    const outside = join(folder.dir, 'host-file');
    writeFileSync(outside, 'keep me\n');
    symlinkSync(outside, join(root, 'link'));
    mkdirSync(join(root, 'closed', 'inner'), { recursive: true });
    writeFileSync(join(root, 'closed', 'inner', 'f'), 'x');
    chmodSync(join(root, 'closed', 'inner'), 0);
    chmodSync(join(root, 'closed'), 0);
    execFileSync('mkfifo', [join(root, 'fifo')]);
    nest(root, 600);
    await removeTree(root);
    expect(existsSync(root)).toBe(false);
    expect(readFileSync(outside, 'utf8')).toBe('keep me\n');
  });
});
