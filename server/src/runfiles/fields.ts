/**
 * The fields of a run, each with its value, as one flat list: what a run file's edits set, what a
 * run request asks for, compared field by field to find what a request changes that a run file
 * locks. Pure: no file is read here.
 *
 * A field's key names it (`arg 0:2`, `env 1:SEED`, `input data`, `cmdline 0`, `limit memoryMiB`,
 * `steps`) and reads well in messages; its value is a string (the value given, or how it was
 * given: `unset`, a whole command line as JSON).
 */
import type { RunFileField } from '../contract/schemas/runfile';
import type { InputSource, RunEdits } from '../runs/edits';

/** Field key → its value in these edits; a field the edits leave alone is absent. */
export function fieldValues(edits: RunEdits): Map<string, string> {
  const values = new Map<string, string>();
  if (edits.steps !== undefined) {
    values.set('steps', JSON.stringify(edits.steps));
  }
  for (const edit of edits.stepEdits ?? []) {
    if (edit.argv !== undefined) {
      values.set(`cmdline ${edit.step}`, JSON.stringify(edit.argv));
    }
    for (const { index, value } of edit.args ?? []) {
      values.set(`arg ${edit.step}:${index}`, value);
    }
    for (const [name, value] of Object.entries(edit.setEnv ?? {})) {
      values.set(`env ${edit.step}:${name}`, `set ${value}`);
    }
    for (const name of edit.unsetEnv ?? []) {
      values.set(`env ${edit.step}:${name}`, 'unset');
    }
  }
  for (const { name, source } of edits.inputs ?? []) {
    values.set(`input ${name}`, sourceValue(source));
  }
  for (const [name, value] of Object.entries(edits.limits ?? {})) {
    if (value !== undefined) {
      values.set(`limit ${name}`, String(value));
    }
  }
  return values;
}

function sourceValue(source: InputSource): string {
  return source.kind === 'blob'
    ? `upload ${source.sha256}`
    : `${source.kind} ${source.path}`;
}

/** Whether an open field lets the field of this key change. */
export function opens(field: RunFileField, key: string): boolean {
  switch (field.kind) {
    case 'arg':
      return key === `arg ${field.step}:${field.index}`;
    case 'env':
      return key === `env ${field.step}:${field.name}`;
    case 'input':
      return key === `input ${field.name}`;
    case 'cmdline':
      // The whole command line: every argument of the step with it.
      return (
        key === `cmdline ${field.step}` || key.startsWith(`arg ${field.step}:`)
      );
    case 'limit':
      return key === `limit ${field.name}`;
    case 'steps':
      return key === 'steps';
  }
}

/** A locked field whose value a request changes. */
export interface LockedChange {
  field: string;
  /** The run file's value; null where the run file leaves the package's own. */
  locked: string | null;
  /** The request's value; null where it leaves the package's own. */
  requested: string | null;
}

/**
 * The fields `requested` sets differently from `configured` that no `open` field lets change, in
 * a stable order. `open` undefined: every field is open.
 */
export function lockedChanges(
  configured: RunEdits,
  requested: RunEdits,
  open: readonly RunFileField[] | undefined
): LockedChange[] {
  if (open === undefined) {
    return [];
  }
  const locked = fieldValues(configured);
  const asked = fieldValues(requested);
  const keys = [...new Set([...locked.keys(), ...asked.keys()])].sort();
  return keys
    .filter(key => locked.get(key) !== asked.get(key))
    .filter(key => !open.some(field => opens(field, key)))
    .map(key => ({
      field: key,
      locked: locked.get(key) ?? null,
      requested: asked.get(key) ?? null
    }));
}
