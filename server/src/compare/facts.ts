/**
 * What a run was asked to be, flattened into named fields (`step 0 argv`, `step 0 env SEED`,
 * `input arg2`, `limit memoryMiB`, `backend`), so that the edits separating two runs are the
 * fields whose values differ. Built from a run's record, or from the `run.json` that
 * `reproserver run --out` writes.
 */
import type { RunDifference } from '../contract/wire';
import type { RunEdits } from '../runs/edits';

/** Field name → value (null: not set). */
export type RunFacts = Record<string, string | null>;

/** What the facts are made from: what a run record and a run.json both have. */
export interface RunDescription {
  backend: string | null;
  /** The steps as planned (their argv with the edits applied). */
  steps: { index: number; argv: string[] }[];
  edits: RunEdits;
  /** The replacement inputs, by name, with the sha256 of their content. */
  inputs: { name: string; sha256: string }[];
  limits?: Record<string, number>;
}

const quote = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;

export function factsOf(run: RunDescription): RunFacts {
  const facts: RunFacts = { backend: run.backend };
  facts.steps = run.steps.map(step => step.index).join(',');
  for (const step of run.steps) {
    facts[`step ${step.index} argv`] = step.argv.map(quote).join(' ');
  }
  // Defensive: a run.json's edits are whatever the file says.
  const stepEdits = Array.isArray(run.edits.stepEdits)
    ? run.edits.stepEdits
    : [];
  for (const edit of stepEdits) {
    const env =
      typeof edit?.setEnv === 'object' && edit.setEnv ? edit.setEnv : {};
    for (const [name, value] of Object.entries(env)) {
      facts[`step ${edit.step} env ${name}`] = String(value);
    }
    for (const name of Array.isArray(edit?.unsetEnv) ? edit.unsetEnv : []) {
      facts[`step ${edit.step} env ${name}`] = '(unset)';
    }
  }
  for (const input of run.inputs) {
    facts[`input ${input.name}`] = `sha256 ${input.sha256}`;
  }
  for (const [name, value] of Object.entries(run.limits ?? {})) {
    facts[`limit ${name}`] = String(value);
  }
  return facts;
}

/** The fields whose values differ, in a stable order (A's fields first, then B's own). */
export function separatingEdits(a: RunFacts, b: RunFacts): RunDifference[] {
  const fields = [
    ...Object.keys(a),
    ...Object.keys(b).filter(field => !(field in a))
  ];
  return fields
    .filter(field => (a[field] ?? null) !== (b[field] ?? null))
    .map(field => ({ field, a: a[field] ?? null, b: b[field] ?? null }));
}
