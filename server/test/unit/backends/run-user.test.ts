import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  DEFAULT_SANDBOX_RUNS_DIR,
  DEFAULT_SANDBOX_UID,
  SANDBOX_UID_COUNT,
  dropPrivilegesArgv,
  handOver,
  needsRunUser,
  processesOf,
  removeStaleRunFolders,
  sandboxRunsDir,
  sandboxUidBase,
  takeRunUser
} from '../../../src/backends/sandbox/run-user';
import { requireRoot } from '../../helpers/requires-root';

const asRoot = process.getuid?.() === 0;

describe("a proot run's own user", () => {
  it('is needed for proot under root only', () => {
    expect(needsRunUser('proot')).toBe(asRoot);
    expect(needsRunUser('bwrap')).toBe(false);
    expect(needsRunUser(null)).toBe(false);
  });

  it('takes its ids from REPROSERVER_SANDBOX_UID, checked', () => {
    expect(sandboxUidBase({})).toBe(DEFAULT_SANDBOX_UID);
    expect(sandboxUidBase({ REPROSERVER_SANDBOX_UID: '' })).toBe(
      DEFAULT_SANDBOX_UID
    );
    expect(sandboxUidBase({ REPROSERVER_SANDBOX_UID: '500000' })).toBe(500000);
    for (const bad of ['0', '999', '-5', '1e9', 'nobody', '4294967000']) {
      expect(sandboxUidBase({ REPROSERVER_SANDBOX_UID: bad })).toEqual(
        expect.objectContaining({
          message: expect.stringContaining('REPROSERVER_SANDBOX_UID')
        })
      );
    }
    // The default range stays below 2^31: some programs read ids as signed numbers.
    expect(DEFAULT_SANDBOX_UID + SANDBOX_UID_COUNT).toBeLessThan(2 ** 31);
    expect(sandboxRunsDir({})).toBe(DEFAULT_SANDBOX_RUNS_DIR);
    expect(sandboxRunsDir({ REPROSERVER_SANDBOX_RUNS_DIR: '/srv/runs' })).toBe(
      '/srv/runs'
    );
  });

  it('drops groups, capabilities (bounding set too) and new privileges', () => {
    expect(dropPrivilegesArgv('/usr/bin/setpriv', { uid: 7, gid: 8 })).toEqual([
      '/usr/bin/setpriv',
      '--reuid=7',
      '--regid=8',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--'
    ]);
  });

  it('is a different id for each running run, held by its folder; released, its processes end', async () => {
    // Its processes are another user's: only root starts them (the test command runs as root).
    requireRoot('ending a run user’s processes');
    const runsDir = mkdtempSync(join(tmpdir(), 'reproserver-run-users-'));
    const first = await takeRunUser(DEFAULT_SANDBOX_UID, runsDir);
    const second = await takeRunUser(DEFAULT_SANDBOX_UID, runsDir);
    expect(first.uid).not.toBe(second.uid);
    expect(readdirSync(runsDir).sort()).toEqual(
      [`reproserver-run-${first.uid}`, `reproserver-run-${second.uid}`].sort()
    );
    for (const user of [first, second]) {
      expect(user.folder).toBe(join(runsDir, `reproserver-run-${user.uid}`));
      expect(statSync(user.folder).mode & 0o777).toBe(0o700);
      expect(user.gid).toBe(user.uid);
      expect(user.uid).toBeGreaterThanOrEqual(DEFAULT_SANDBOX_UID);
      expect(user.uid).toBeLessThan(DEFAULT_SANDBOX_UID + SANDBOX_UID_COUNT);
    }
    const child = spawn('sleep', ['60'], {
      uid: first.uid,
      gid: first.gid,
      stdio: 'ignore'
    });
    const exited = new Promise(resolve => child.once('exit', resolve));
    await new Promise(resolve => child.once('spawn', resolve));
    expect(await processesOf(first.uid)).toEqual([child.pid]);
    await first.release();
    expect(await exited).not.toBeUndefined();
    expect(await processesOf(first.uid)).toEqual([]);
    await second.release();
    expect(readdirSync(runsDir)).toEqual([]);
    rmSync(runsDir, { recursive: true });
  });

  // Only a root server has runs' folders (and only root's are ever removed).
  it("removes the folders of holders that died, and never one that is not root's", async () => {
    requireRoot('A root server’s runs’ folders');
    const runsDir = mkdtempSync(join(tmpdir(), 'reproserver-run-users-'));
    const dead = spawnSync('true').pid!;
    const stale = join(runsDir, `reproserver-run-${DEFAULT_SANDBOX_UID + 5}`);
    mkdirSync(join(stale, 'root'), { recursive: true });
    writeFileSync(join(stale, 'holder-pid'), `${dead}\n`);
    const held = join(runsDir, `reproserver-run-${DEFAULT_SANDBOX_UID + 6}`);
    mkdirSync(held);
    writeFileSync(join(held, 'holder-pid'), `${process.ppid}\n`);
    const outOfRange = join(
      runsDir,
      `reproserver-run-${DEFAULT_SANDBOX_UID - 1}`
    );
    mkdirSync(outOfRange);
    writeFileSync(join(outOfRange, 'holder-pid'), `${dead}\n`);
    const foreign = join(runsDir, `reproserver-run-${DEFAULT_SANDBOX_UID + 7}`);
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'holder-pid'), `${dead}\n`);
    // Made by someone else who may write to the runs' folder: never removed as root.
    chownSync(foreign, 4242, 4242);
    await removeStaleRunFolders(DEFAULT_SANDBOX_UID, runsDir);
    expect(readdirSync(runsDir).sort()).toEqual(
      [held, outOfRange, foreign].map(path => basename(path)).sort()
    );
    rmSync(runsDir, { recursive: true });
  });
});

describe('handing a fresh copy over', () => {
  let dir: string;
  beforeEach(() => {
    requireRoot('Handing a copy over to another user');
    dir = mkdtempSync(join(tmpdir(), 'reproserver-hand-over-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives every entry to the id, keeps modes, setuid bits included, and follows no link', () => {
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'not the run');
    const root = join(dir, 'root');
    mkdirSync(join(root, 'closed', 'inner'), { recursive: true });
    writeFileSync(join(root, 'closed', 'inner', 'secret'), 'x', {
      mode: 0o600
    });
    chmodSync(join(root, 'closed'), 0o700);
    writeFileSync(join(root, 'tool'), '#!/bin/sh\n');
    chmodSync(join(root, 'tool'), 0o4755);
    writeFileSync(join(root, 'shared'), '');
    chmodSync(join(root, 'shared'), 0o2750);
    linkSync(join(root, 'tool'), join(root, 'tool-link'));
    symlinkSync(outside, join(root, 'escape'));
    const ids = { uid: DEFAULT_SANDBOX_UID + 3, gid: DEFAULT_SANDBOX_UID + 4 };
    return handOver(root, ids).then(() => {
      for (const path of [
        '',
        'closed',
        'closed/inner',
        'closed/inner/secret',
        'tool',
        'tool-link',
        'shared',
        'escape'
      ]) {
        const info = lstatSync(join(root, path));
        expect({ path, uid: info.uid, gid: info.gid }).toEqual({
          path,
          ...ids
        });
      }
      expect(statSync(join(root, 'tool')).mode & 0o7777).toBe(0o4755);
      expect(statSync(join(root, 'shared')).mode & 0o7777).toBe(0o2750);
      expect(statSync(join(root, 'closed')).mode & 0o7777).toBe(0o700);
      expect(statSync(join(root, 'closed/inner/secret')).mode & 0o7777).toBe(
        0o600
      );
      expect(lstatSync(outside).uid).toBe(0);
    });
  });
});
