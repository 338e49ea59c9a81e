/**
 * The files of an input axis given as a glob or a folder of the workspace: resolved once, when
 * the sweep is created, into the sorted list of workspace files it names. Every match goes
 * through the workspace's path checks, so neither `..` nor a symlink leads outside.
 */
import { glob, readdir, stat } from 'node:fs/promises';
import { posix, sep } from 'node:path';
import { DomainError } from '../../errors';
import { SWEEP_BOUNDS } from '../../sweeps/bounds';
import { checkRelativePath, resolveExisting } from '../../workspace/paths';

const GLOB_CHARACTERS = /[*?[\]{}]/;

/** The workspace files a glob or a folder names, sorted; a file names itself. */
export async function resolveWorkspaceFiles(
  workspace: string,
  pattern: string
): Promise<string[]> {
  const clean = checkRelativePath(pattern, 'input glob');
  let candidates: string[];
  if (!GLOB_CHARACTERS.test(clean)) {
    const real = await resolveExisting(workspace, clean, 'input folder');
    if (!(await stat(real)).isDirectory()) {
      return [clean];
    }
    candidates = (await readdir(real)).map(name =>
      clean === '.' ? name : posix.join(clean, name)
    );
  } else {
    candidates = [];
    const root = await resolveExisting(workspace, '.', 'workspace');
    for await (const match of glob(clean, { cwd: root })) {
      candidates.push(match.split(sep).join('/'));
      if (candidates.length > SWEEP_BOUNDS.valuesPerAxis * 2) {
        break;
      }
    }
  }
  const files: string[] = [];
  for (const candidate of candidates) {
    const real = await resolveExisting(workspace, candidate, 'input file');
    if ((await stat(real)).isFile()) {
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
      `"${pattern}" names no file in the workspace; check the folder or the pattern.`
    );
  }
  return files.sort();
}
