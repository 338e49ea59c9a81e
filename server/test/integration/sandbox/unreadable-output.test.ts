/**
 * A file of a run's tree that the server may not read (another user's, kept to itself): a server
 * that is not root says so for the output, rather than calling it "not a regular file" or failing
 * the run. The real compiled module, in a process of another user.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requireRoot } from '../../helpers/requires-root';

const RUN_TREE = resolve(
  __dirname,
  '../../../dist/backends/sandbox/run-tree.js'
);
// The user make-examples.sh traces non-root runs as.
const OTHER = { uid: 1001, gid: 1001 };

let root: string;

beforeAll(() => {
  requireRoot("Another user's files");
  root = mkdtempSync(join(tmpdir(), 'reproserver-unreadable-'));
  chmodSync(root, 0o755);
  writeFileSync(join(root, 'private.txt'), 'kept\n', { mode: 0o600 });
  writeFileSync(join(root, 'closed.txt'), 'kept\n', { mode: 0o000 });
  writeFileSync(join(root, 'open.txt'), 'shared\n', { mode: 0o644 });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

it('tells a file the server may not read from one that is not a file', () => {
  const script = `
    const { openRegularFile } = require(${JSON.stringify(RUN_TREE)});
    (async () => {
      const said = {};
      for (const name of ['private.txt', 'closed.txt', 'open.txt', 'absent.txt']) {
        const opened = await openRegularFile(${JSON.stringify(root)}, '/' + name);
        said[name] = typeof opened === 'string' ? opened : 'opened';
        if (typeof opened !== 'string') await opened.file.close();
      }
      process.stdout.write(JSON.stringify(said));
    })();`;
  const child = spawnSync(process.execPath, ['-e', script], {
    ...OTHER,
    encoding: 'utf8'
  });
  expect(child.stderr).toBe('');
  expect(JSON.parse(child.stdout)).toEqual({
    'private.txt': 'unreadable',
    'closed.txt': 'unreadable',
    'open.txt': 'opened',
    'absent.txt': 'missing'
  });
});
