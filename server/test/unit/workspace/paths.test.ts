import {
  mkdirSync,
  mkdtempSync,
  symlinkSync,
  writeFileSync,
  existsSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkRelativePath,
  ensureFolder,
  resolveExisting,
  toWorkspacePath
} from '../../../src/workspace/paths';
import { errorAnswer } from '../../../src/api/errors';

/**
 * What the API answers when `call` throws: the workspace layer throws domain errors with codes,
 * and their HTTP status comes from the API edge's table.
 */
async function answerOf(
  call: () => unknown
): Promise<{ status: number; code: string; message: string }> {
  try {
    await call();
  } catch (error) {
    const { status, body } = errorAnswer(error);
    return { status, ...body.error };
  }
  throw new Error('The call did not throw.');
}

function workspace(): { root: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), 'reproserver-ws-'));
  const root = join(base, 'ws');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'data'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'data', 'x.rpz'), 'x');
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'secret-link'));
  symlinkSync(join(root, 'data'), join(root, 'data-link'));
  return { root, outside };
}

describe('checkRelativePath', () => {
  it.each([
    ['a/b.rpz', 'a/b.rpz'],
    ['./a//b/', 'a/b'],
    ['.', '.']
  ])('accepts %s', (path, normalized) => {
    expect(checkRelativePath(path)).toBe(normalized);
  });

  it.each([
    ['', 'The path is empty.'],
    [
      '/etc/passwd',
      'The path "/etc/passwd" must be relative to the workspace.'
    ],
    ['../x', 'The path "../x" leaves the workspace.'],
    ['a/../../x', 'The path "a/../../x" leaves the workspace.'],
    ['a/../b', 'The path "a/../b" leaves the workspace.'],
    ['a\0b', 'The path contains a NUL character.'],
    ['a'.repeat(5000), 'The path is longer than 4096 characters.']
  ])('refuses %j', async (path, message) => {
    expect(await answerOf(() => checkRelativePath(path))).toEqual({
      status: 400,
      code: 'bad-path',
      message
    });
  });
});

describe('resolveExisting', () => {
  it('finds files inside the workspace, through links that stay inside', async () => {
    const { root } = workspace();
    const real = await resolveExisting(root, 'data-link/x.rpz');
    expect(await toWorkspacePath(root, real)).toBe('data/x.rpz');
  });

  it.each([['escape/secret.txt'], ['secret-link']])(
    'refuses %s, which a symlink leads out',
    async path => {
      const { root } = workspace();
      expect(await answerOf(() => resolveExisting(root, path))).toMatchObject({
        status: 403,
        code: 'outside-workspace'
      });
    }
  );

  it('says when the file does not exist', async () => {
    const { root } = workspace();
    expect(
      await answerOf(() => resolveExisting(root, 'nope.rpz', 'package'))
    ).toMatchObject({
      status: 404,
      message: 'The package "nope.rpz" does not exist in the workspace.'
    });
  });
});

describe('ensureFolder', () => {
  it('creates nested folders inside the workspace', async () => {
    const { root } = workspace();
    const real = await ensureFolder(root, 'x.runs/abc');
    expect(existsSync(real)).toBe(true);
    expect(await toWorkspacePath(root, real)).toBe('x.runs/abc');
  });

  it('never creates anything through a symlink that leads out', async () => {
    const { root, outside } = workspace();
    expect(
      await answerOf(() => ensureFolder(root, 'escape/new'))
    ).toMatchObject({
      status: 403
    });
    expect(existsSync(join(outside, 'new'))).toBe(false);
  });

  it('refuses a file in the way', async () => {
    const { root } = workspace();
    expect(
      await answerOf(() => ensureFolder(root, 'data/x.rpz/sub'))
    ).toMatchObject({
      status: 409
    });
  });
});
