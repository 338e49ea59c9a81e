/**
 * A run file's edits field by field, as the panel needs them: what a run file sets, which of its
 * fields are open, and the run request of a panel opened on a locked run file — every locked field
 * exactly as the run file sets it (limits included: not the panel's defaults), every open field as
 * the user set it. The field keys are the server's (`server/src/runfiles/fields.ts`: `arg 0:2`,
 * `env 1:SEED`, `input data`, `cmdline 0`, `limit memoryMiB`, `steps`), so what the panel locks is
 * what the server checks. Pure: no I/O.
 */
import {
  opens,
  type InputSource,
  type RunEdits,
  type RunFileField,
  type RunFileRecord,
  type RunLimits,
  type StepEdit
} from 'reproserver/contract';

/** One field of a run's edits with its value. */
export type FieldEntry =
  | { kind: 'steps'; steps: number[] }
  | { kind: 'cmdline'; step: number; argv: string[] }
  | { kind: 'arg'; step: number; index: number; value: string }
  /** `value` null: the variable is unset. */
  | { kind: 'env'; step: number; name: string; value: string | null }
  | { kind: 'input'; name: string; source: InputSource }
  | { kind: 'limit'; name: keyof RunLimits; value: number };

/** The key of a field, as the server names it. */
export function fieldKey(entry: FieldEntry | RunFileField): string {
  switch (entry.kind) {
    case 'steps':
      return 'steps';
    case 'cmdline':
      return `cmdline ${entry.step}`;
    case 'arg':
      return `arg ${entry.step}:${entry.index}`;
    case 'env':
      return `env ${entry.step}:${entry.name}`;
    case 'input':
      return `input ${entry.name}`;
    case 'limit':
      return `limit ${entry.name}`;
  }
}

/** The fields these edits set, by key; a field left to the package is absent. */
export function fieldEntries(edits: RunEdits): Map<string, FieldEntry> {
  const entries: FieldEntry[] = [];
  if (edits.steps !== undefined) {
    entries.push({ kind: 'steps', steps: [...edits.steps] });
  }
  for (const edit of edits.stepEdits ?? []) {
    const step = edit.step;
    if (edit.argv !== undefined) {
      entries.push({ kind: 'cmdline', step, argv: [...edit.argv] });
    }
    for (const { index, value } of edit.args ?? []) {
      entries.push({ kind: 'arg', step, index, value });
    }
    for (const [name, value] of Object.entries(edit.setEnv ?? {})) {
      entries.push({ kind: 'env', step, name, value });
    }
    for (const name of edit.unsetEnv ?? []) {
      entries.push({ kind: 'env', step, name, value: null });
    }
  }
  for (const { name, source } of edits.inputs ?? []) {
    entries.push({ kind: 'input', name, source });
  }
  for (const [name, value] of Object.entries(edits.limits ?? {})) {
    if (typeof value === 'number') {
      entries.push({ kind: 'limit', name: name as keyof RunLimits, value });
    }
  }
  return new Map(entries.map(entry => [fieldKey(entry), entry]));
}

/** Edits setting exactly these fields (in a stable order). */
export function editsOf(entries: Iterable<FieldEntry>): RunEdits {
  const edits: RunEdits = {};
  const steps = new Map<number, StepEdit>();
  const stepEdit = (step: number): StepEdit => {
    let edit = steps.get(step);
    if (!edit) {
      edit = { step };
      steps.set(step, edit);
    }
    return edit;
  };
  const sorted = [...entries].sort((a, b) =>
    fieldKey(a).localeCompare(fieldKey(b), 'en', { numeric: true })
  );
  for (const entry of sorted) {
    switch (entry.kind) {
      case 'steps':
        edits.steps = [...entry.steps];
        break;
      case 'cmdline':
        stepEdit(entry.step).argv = [...entry.argv];
        break;
      case 'arg':
        (stepEdit(entry.step).args ??= []).push({
          index: entry.index,
          value: entry.value
        });
        break;
      case 'env':
        if (entry.value === null) {
          (stepEdit(entry.step).unsetEnv ??= []).push(entry.name);
        } else {
          (stepEdit(entry.step).setEnv ??= {})[entry.name] = entry.value;
        }
        break;
      case 'input':
        (edits.inputs ??= []).push({ name: entry.name, source: entry.source });
        break;
      case 'limit':
        (edits.limits ??= {})[entry.name] = entry.value;
        break;
    }
  }
  if (steps.size > 0) {
    edits.stepEdits = [...steps.values()].sort((a, b) => a.step - b.step);
  }
  return edits;
}

/** Whether the field of this key may change; `open` undefined: every field may. */
export function isOpen(
  open: readonly RunFileField[] | undefined,
  key: string
): boolean {
  return open === undefined || open.some(field => opens(field, key));
}

/** The run file's edits as the panel applies them: its inputs as workspace files. */
export function runFileEdits(record: RunFileRecord): RunEdits {
  const { inputs, ...rest } = record.runFile.edits ?? {};
  const edits: RunEdits = { ...rest };
  if (inputs !== undefined) {
    edits.inputs = inputs.map(({ name }) => ({
      name,
      source: { kind: 'workspace', path: record.inputPaths[name] ?? '' }
    }));
  }
  return edits;
}

/**
 * The edits a run request sends for a panel opened on a run file: each open field as the user
 * set it (`requested`), each locked one exactly as the run file sets it (`configured`) — set where
 * the run file sets it, absent where the run file leaves it to the package.
 */
export function lockedRequest(
  requested: RunEdits,
  configured: RunEdits,
  open: readonly RunFileField[] | undefined
): RunEdits {
  if (open === undefined) {
    return requested;
  }
  const asked = fieldEntries(requested);
  const locked = fieldEntries(configured);
  const keys = new Set([...asked.keys(), ...locked.keys()]);
  const chosen: FieldEntry[] = [];
  for (const key of keys) {
    const entry = isOpen(open, key) ? asked.get(key) : locked.get(key);
    if (entry) {
      chosen.push(entry);
    }
  }
  return editsOf(chosen);
}

/** A field's value for people: `5`, `unset`, `data/words.txt`, `["wc","-l"]`. */
export function entryValue(entry: FieldEntry): string {
  switch (entry.kind) {
    case 'steps':
      return entry.steps.join(', ');
    case 'cmdline':
      return JSON.stringify(entry.argv);
    case 'arg':
      return entry.value;
    case 'env':
      return entry.value ?? 'unset';
    case 'input':
      return entry.source.kind === 'blob'
        ? `upload ${entry.source.sha256.slice(0, 12)}`
        : entry.source.path;
    case 'limit':
      return String(entry.value);
  }
}
