/**
 * The table of run cases every backend must pass: each example package as recorded, and each of
 * its manifest's variants (changed argument, environment or input), with the stdout and outputs
 * the real experiment produces.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEdits, StepEdit } from '../../../src/runs/edits';
import {
  examples,
  type Manifest,
  type ManifestFile
} from '../../helpers/examples';

export interface RunCase {
  title: string;
  rpz: string;
  manifest: Manifest;
  edits: RunEdits;
  /** All steps' stdout, in order. */
  stdout: string[];
  outputs: Record<string, ManifestFile>;
}

export function runCases(): RunCase[] {
  const cases: RunCase[] = [];
  for (const { name, rpz, manifest } of examples()) {
    cases.push({
      title: `${name} as recorded`,
      rpz,
      manifest,
      edits: {},
      stdout: manifest.runs.flatMap(run => run.stdout),
      outputs: manifest.outputs
    });
    for (const variant of manifest.variants ?? []) {
      const stepEdits: StepEdit[] = [];
      for (const change of variant.runs ?? []) {
        const recorded = manifest.runs[change.run].argv;
        const edit: StepEdit = { step: change.run };
        if (change.argv && change.argv.length === recorded.length) {
          // Same length: change single items, as the panel's typed fields do.
          edit.args = change.argv
            .map((value, index) => ({ index, value }))
            .filter(({ index, value }) => value !== recorded[index]);
        } else if (change.argv) {
          edit.argv = change.argv;
        }
        if (change.environ) {
          edit.setEnv = change.environ;
        }
        stepEdits.push(edit);
      }
      const inputs = Object.entries(variant.inputs ?? {}).map(
        ([inputName, file]) => {
          const dir = mkdtempSync(join(tmpdir(), 'reproserver-input-'));
          const path = join(dir, 'replacement');
          writeFileSync(path, file.text);
          return { name: inputName, source: { kind: 'file' as const, path } };
        }
      );
      cases.push({
        title: `${name}: ${variant.description}`,
        rpz,
        manifest,
        edits: {
          ...(stepEdits.length > 0 ? { stepEdits } : {}),
          ...(inputs.length > 0 ? { inputs } : {})
        },
        stdout: manifest.runs.flatMap(
          (run, index) =>
            variant.runs?.find(r => r.run === index)?.stdout ?? run.stdout
        ),
        outputs: variant.outputs
      });
    }
  }
  return cases;
}
