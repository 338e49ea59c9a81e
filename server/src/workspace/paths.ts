/**
 * The user's workspace is the only part of the host the API reads from or writes to. Paths come
 * from the browser, so each is checked: relative, no `..`, and — after following symlinks — still
 * inside the workspace root.
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import { DomainError } from '../errors';

const MAX_PATH_LENGTH = 4096;

/** Checks the form of a workspace-relative path and returns it normalized. */
export function checkRelativePath(path: string, what = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new DomainError('bad-path', `The ${what} is empty.`);
  }
  if (path.length > MAX_PATH_LENGTH) {
    throw new DomainError(
      'bad-path',
      `The ${what} is longer than ${MAX_PATH_LENGTH} characters.`
    );
  }
  if (path.includes('\0')) {
    throw new DomainError('bad-path', `The ${what} contains a NUL character.`);
  }
  if (isAbsolute(path) || path.startsWith('\\')) {
    throw new DomainError(
      'bad-path',
      `The ${what} "${path}" must be relative to the workspace.`
    );
  }
  const normalized = posix
    .normalize(path.replace(/\\/g, '/'))
    .replace(/\/+$/, '');
  if (
    normalized === '..' ||
    normalized.startsWith('../') ||
    path.split(/[\\/]/).includes('..')
  ) {
    throw new DomainError(
      'bad-path',
      `The ${what} "${path}" leaves the workspace.`
    );
  }
  return normalized === '' ? '.' : normalized;
}

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return (
    rel === '' ||
    (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel))
  );
}

/**
 * The real path of an existing workspace file or folder; refuses anything a symlink leads out of
 * the workspace.
 */
export async function resolveExisting(
  root: string,
  path: string,
  what = 'path'
): Promise<string> {
  const clean = checkRelativePath(path, what);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(realRoot, clean));
  } catch {
    throw new DomainError(
      'not-found',
      `The ${what} "${path}" does not exist in the workspace.`
    );
  }
  if (!inside(realRoot, real)) {
    throw new DomainError(
      'outside-workspace',
      `The ${what} "${path}" leads outside the workspace.`
    );
  }
  return real;
}

/**
 * Creates a workspace folder (and its parents) and returns its real path. Every existing
 * component must be a real directory inside the workspace: a symlink is never followed out.
 */
export async function ensureFolder(
  root: string,
  path: string,
  what = 'folder'
): Promise<string> {
  const clean = checkRelativePath(path, what);
  const realRoot = await realpath(root);
  let current = realRoot;
  for (const part of clean === '.' ? [] : clean.split('/')) {
    current = join(current, part);
    let info;
    try {
      info = await lstat(current);
    } catch {
      await mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') {
          throw error;
        }
      });
      info = await lstat(current);
    }
    if (info.isSymbolicLink()) {
      const target = await realpath(current);
      if (!inside(realRoot, target)) {
        throw new DomainError(
          'outside-workspace',
          `The ${what} "${path}" leads outside the workspace.`
        );
      }
      current = target;
      info = await lstat(current);
    }
    if (!info.isDirectory()) {
      throw new DomainError(
        'not-a-folder',
        `"${path}" exists in the workspace and is not a folder.`
      );
    }
  }
  return current;
}

/** The workspace-relative form of a real path inside the workspace, with forward slashes. */
export async function toWorkspacePath(
  root: string,
  real: string
): Promise<string> {
  return relative(await realpath(root), real)
    .split(sep)
    .join('/');
}
