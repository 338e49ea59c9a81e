/**
 * A run's replacement inputs: stored as blobs when the run is created (the run is reproducible
 * even if the workspace file changes), and opened from the blob store when a step needs them.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DomainError } from '../../errors';
import type { InputSource, RunEdits } from '../../runs/edits';
import type { InputPlacement } from '../../runs/plan';
import { BlobTooLargeError, isSha256, type BlobStore } from '../../store';
import type { InputRecord } from '../../store/records';
import { resolveExisting } from '../../workspace/paths';

/**
 * Stores every input from the workspace as a blob and checks that every uploaded one exists;
 * returns the edits naming only blobs, and the inputs to record with the run.
 */
export async function storeInputs(
  edits: RunEdits,
  options: { workspace: string; blobs: BlobStore; maxUploadBytes: number }
): Promise<{ edits: RunEdits; inputs: InputRecord[] }> {
  const inputs: InputRecord[] = [];
  const stored: { name: string; source: InputSource }[] = [];
  for (const input of edits.inputs ?? []) {
    let sha256: string;
    let size: number;
    if (input.source.kind === 'workspace') {
      ({ sha256, size } = await storeWorkspaceFile(
        input.name,
        input.source.path,
        options
      ));
    } else if (input.source.kind === 'blob') {
      const info = isSha256(input.source.sha256)
        ? await options.blobs.stat(input.source.sha256)
        : undefined;
      if (!info) {
        throw new DomainError(
          'unknown-upload',
          `No uploaded file has the sha256 ${input.source.sha256}.`
        );
      }
      ({ sha256, size } = info);
    } else {
      throw new DomainError(
        'bad-input',
        `The input "${input.name}" must come from the workspace or an upload.`
      );
    }
    inputs.push({ name: input.name, sha256, size });
    stored.push({ name: input.name, source: { kind: 'blob', sha256 } });
  }
  return {
    edits: stored.length > 0 ? { ...edits, inputs: stored } : edits,
    inputs
  };
}

export async function storeWorkspaceFile(
  name: string,
  path: string,
  options: { workspace: string; blobs: BlobStore; maxUploadBytes: number }
): Promise<{ sha256: string; size: number }> {
  const real = await resolveExisting(options.workspace, path, 'input file');
  if (!(await stat(real)).isFile()) {
    throw new DomainError(
      'not-a-file',
      `The input "${name}" is not a file: ${path}`
    );
  }
  try {
    return await options.blobs.put(createReadStream(real), {
      maxBytes: options.maxUploadBytes
    });
  } catch (error) {
    if (error instanceof BlobTooLargeError) {
      throw new DomainError('too-large', error.message);
    }
    throw error;
  }
}

/** The bytes of a stored input, for the backend placing it in the run. */
export async function openInput(
  blobs: BlobStore,
  input: InputPlacement
): Promise<{ body: Readable; size: number }> {
  if (input.source.kind !== 'blob') {
    throw new Error(`The input "${input.name}" was not stored.`);
  }
  const info = await blobs.stat(input.source.sha256);
  if (!info) {
    throw new Error(`The stored input "${input.name}" is gone.`);
  }
  return { body: await blobs.get(input.source.sha256), size: info.size };
}
