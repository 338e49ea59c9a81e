/**
 * "Save configuration as run file": a package and a run's edits as a run file (docs/rpzrun.md)
 * beside the package. Paths in a run file are relative to its own folder, so a folder of exercises
 * can be moved as a whole; the package's sha256 goes with it, so another file is refused. Pure.
 */
import type { RunEdits, RunFile } from 'reproserver/contract';

/** The folder of a workspace path ('' for the root). */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** `path` (a workspace path) relative to `folder` (a workspace folder), with `..` where needed. */
export function relativeTo(folder: string, path: string): string {
  const from = folder.split('/').filter(Boolean);
  const to = path.split('/').filter(Boolean);
  let common = 0;
  while (
    common < from.length &&
    common < to.length - 1 &&
    from[common] === to[common]
  ) {
    common++;
  }
  return [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/');
}

/** The run file path offered for a package: beside it, with its name. */
export function runFilePathFor(packagePath: string): string {
  return packagePath.replace(/\.rpz$/i, '') + '.rpzrun';
}

export interface IRunFileSource {
  /** Where the run file will be written (a workspace path). */
  runFilePath: string;
  packagePath: string;
  sha256: string;
  edits: RunEdits;
  title?: string;
}

/**
 * The run file for these edits. Throws with a sentence when an input is not a workspace file: a
 * run file can only name files of the workspace.
 */
export function makeRunFile(source: IRunFileSource): RunFile {
  const folder = folderOf(source.runFilePath);
  const { inputs, ...rest } = source.edits;
  const edits: NonNullable<RunFile['edits']> = { ...rest };
  if (inputs && inputs.length > 0) {
    edits.inputs = inputs.map(({ name, source: input }) => {
      if (input.kind !== 'workspace') {
        throw new Error(
          `The input ${name} is not a file of the workspace; a run file can only name workspace files: replace it with one first.`
        );
      }
      return { name, path: relativeTo(folder, input.path) };
    });
  }
  const runFile: RunFile = {
    rpzrun: 1,
    ...(source.title?.trim() ? { title: source.title.trim() } : {}),
    package: {
      path: relativeTo(folder, source.packagePath),
      sha256: source.sha256
    }
  };
  if (Object.keys(edits).length > 0) {
    runFile.edits = edits;
  }
  return runFile;
}

/** The run file as written: indented JSON ending with a newline. */
export function runFileText(runFile: RunFile): string {
  return JSON.stringify(runFile, null, 2) + '\n';
}
