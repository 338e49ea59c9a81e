/**
 * An output folder as one side of a comparison: what `reproserver run --out DIR` (and `sweep`,
 * for each variant) writes, `run.json` listing the outputs, their files beside it. The folder
 * is the user's, its run.json may be anything: each field is checked, each file must stay
 * inside the folder.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { RunEdits } from '../runs/edits';
import { factsOf } from './facts';
import type { RunSide, SideOutput } from './side';

/** run.json is small; a larger one is not a run folder. */
const MAX_RUN_JSON_BYTES = 16 * 1024 * 1024;

/** A folder that is not a run folder, in one sentence. */
export class RunFolderError extends Error {}

interface RunJson {
  backend?: unknown;
  steps?: unknown;
  edits?: unknown;
  inputs?: unknown;
  outputs?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export async function folderSide(
  dir: string,
  maxOutputs: number
): Promise<RunSide> {
  const root = resolve(dir);
  const file = join(root, 'run.json');
  let record: RunJson;
  try {
    if ((await stat(file)).size > MAX_RUN_JSON_BYTES) {
      throw new Error('too large');
    }
    record = JSON.parse(await readFile(file, 'utf8')) as RunJson;
    if (!isObject(record)) {
      throw new Error('not an object');
    }
  } catch {
    throw new RunFolderError(
      `${root} has no readable run.json: give a folder written by "reproserver run --out" or "reproserver sweep --out".`
    );
  }
  const files = new Map<string, string>();
  const outputs: SideOutput[] = [];
  for (const entry of Array.isArray(record.outputs) ? record.outputs : []) {
    if (
      outputs.length >= maxOutputs ||
      !isObject(entry) ||
      typeof entry.name !== 'string' ||
      typeof entry.file !== 'string' ||
      typeof entry.sha256 !== 'string' ||
      typeof entry.size !== 'number'
    ) {
      continue;
    }
    const path = resolve(root, entry.file);
    const inside = relative(root, path);
    if (
      inside === '' ||
      inside.startsWith('..') ||
      inside.split(sep).includes('..')
    ) {
      continue;
    }
    files.set(entry.name, path);
    outputs.push({ name: entry.name, size: entry.size, sha256: entry.sha256 });
  }
  const steps = (Array.isArray(record.steps) ? record.steps : []).filter(
    (step): step is { index: number; argv: string[] } =>
      isObject(step) &&
      typeof step.index === 'number' &&
      Array.isArray(step.argv) &&
      step.argv.every(word => typeof word === 'string')
  );
  const inputs = (Array.isArray(record.inputs) ? record.inputs : []).filter(
    (input): input is { name: string; sha256: string } =>
      isObject(input) &&
      typeof input.name === 'string' &&
      typeof input.sha256 === 'string'
  );
  return {
    label: root,
    facts: factsOf({
      backend: typeof record.backend === 'string' ? record.backend : null,
      steps,
      edits: isObject(record.edits) ? (record.edits as RunEdits) : {},
      inputs
    }),
    outputs,
    open: async output => createReadStream(files.get(output.name)!)
  };
}
