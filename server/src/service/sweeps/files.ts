/**
 * The files an input axis names: a glob, a folder (its files), or one file, resolved once when
 * the sweep is created into a sorted list. The one resolver of the API (workspace-relative
 * names, every match through the workspace's path checks, so neither `..` nor a symlink leads
 * outside) and of the CLI (files of the user's own machine, absolute, from its working folder).
 */
import { glob, readdir, stat } from 'node:fs/promises';
import { posix, resolve, sep } from 'node:path';
import { DomainError } from '../../errors';
import { SWEEP_BOUNDS } from '../../sweeps/bounds';
import { checkRelativePath, resolveExisting } from '../../workspace/paths';

const GLOB_CHARACTERS = /[*?[\]{}]/;

/** Whether a name is a glob pattern rather than a file or a folder. */
export const isGlob = (name: string): boolean => GLOB_CHARACTERS.test(name);

/** Where names are resolved, and what they resolve to. */
interface FileSpace {
  /** The checked name of the glob or folder (refuses one leaving the space). */
  clean(pattern: string): string;
  /** The real path to read a name at; refuses one leading outside the space. */
  real(name: string, what: string): Promise<string>;
  /** The folder globs are matched from. */
  root(): Promise<string>;
  /** `name` inside `folder`, as answered. */
  join(folder: string, name: string): string;
  /** What a glob's match (relative to the root, or absolute) is answered as. */
  match(path: string): string;
}

/** The workspace's files, by workspace-relative name (the API's). */
function workspaceSpace(workspace: string): FileSpace {
  return {
    clean: pattern => checkRelativePath(pattern, 'input glob'),
    real: (name, what) => resolveExisting(workspace, name, what),
    root: () => resolveExisting(workspace, '.', 'workspace'),
    join: (folder, name) => (folder === '.' ? name : posix.join(folder, name)),
    match: path => path.split(sep).join('/')
  };
}

/** This machine's files, by absolute path, relative ones from `cwd` (the CLI's). */
function hostSpace(cwd: string): FileSpace {
  return {
    clean: pattern => pattern,
    real: async name => resolve(cwd, name),
    root: async () => cwd,
    join: (folder, name) => resolve(cwd, folder, name),
    match: path => resolve(cwd, path)
  };
}

/**
 * The files a glob or a folder names, sorted; a file names itself. `workspace`: names in the
 * workspace, checked; `host`: paths of this machine, answered absolute.
 */
export async function resolveFiles(
  pattern: string,
  where: { workspace: string } | { host: string }
): Promise<string[]> {
  const space =
    'workspace' in where
      ? workspaceSpace(where.workspace)
      : hostSpace(where.host);
  const clean = space.clean(pattern);
  let candidates: string[];
  if (!isGlob(clean)) {
    const real = await space.real(clean, 'input folder');
    const info = await stat(real).catch(() => undefined);
    if (!info?.isDirectory()) {
      candidates = [space.join('.', clean)];
    } else {
      candidates = (await readdir(real)).map(name => space.join(clean, name));
    }
  } else {
    candidates = [];
    for await (const match of glob(clean, { cwd: await space.root() })) {
      candidates.push(space.match(match));
      if (candidates.length > SWEEP_BOUNDS.valuesPerAxis * 2) {
        break;
      }
    }
  }
  const files: string[] = [];
  for (const candidate of candidates) {
    const real = await space.real(candidate, 'input file');
    if ((await stat(real).catch(() => undefined))?.isFile()) {
      files.push(candidate);
    }
    if (files.length > SWEEP_BOUNDS.valuesPerAxis) {
      throw new DomainError(
        'sweep-too-large',
        `"${pattern}" names more than ${SWEEP_BOUNDS.valuesPerAxis} files; name fewer.`
      );
    }
  }
  if (files.length === 0) {
    throw new DomainError(
      'bad-sweep',
      `"${pattern}" names no file${'workspace' in where ? ' in the workspace' : ''}; check the folder or the pattern.`
    );
  }
  return files.sort();
}
