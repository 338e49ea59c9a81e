/**
 * The holder of a bubblewrap run's namespaces (`namespace-holder.ts`, the helper's `hold`), on
 * this host's kernel: what it holds, what it forbids, what it says when it cannot, and that it
 * never outlives the server's spawner.
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperPath } from '../../../src/backends/docker/helper-path';
import {
  findIdMapping,
  UserNamespace,
  type IdMapping
} from '../../../src/backends/sandbox/identity';
import { NamespaceHolder } from '../../../src/backends/sandbox/namespace-holder';
import { OverlayTree } from '../../../src/backends/sandbox/overlay';
import { parentOf, processesWhere, running } from '../../helpers/processes';

jest.setTimeout(60_000);

const NSENTER = '/usr/bin/nsenter';
let folder: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'reproserver-holder-'));
});

afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

async function layers(): Promise<
  Awaited<ReturnType<typeof OverlayTree.layers>>
> {
  mkdirSync(join(folder, 'lower'));
  writeFileSync(join(folder, 'lower', 'recorded.txt'), 'from the package\n');
  return OverlayTree.layers(join(folder, 'lower'), join(folder, 'run'));
}

/** Runs `argv` in the holder's namespaces; its status and output. */
function inside(
  enter: string[],
  argv: string[]
): { status: number | null; out: string } {
  const result = spawnSync(enter[0], [...enter.slice(1), ...argv], {
    encoding: 'utf8'
  });
  return { status: result.status, out: result.stdout + result.stderr };
}

describe('the namespace holder', () => {
  it('mounts the overlay in a namespace of its own: writes go to the upper layer only', async () => {
    const overlay = await OverlayTree.start(await layers(), {
      nsenter: NSENTER,
      helper: helperPath()
    });
    try {
      expect(readFileSync(join(overlay.root, 'recorded.txt'), 'utf8')).toBe(
        'from the package\n'
      );
      const wrote = inside(overlay.enter(), [
        '/bin/sh',
        '-c',
        `echo changed > ${overlay.merged}/recorded.txt && id -u`
      ]);
      expect(wrote).toEqual({ status: 0, out: '0\n' });
      expect(readFileSync(join(folder, 'lower', 'recorded.txt'), 'utf8')).toBe(
        'from the package\n'
      );
      expect(readFileSync(join(overlay.upper, 'recorded.txt'), 'utf8')).toBe(
        'changed\n'
      );
    } finally {
      await overlay.stop();
    }
  });

  it('maps a range of ids and forbids nested user namespaces in it', async () => {
    const mapping = (await findIdMapping()) as IdMapping;
    expect(typeof mapping).toBe('object');
    const ns = await UserNamespace.start(mapping, [0, 0], helperPath());
    try {
      const maps = readFileSync(`/proc/${ns.holder.pid}/uid_map`, 'utf8');
      expect(maps.trim().split('\n').length).toBeGreaterThan(1);
      const nested = inside(ns.enter(), [
        '/usr/bin/unshare',
        '--user',
        '/bin/true'
      ]);
      expect(nested.status).not.toBe(0);
      expect(
        inside(ns.enter(), ['/bin/cat', '/proc/sys/user/max_user_namespaces'])
          .out
      ).toBe('0\n');
    } finally {
      await ns.stop();
    }
    expect(running(ns.holder.pid)).toBe(false);
  });

  it('says what it could not do, and leaves nothing running', async () => {
    const missing = {
      ...(await layers()),
      lower: join(folder, 'no-such-folder')
    };
    await expect(
      OverlayTree.start(missing, { nsenter: NSENTER, helper: helperPath() })
    ).rejects.toThrow(
      "Cannot mount the run's overlay: rpz-exec hold: mounting the overlay: No such file or directory"
    );
    await expect(
      NamespaceHolder.start({
        helper: helperPath(),
        nsenter: NSENTER,
        writeMaps: () => Promise.reject(new Error('no maps today'))
      })
    ).rejects.toThrow('no maps today');
    expect(holders()).toEqual([]);
  });

  it('dies with the spawner that started it', async () => {
    const holder = await NamespaceHolder.start({
      helper: helperPath(),
      nsenter: NSENTER
    });
    const spawner = parentOf(holder.pid);
    expect(readFileSync(`/proc/${spawner}/cmdline`, 'utf8')).toContain(
      'spawner-process'
    );
    process.kill(spawner, 'SIGKILL');
    for (let i = 0; i < 100 && running(holder.pid); i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    expect(running(holder.pid)).toBe(false);
  });
});

/**
 * The holders this test's spawners started that still run (their command line is this helper's
 * `hold`, and their parent is a child of this process): not those of other tests' servers.
 */
function holders(): number[] {
  return processesWhere(cmdline =>
    cmdline.startsWith(`${helperPath()}\0hold`)
  ).filter(pid => {
    try {
      return parentOf(parentOf(pid)) === process.pid;
    } catch {
      return false; // gone meanwhile
    }
  });
}
