/**
 * A run file names its package and input files relative to its own folder, so that a folder of
 * exercises works wherever it is copied. This turns those paths into workspace paths (checked:
 * never leaving the workspace), and a run file's edits into the edits a run request sends.
 */
import { posix } from 'node:path';
import type { RunFile } from '../contract/schemas/runfile';
import { DomainError } from '../errors';
import type { RunEdits } from '../runs/edits';
import { checkRelativePath } from '../workspace/paths';

/** `relative`, written in the run file at workspace path `runFilePath`, as a workspace path. */
export function besideRunFile(runFilePath: string, relative: string): string {
  const folder = posix.dirname(checkRelativePath(runFilePath, 'run file path'));
  if (posix.isAbsolute(relative) || relative.startsWith('\\')) {
    throw new DomainError(
      'bad-path',
      `The run file's path "${relative}" must be relative to the run file's folder.`
    );
  }
  return checkRelativePath(
    posix.normalize(posix.join(folder, relative)),
    `path "${relative}" of the run file`
  );
}

/** The run file's edits as a run request gives them: its inputs as workspace files. */
export function runFileEdits(runFile: RunFile, runFilePath: string): RunEdits {
  const { inputs, ...rest } = runFile.edits ?? {};
  const edits: RunEdits = { ...rest };
  if (inputs !== undefined) {
    edits.inputs = inputs.map(({ name, path }) => ({
      name,
      source: { kind: 'workspace', path: besideRunFile(runFilePath, path) }
    }));
  }
  return edits;
}
