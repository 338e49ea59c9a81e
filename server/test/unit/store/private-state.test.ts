import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openStore } from '../../../src/store';
import {
  StateDirError,
  preparePrivateStateDir
} from '../../../src/store/private-state';
import { requireRoot } from '../../helpers/requires-root';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

function freshParent(): string {
  const parent = mkdtempSync(join(tmpdir(), 'reproserver-state-'));
  // The parent is readable by anyone, as a home folder often is: privacy must not rely on it.
  chmodSync(parent, 0o755);
  return parent;
}

/** Every path under `root`, folders included. */
function walk(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).map(name =>
    join(root, name)
  );
}

describe('the private state folder', () => {
  it('is created with mode 0700, with its missing parents', () => {
    const state = join(freshParent(), 'a', 'b', 'state');
    preparePrivateStateDir(state);
    expect(modeOf(state)).toBe(0o700);
    expect(modeOf(join(state, '..'))).toBe(0o700);
  });

  it('is closed again when an earlier version left it open', () => {
    const state = join(freshParent(), 'state');
    mkdirSync(state, { mode: 0o755 });
    chmodSync(state, 0o755);
    preparePrivateStateDir(state);
    expect(modeOf(state)).toBe(0o700);
  });

  it('is refused when it is a link or a file', () => {
    const parent = freshParent();
    mkdirSync(join(parent, 'elsewhere'));
    symlinkSync(join(parent, 'elsewhere'), join(parent, 'link'));
    expect(() => preparePrivateStateDir(join(parent, 'link'))).toThrow(
      /is not a folder \(it is a symbolic link\)/
    );
    writeFileSync(join(parent, 'file'), '');
    expect(() => preparePrivateStateDir(join(parent, 'file'))).toThrow(
      StateDirError
    );
  });

  it('is refused when another user owns it', () => {
    requireRoot('Giving a folder to another user');
    const state = join(freshParent(), 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, 65534, 65534);
    expect(() => preparePrivateStateDir(state)).toThrow(
      /belongs to user 65534, not to this user \(0\)/
    );
  });

  it('holds records, logs and blobs that only its user can read', async () => {
    const state = join(freshParent(), 'state');
    const store = openStore(state);
    const { sha256 } = await store.blobs.put(
      Readable.from([Buffer.from('an input file')])
    );
    await store.logs.append('run-1', {
      type: 'status',
      status: 'running',
      time: 0
    });
    await store.close();

    expect(modeOf(state)).toBe(0o700);
    expect(modeOf(join(state, 'records.sqlite'))).toBe(0o600);
    for (const path of walk(state)) {
      const mode = modeOf(path);
      // Nothing in the folder grants anything to the group or to others.
      expect({ path, others: mode & 0o077 }).toEqual({ path, others: 0 });
    }
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);

    {
      // Another local user: not even the listing of the folder.
      const probe = spawnSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'cat',
          join(state, 'records.sqlite')
        ],
        { encoding: 'utf8' }
      );
      expect(probe.status).not.toBe(0);
      expect(probe.stderr).toMatch(/Permission denied/);
    }
  });
});
