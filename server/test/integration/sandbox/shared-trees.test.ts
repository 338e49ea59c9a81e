/**
 * A class unpacks nothing: `reproserver prepare DIR --trees FOLDER`, run by an administrator
 * (root), unpacks each package once into a folder every user can read, setuid bits removed; a
 * second server, under another user, with `REPROSERVER_SHARED_TREES=FOLDER` mounted read-only,
 * runs the package on that tree and unpacks nothing of its own. Shared trees on a writable mount
 * are not trusted: the server unpacks its own copy instead.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackageSummary, RunRecord } from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import {
  CLI,
  startServer,
  type RunningServer
} from '../../helpers/server-process';

jest.setTimeout(180_000);

// The user make-examples.sh traces non-root runs as; it has an /etc/subuid range here.
const user = example('user-files').manifest.package.runs[0];

/** Every entry under `root` (links not followed), with its mode. */
function modes(root: string): { path: string; mode: number; dir: boolean }[] {
  const found: { path: string; mode: number; dir: boolean }[] = [];
  for (const name of readdirSync(root, { recursive: true }).map(String)) {
    const facts = lstatSync(join(root, name), { throwIfNoEntry: false });
    if (facts && !facts.isSymbolicLink()) {
      found.push({ path: name, mode: facts.mode, dir: facts.isDirectory() });
    }
  }
  return found;
}

describe('shared trees prepared once for a class', () => {
  let folder: string;
  let trees: string;
  let sha256: string;

  beforeAll(() => {
    expect(process.getuid?.()).toBe(0); // the administrator; the test command runs as root
    folder = mkdtempSync(join(tmpdir(), 'reproserver-shared-'));
    chmodSync(folder, 0o755);
    const course = join(folder, 'course');
    mkdirSync(join(course, 'week1'), { recursive: true });
    copyFileSync(
      example('shell-pipeline').rpz,
      join(course, 'week1', 'shell-pipeline.rpz')
    );
    trees = join(folder, 'trees');
    const prepared = spawnSync(
      process.execPath,
      [
        CLI,
        'prepare',
        course,
        '--trees',
        trees,
        '--state',
        join(folder, 'admin-state')
      ],
      { encoding: 'utf8' }
    );
    expect(prepared.stderr).toContain('Preparing 1 package');
    expect(prepared.status).toBe(0);
    const line = prepared.stdout.trim();
    expect(line).toMatch(
      /^week1\/shell-pipeline\.rpz {2}[0-9a-f]{12} {2}tree unpacked/
    );
    [sha256] = readdirSync(trees);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('gives everyone the owner’s permissions, without setuid or setgid bits', () => {
    const entries = modes(join(trees, sha256, 'root'));
    expect(entries.length).toBeGreaterThan(10);
    for (const { path, mode } of entries) {
      const owner = (mode >> 6) & 0o7;
      expect({ path, mode: mode & 0o7777 }).toEqual({
        path,
        mode: (mode & 0o1000) | (owner << 6) | (owner << 3) | owner
      });
    }
    expect(statSync(join(trees, sha256)).mode & 0o777).toBe(0o755);
  });

  it('says the tree is there when prepared again', () => {
    const again = spawnSync(
      process.execPath,
      [
        CLI,
        'prepare',
        join(folder, 'course'),
        '--trees',
        trees,
        '--state',
        join(folder, 'admin-state')
      ],
      { encoding: 'utf8' }
    );
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('tree already there');
  });

  async function runAsUser(sharedTrees: string): Promise<{
    run: RunRecord;
    ownTrees: string[];
  }> {
    const home = mkdtempSync(join(folder, 'user-'));
    const workspace = join(home, 'workspace');
    const state = join(home, 'state');
    mkdirSync(workspace);
    mkdirSync(state);
    copyFileSync(
      example('shell-pipeline').rpz,
      join(workspace, 'shell-pipeline.rpz')
    );
    for (const path of [
      home,
      workspace,
      state,
      join(workspace, 'shell-pipeline.rpz')
    ]) {
      chownSync(path, user.uid, user.gid);
    }
    let server: RunningServer | undefined;
    try {
      server = await startServer(
        {
          REPROSERVER_WORKSPACE: workspace,
          REPROSERVER_SHARED_TREES: sharedTrees,
          REPROSERVER_WEAK_ISOLATION: 'ask',
          HOME: state
        },
        { stateDir: state, user: { uid: user.uid, gid: user.gid } }
      );
      const api = new ApiClient(server);
      const pkg = await api.call<PackageSummary>('POST', '/api/packages', {
        path: 'shell-pipeline.rpz'
      });
      expect(pkg.body.sha256).toBe(sha256);
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: sha256,
        backend: 'sandbox',
        acceptWeakIsolation: true
      });
      expect(created.status).toBe(202);
      const run = await api.waitForEnd(created.body.id);
      if (run.status !== 'succeeded') {
        // The run's log says why: shown with the failed expectation.
        const events = await api.call('GET', `/api/runs/${run.id}/events`);
        console.error(events.text);
      }
      const own = join(state, 'sandbox', 'rootfs');
      return {
        run,
        ownTrees: existsSync(own)
          ? readdirSync(own).filter(name => !name.startsWith('.'))
          : []
      };
    } finally {
      await server?.stop();
    }
  }

  it('runs a student’s package on the shared tree, mounted read-only, unpacking nothing', async () => {
    const mounted = join(folder, 'mounted-trees');
    mkdirSync(mounted);
    const mount = (...args: string[]) =>
      expect(spawnSync('mount', args, { encoding: 'utf8' }).stderr).toBe('');
    mount('--bind', trees, mounted);
    try {
      mount('-o', 'remount,bind,ro', mounted);
      const { run, ownTrees } = await runAsUser(mounted);
      expect(run.status).toBe('succeeded');
      expect(ownTrees).toEqual([]);
    } finally {
      spawnSync('umount', [mounted]);
    }
  });

  it('does not trust shared trees on a writable mount: the server unpacks its own', async () => {
    const { run, ownTrees } = await runAsUser(trees);
    expect(run.status).toBe('succeeded');
    expect(ownTrees).toEqual([sha256]);
  });
});
