/**
 * `reproserver run exercise.rpzrun`: a run file on this machine, read as the server reads one in
 * the workspace (`service/runfiles.ts`), its paths relative to its own folder turned into host
 * paths. The command line's flags then change what the run file opens, and nothing it locks.
 */
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  RUN_FILE_MAX_BYTES,
  RunFileSchema,
  type RunFile
} from '../contract/schemas/runfile';
import { validate } from '../contract/validate';
import { DomainError } from '../errors';
import type { RunEdits } from '../runs/edits';
import { lockedChanges } from '../runfiles/fields';
import { overlayEdits } from '../runfiles/overlay';

/** A run file names itself by this extension. */
export const RUN_FILE_EXTENSION = '.rpzrun';

export interface HostRunFile {
  runFile: RunFile;
  /** The package on this machine. */
  packagePath: string;
  /** The run file's edits, its inputs as host files. */
  edits: RunEdits;
}

/** Reads the run file at `path` (at most `RUN_FILE_MAX_BYTES`); a `DomainError` says what is wrong. */
export async function readHostRunFile(path: string): Promise<HostRunFile> {
  const handle = await open(path, 'r').catch(() => {
    throw new DomainError(
      'not-found',
      `The run file "${path}" cannot be read.`
    );
  });
  let text: string;
  try {
    const size = (await handle.stat()).size;
    if (size > RUN_FILE_MAX_BYTES) {
      throw new DomainError(
        'bad-run-file',
        `The run file "${path}" is ${size} bytes; a run file has at most ${RUN_FILE_MAX_BYTES}.`
      );
    }
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    text = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  let runFile: RunFile;
  try {
    runFile = validate(RunFileSchema, JSON.parse(text));
  } catch (error) {
    const why =
      error instanceof SyntaxError
        ? `is not valid JSON (${error.message})`
        : `: ${(error as Error).message.replace(/^The request body/, 'the document')}`;
    throw new DomainError('bad-run-file', `The run file "${path}" ${why}`);
  }
  if (runFile.package.path === undefined) {
    throw new DomainError(
      'bad-run-file',
      `The run file "${path}" names no package file (package.path); fetch its package first${runFile.package.source ? ` from ${runFile.package.source}` : ''}.`
    );
  }
  const folder = dirname(resolve(path));
  const beside = (relative: string): string => {
    if (isAbsolute(relative)) {
      throw new DomainError(
        'bad-path',
        `The run file's path "${relative}" must be relative to its folder.`
      );
    }
    return resolve(folder, relative);
  };
  const { inputs, ...rest } = runFile.edits ?? {};
  return {
    runFile,
    packagePath: beside(runFile.package.path),
    edits: {
      ...rest,
      ...(inputs && {
        inputs: inputs.map(({ name, path: file }) => ({
          name,
          source: { kind: 'file' as const, path: beside(file) }
        }))
      })
    }
  };
}

/** Refuses a package other than the one the run file was made for (when it says which). */
export function checkRunFilePackage(
  hostRunFile: HostRunFile,
  sha256: string | null
): void {
  const expected = hostRunFile.runFile.package.sha256;
  if (expected !== undefined && expected !== sha256) {
    throw new DomainError(
      'run-file-mismatch',
      `The run file is for the package ${expected.slice(0, 12)}…, but ${hostRunFile.packagePath} is ${sha256?.slice(0, 12) ?? 'another'}…: get the package it was made for.`
    );
  }
}

/**
 * The run file's edits with the flags' on top; refused (`locked-field`) when the flags change a
 * field the run file locks.
 */
export function editsOverRunFile(
  hostRunFile: HostRunFile,
  flags: RunEdits
): RunEdits {
  const merged = overlayEdits(hostRunFile.edits, flags);
  const changes = lockedChanges(
    hostRunFile.edits,
    merged,
    hostRunFile.runFile.open
  );
  if (changes.length > 0) {
    throw new DomainError(
      'locked-field',
      `The run file locks ${changes.map(c => c.field).join(', ')}: change only the fields it opens (${(hostRunFile.runFile.open ?? []).length} of them).`
    );
  }
  return merged;
}
