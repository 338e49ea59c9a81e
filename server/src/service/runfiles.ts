/**
 * Run files in the workspace (`.rpzrun`, `contract/schemas/runfile.ts`): read one as the panel
 * opens it, and check a run request that came from one against what it locks. A run file that
 * lists its open fields locks every other one, here at the server as well as in the panel, so a
 * student cannot change a locked value by calling the API directly.
 */
import { open } from 'node:fs/promises';
import {
  RUN_FILE_MAX_BYTES,
  RunFileSchema,
  type RunFile,
  type RunFileRecord
} from '../contract/schemas/runfile';
import { validate } from '../contract/validate';
import { DomainError } from '../errors';
import type { SweepAxis } from '../contract/schemas/sweeps';
import type { RunEdits } from '../runs/edits';
import {
  fieldValues,
  lockedChanges,
  opens,
  type LockedChange
} from '../runfiles/fields';
import { besideRunFile, runFileEdits } from '../runfiles/paths';
import { checkRelativePath, resolveExisting } from '../workspace/paths';
// A sweep's field label is the run file's field key (`runfiles/fields.ts`): `arg 0:3`, `env 0:SEED`…
import { fieldLabel } from '../sweeps/count';
import type { PackageService } from './packages';

export interface RunFileServiceOptions {
  workspace: string;
  packages: Pick<PackageService, 'registerWorkspacePackage'>;
}

/** At most this many locked fields are named in one refusal; the count says the rest. */
const NAMED_CHANGES = 3;

export class RunFileService {
  constructor(private readonly options: RunFileServiceOptions) {}

  /** The run file at workspace path `path`, with its paths as workspace paths. */
  async read(path: string): Promise<RunFileRecord> {
    const runFile = await this.load(path);
    const packagePath =
      runFile.package.path === undefined
        ? null
        : await this.existing(besideRunFile(path, runFile.package.path));
    const inputPaths: Record<string, string> = {};
    for (const input of runFile.edits?.inputs ?? []) {
      inputPaths[input.name] = besideRunFile(path, input.path);
    }
    return {
      path: checkRelativePath(path, 'run file path'),
      runFile,
      packagePath,
      inputPaths,
      locked: runFile.open !== undefined
    };
  }

  /**
   * Refuses a run of `packageSha256` with `edits`, asked through the run file at `path`, when the
   * run file is for another package or the edits change a field it locks.
   */
  async checkRun(
    path: string,
    packageSha256: string,
    edits: RunEdits
  ): Promise<RunFile> {
    const runFile = await this.load(path);
    const expected =
      runFile.package.sha256 ??
      (runFile.package.path !== undefined
        ? (
            await this.options.packages.registerWorkspacePackage(
              besideRunFile(path, runFile.package.path)
            )
          ).sha256
        : undefined);
    if (expected !== undefined && expected !== packageSha256) {
      throw new DomainError(
        'run-file-mismatch',
        `The run file "${path}" is for the package ${expected.slice(0, 12)}…, not ${packageSha256.slice(0, 12)}…: open the package it names.`
      );
    }
    const changes = lockedChanges(
      runFileEdits(runFile, path),
      edits,
      runFile.open
    );
    if (changes.length > 0) {
      throw new DomainError('locked-field', lockedSentence(path, changes));
    }
    return runFile;
  }

  /**
   * Refuses a sweep asked through the run file at `path` as `checkRun` refuses a run: its base
   * edits, and each axis, which changes its field in every variant, may touch only open fields.
   */
  async checkSweep(
    path: string,
    packageSha256: string,
    edits: RunEdits,
    axes: readonly SweepAxis[]
  ): Promise<void> {
    const runFile = await this.checkRun(path, packageSha256, edits);
    const open = runFile.open;
    if (open === undefined) {
      return;
    }
    const configured = fieldValues(runFileEdits(runFile, path));
    const changes: LockedChange[] = axes
      .map(axis => fieldLabel(axis.field))
      .filter(key => !open.some(field => opens(field, key)))
      .map(key => ({
        field: key,
        locked: configured.get(key) ?? null,
        requested: SWEPT
      }));
    if (changes.length > 0) {
      throw new DomainError('locked-field', lockedSentence(path, changes));
    }
  }

  /** Reads, parses and validates the run file (at most `RUN_FILE_MAX_BYTES`). */
  private async load(path: string): Promise<RunFile> {
    const real = await resolveExisting(
      this.options.workspace,
      path,
      'run file'
    );
    const handle = await open(real, 'r');
    let text: string;
    try {
      const info = await handle.stat();
      if (!info.isFile()) {
        throw new DomainError('not-a-file', `"${path}" is not a file.`);
      }
      if (info.size > RUN_FILE_MAX_BYTES) {
        throw new DomainError(
          'bad-run-file',
          `The run file "${path}" is ${info.size} bytes; a run file has at most ${RUN_FILE_MAX_BYTES}.`
        );
      }
      // Read what was measured, no more: the file may grow while it is read.
      const buffer = Buffer.alloc(info.size);
      const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DomainError(
        'bad-run-file',
        `The run file "${path}" is not valid JSON (${(error as Error).message}).`
      );
    }
    let runFile: RunFile;
    try {
      runFile = validate(RunFileSchema, value);
    } catch (error) {
      if (error instanceof DomainError) {
        throw new DomainError(
          'bad-run-file',
          `The run file "${path}": ${error.message.replace(/^The request body/, 'the document')}`
        );
      }
      throw error;
    }
    if (
      runFile.package.path === undefined &&
      runFile.package.source === undefined
    ) {
      throw new DomainError(
        'bad-run-file',
        `The run file "${path}" does not say where its package is: give package.path or package.source.`
      );
    }
    return runFile;
  }

  /** The workspace path when it names an existing file, else null. */
  private async existing(path: string): Promise<string | null> {
    try {
      await resolveExisting(this.options.workspace, path, 'package');
      return path;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'not-found') {
        return null;
      }
      throw error;
    }
  }
}

/** What a sweep asks of a field an axis varies, in a refusal. */
const SWEPT = '\0swept';

function lockedSentence(path: string, changes: LockedChange[]): string {
  const shown = (value: string | null) =>
    value === null
      ? 'the package’s own'
      : value === SWEPT
        ? 'a sweep over it'
        : JSON.stringify(value);
  const named = changes
    .slice(0, NAMED_CHANGES)
    .map(c => `${c.field} (${shown(c.locked)}, asked ${shown(c.requested)})`)
    .join('; ');
  const more =
    changes.length > NAMED_CHANGES
      ? ` and ${changes.length - NAMED_CHANGES} more`
      : '';
  return `The run file "${path}" locks ${named}${more}: change only the fields it opens, or run the package without the run file.`;
}
