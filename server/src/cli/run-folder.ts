/**
 * What `reproserver run --out DIR` writes for a finished run, and `reproserver sweep` for each
 * variant in `DIR/<variant>/`: the outputs (declared ones by name, other changed files under
 * `changed/`) copied from the blob store, and `run.json`, the run's record.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunRecord as WireRun } from '../contract/wire';
import type { RunEdits } from '../runs/edits';
import { DirectorySink } from '../runs/output-sink';
import type { BlobStore } from '../store/blob-store';

/** An input file given on the command line, as stored for the run and recorded in run.json. */
export interface StoredInput {
  name: string;
  /** Where the package reads it. */
  path: string;
  /** The file on this machine it came from. */
  source: string;
  size: number;
  sha256: string;
}

export async function writeRunFolder(
  outDir: string,
  run: WireRun,
  blobs: BlobStore,
  context: {
    package: { path: string; sha256: string | null };
    startedAt: Date;
    endedAt: Date;
    /** The edits as the user gave them (host files by path). */
    edits: RunEdits;
    inputs: StoredInput[];
  }
): Promise<void> {
  const sink = new DirectorySink(outDir);
  for (const output of run.outputs) {
    await sink.store(output, await blobs.get(output.sha256));
  }
  const record = {
    // With --state, the run's id in the records there (\`reproserver diff\` takes it).
    id: run.id,
    package: context.package,
    image: run.image,
    backend: run.backend,
    status: run.status,
    reason: run.reason ?? null,
    failedStep: run.failedStep ?? null,
    startedAt: context.startedAt.toISOString(),
    endedAt: context.endedAt.toISOString(),
    edits: context.edits,
    steps: run.steps,
    inputs: context.inputs,
    outputs: run.outputs.map(({ name, path, kind, size, sha256 }) => ({
      name,
      path,
      kind,
      size,
      sha256,
      file: kind === 'declared' ? name : join('changed', path)
    })),
    missingOutputs: run.missingOutputs
  };
  await writeFile(
    join(outDir, 'run.json'),
    JSON.stringify(record, null, 2) + '\n'
  );
}
