import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PackageModel } from '../../../src/rpz/model';
import {
  defaultLimitsFor,
  defaultMemoryMiB,
  readMemoryCeiling,
  runDefaults
} from '../../../src/runs/default-limits';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { planRun } from '../../../src/runs/plan';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** A fake machine root: `files` maps paths below it to their text. */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'default-limits-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
const roots: string[] = [];
afterAll(() => roots.forEach(root => rmSync(root, { recursive: true })));

const meminfo = (bytes: number) =>
  `MemTotal:       ${bytes / 1024} kB\nMemFree:         1000 kB\nMemAvailable:   2000 kB\n`;

/** mountinfo lines as the kernel writes them (only the fields the reader uses are realistic). */
const CGROUP2_MOUNT =
  '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const v1Mount = (root: string, point: string, controllers: string) =>
  `40 30 0:35 ${root} ${point} rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,${controllers}\n`;
const ROOT_MOUNT = '24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n';

describe('readMemoryCeiling', () => {
  it('takes the tightest memory.max along the cgroup v2 path, below MemTotal', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(16 * GIB),
      'proc/self/cgroup': '0::/kubepods/pod1/container\n',
      'proc/self/mountinfo': ROOT_MOUNT + CGROUP2_MOUNT,
      'sys/fs/cgroup/kubepods/pod1/container/memory.max': 'max\n',
      'sys/fs/cgroup/kubepods/pod1/memory.max': `${GIB}\n`,
      'sys/fs/cgroup/kubepods/memory.max': `${4 * GIB}\n`
    });
    expect(readMemoryCeiling(root)).toEqual({
      bytes: GIB,
      source: '/sys/fs/cgroup/kubepods/pod1/memory.max'
    });
  });

  it('reads the cgroup v1 memory hierarchy, where a container sees its own subtree mounted', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(8 * GIB),
      'proc/self/cgroup':
        '12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n',
      'proc/self/mountinfo':
        ROOT_MOUNT +
        v1Mount('/docker/abc', '/sys/fs/cgroup/pids', 'pids') +
        v1Mount('/docker/abc', '/sys/fs/cgroup/memory', 'memory'),
      'sys/fs/cgroup/memory/memory.limit_in_bytes': `${2 * GIB}\n`,
      // the pids hierarchy's files are not memory limits
      'sys/fs/cgroup/pids/memory.limit_in_bytes': `${MIB}\n`
    });
    expect(readMemoryCeiling(root)).toEqual({
      bytes: 2 * GIB,
      source: '/sys/fs/cgroup/memory/memory.limit_in_bytes'
    });
  });

  it('walks v1 ancestors too (the Binder check puts JupyterLab in a child of the runner cgroup)', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(24 * GIB),
      'proc/self/cgroup': '4:memory:/process_api/79de/binder-check\n',
      'proc/self/mountinfo':
        ROOT_MOUNT + v1Mount('/', '/sys/fs/cgroup/memory', 'memory'),
      'sys/fs/cgroup/memory/process_api/79de/binder-check/memory.limit_in_bytes': `${GIB}\n`,
      'sys/fs/cgroup/memory/process_api/79de/memory.limit_in_bytes':
        '9223372036854771712\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n'
    });
    expect(readMemoryCeiling(root)?.bytes).toBe(GIB);
  });

  it('is MemTotal when no cgroup limits memory ("max", v1 unlimited, missing files)', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(1536 * MIB),
      'proc/self/cgroup': '4:memory:/a\n0::/b/c\n',
      'proc/self/mountinfo':
        ROOT_MOUNT +
        CGROUP2_MOUNT +
        v1Mount('/', '/sys/fs/cgroup/memory', 'memory'),
      'sys/fs/cgroup/b/c/memory.max': 'max\n',
      'sys/fs/cgroup/memory/a/memory.limit_in_bytes': '9223372036854771712\n'
    });
    expect(readMemoryCeiling(root)).toEqual({
      bytes: 1536 * MIB,
      source: 'MemTotal'
    });
  });

  it('ignores values that are not a byte count, and cgroup paths that climb out of the mount', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(4 * GIB),
      // a cgroup namespace shows cgroups outside it with `..`: only the mount's root is ours
      'proc/self/cgroup': '0::/../../elsewhere\n',
      'proc/self/mountinfo': CGROUP2_MOUNT,
      'sys/fs/cgroup/memory.max': `${3 * GIB}\n`,
      'elsewhere/memory.max': '1\n'
    });
    expect(readMemoryCeiling(root)?.bytes).toBe(3 * GIB);
    for (const bad of ['-1', '0', '12abc', '1e9', '', '\0\0', '9'.repeat(40)]) {
      writeFileSync(join(root, 'sys/fs/cgroup/memory.max'), bad);
      expect(readMemoryCeiling(root)).toEqual({
        bytes: 4 * GIB,
        source: 'MemTotal'
      });
    }
  });

  it('unescapes mount points with spaces', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(4 * GIB),
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo':
        '35 24 0:30 / /odd\\040place rw - cgroup2 cgroup2 rw\n',
      'odd place/memory.max': `${GIB}\n`
    });
    expect(readMemoryCeiling(root)?.source).toBe('/odd place/memory.max');
  });

  it('reads another process by pid, and is null when nothing is readable', () => {
    const root = fakeRoot({
      'proc/meminfo': meminfo(2 * GIB),
      'proc/42/cgroup': '0::/x\n',
      'proc/42/mountinfo': CGROUP2_MOUNT,
      'sys/fs/cgroup/x/memory.max': `${512 * MIB}\n`
    });
    expect(readMemoryCeiling(root, 42)?.bytes).toBe(512 * MIB);
    expect(readMemoryCeiling(root)?.source).toBe('MemTotal');
    expect(readMemoryCeiling(fakeRoot({}))).toBeNull();
  });

  it('on this machine, is at most MemTotal', () => {
    const total =
      Number(
        /^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]
      ) * 1024;
    const ceiling = readMemoryCeiling();
    expect(ceiling).not.toBeNull();
    expect(ceiling!.bytes).toBeLessThanOrEqual(total);
    expect(ceiling!.bytes).toBeGreaterThan(0);
  });
});

describe('defaultMemoryMiB', () => {
  it.each([
    [1 * GIB, 512],
    [2 * GIB, 1024],
    [3000 * MIB, 1472],
    [4 * GIB, 2048],
    [64 * GIB, 2048],
    [600 * MIB, 256],
    [100 * MIB, 256]
  ])('leaves half of %d bytes for the rest: %d MiB', (bytes, mib) => {
    expect(defaultMemoryMiB(bytes)).toBe(mib);
  });

  it('keeps the fixed default when the memory is unknown', () => {
    expect(defaultMemoryMiB(null)).toBe(DEFAULT_LIMITS.memoryMiB);
  });
});

describe('the run defaults', () => {
  const model: PackageModel = {
    format: 2,
    container: 'v2-tar',
    sha256: 'ab'.repeat(32),
    size: 1000,
    configVersion: '0.8',
    packId: null,
    runs: [
      {
        id: 'run0',
        argv: ['python3', 'big.py'],
        binary: '/usr/bin/python3',
        environ: { PATH: '/usr/bin:/bin' },
        workingdir: '/exp',
        uid: 1000,
        gid: 1000,
        exitcode: 0,
        signal: null,
        architecture: 'x86_64',
        distribution: { name: 'debian', version: '12' },
        hostname: 'h',
        system: null
      }
    ],
    files: [],
    packages: [],
    otherFiles: [],
    data: { compressedSize: 10, listedPaths: 3 },
    trace: { status: 'absent' },
    extensions: [],
    warnings: []
  };

  it("fill the limits a plan leaves out; the user's own limits win", () => {
    const defaults = defaultLimitsFor({ bytes: GIB, source: 'test' });
    expect(defaults).toEqual({ ...DEFAULT_LIMITS, memoryMiB: 512 });
    expect(planRun(model, {}, defaults).limits.memoryMiB).toBe(512);
    expect(
      planRun(model, { limits: { memoryMiB: 3000 } }, defaults).limits
    ).toEqual({ ...defaults, memoryMiB: 3000 });
  });

  it("are this machine's, and the same on every call", () => {
    expect(runDefaults()).toEqual(defaultLimitsFor(readMemoryCeiling()));
    expect(runDefaults()).toBe(runDefaults());
  });
});
