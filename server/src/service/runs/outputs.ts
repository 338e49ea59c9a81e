/**
 * A run's outputs, as the API serves them: one streamed from the blob store, or all written into
 * a workspace folder (never overwriting a file).
 */
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SaveOutputsResponse } from '../../contract/wire';
import { notFound } from '../../errors';
import type { BlobStore } from '../../store';
import type { PackageRecord, Records } from '../../store/records';
import {
  checkRelativePath,
  ensureFolder,
  toWorkspacePath
} from '../../workspace/paths';

/** The bytes of one output of a run (whose existence the caller checked). */
export async function openOutput(
  stores: { records: Records; blobs: BlobStore },
  runId: string,
  name: string
): Promise<{ body: Readable; size: number; name: string }> {
  // Changed files are named by their absolute path; declared outputs never start with a slash.
  const output = stores.records.getOutput(
    runId,
    name.startsWith('/') ? 'changed' : 'declared',
    name
  );
  if (!output) {
    throw notFound(`The output "${name}" of run ${runId}`);
  }
  return {
    body: await stores.blobs.get(output.sha256),
    size: output.size,
    name: output.name
  };
}

/**
 * Writes a run's outputs into a workspace folder (default `<package>.runs/<run id>/` beside the
 * package). Existing files are never overwritten: they are reported as skipped.
 */
export async function saveOutputs(
  stores: { records: Records; blobs: BlobStore; workspace: string },
  runId: string,
  pkg: PackageRecord,
  folder?: string
): Promise<SaveOutputsResponse> {
  const { workspace } = stores;
  const stem = pkg.name.replace(/\.rpz$/i, '');
  const beside =
    pkg.source.kind === 'workspace' ? posix.dirname(pkg.source.path) : '.';
  const target =
    folder !== undefined
      ? checkRelativePath(folder, 'folder')
      : posix.join(beside, `${stem}.runs`, runId);
  const root = await ensureFolder(workspace, target);
  const files: string[] = [];
  const skipped: string[] = [];
  for (const output of stores.records.listOutputs(runId)) {
    const relative =
      output.kind === 'declared'
        ? output.name.replace(/[/\\\0]/g, '_').replace(/^\.\.?$/, '_$&')
        : posix.join('changed', posix.normalize('/' + output.path).slice(1));
    const folderOfFile = await ensureFolder(
      workspace,
      posix.join(target, posix.dirname(relative))
    );
    const file = join(folderOfFile, posix.basename(relative));
    let handle;
    try {
      handle = await open(file, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        skipped.push(await toWorkspacePath(workspace, file));
        continue;
      }
      throw error;
    }
    await pipeline(
      await stores.blobs.get(output.sha256),
      handle.createWriteStream()
    );
    files.push(await toWorkspacePath(workspace, file));
  }
  return {
    folder: await toWorkspacePath(workspace, root),
    files,
    skipped
  };
}
