/**
 * The fields of a package a sweep can vary, listed from its model: each step's arguments (not the
 * program), environment variables and whole command line, and the input files. Each has a key
 * (a select's value) and a label for people.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { PackageModel, SweepField } from 'reproserver/contract';

/** One field the Sweep tab offers. */
export interface ISweepFieldChoice {
  /** Unique among the package's fields: the select's value. */
  key: string;
  field: SweepField;
  /** For people: `run0 · argument 3 (3)`. */
  label: string;
  /** The step it belongs to, for grouping; null for inputs. */
  group: string;
}

/** A field's key: the same field always gets the same key. */
export function fieldKey(field: SweepField): string {
  switch (field.kind) {
    case 'arg':
      return `arg:${field.step}:${field.index}`;
    case 'env':
      return `env:${field.step}:${field.name}`;
    case 'cmdline':
      return `cmdline:${field.step}`;
    case 'input':
      return `input:${field.name}`;
  }
}

/** How long a recorded value may be in a label before it is cut. */
const SHOWN_VALUE = 40;

function shown(value: string): string {
  return value.length > SHOWN_VALUE
    ? value.slice(0, SHOWN_VALUE - 1) + '…'
    : value;
}

/** A path cut at its start: its end (the file's name) is what tells inputs apart. */
function shownPath(path: string): string {
  return path.length > SHOWN_VALUE
    ? '…' + path.slice(path.length - SHOWN_VALUE + 1)
    : path;
}

/** Every field of the package a sweep can vary, step by step, then the inputs. */
export function sweepFieldChoices(
  model: PackageModel,
  trans: TranslationBundle
): ISweepFieldChoice[] {
  const choices: ISweepFieldChoice[] = [];
  model.runs.forEach((run, step) => {
    const group = trans.__('Step %1', run.id);
    run.argv.forEach((value, index) => {
      if (index === 0) {
        return;
      }
      const field: SweepField = { kind: 'arg', step, index };
      choices.push({
        key: fieldKey(field),
        field,
        group,
        label: trans.__('%1 · argument %2 (%3)', run.id, index, shown(value))
      });
    });
    for (const [name, value] of Object.entries(run.environ)) {
      const field: SweepField = { kind: 'env', step, name };
      choices.push({
        key: fieldKey(field),
        field,
        group,
        label: trans.__('%1 · %2 (%3)', run.id, name, shown(value))
      });
    }
    const field: SweepField = { kind: 'cmdline', step };
    choices.push({
      key: fieldKey(field),
      field,
      group,
      label: trans.__('%1 · whole command line', run.id)
    });
  });
  const inputsGroup = trans.__('Input files');
  for (const file of model.files) {
    if (file.readBy.length === 0) {
      continue;
    }
    const field: SweepField = { kind: 'input', name: file.name };
    choices.push({
      key: fieldKey(field),
      field,
      group: inputsGroup,
      label: trans.__('input %1 (%2)', file.name, shownPath(file.path))
    });
  }
  return choices;
}

/** A field as a table's column header: the step's id rather than its index. */
export function fieldHeader(field: SweepField, model: PackageModel): string {
  const id = (step: number) => model.runs[step]?.id ?? String(step);
  switch (field.kind) {
    case 'arg':
      return `${id(field.step)} arg ${field.index}`;
    case 'env':
      return `${id(field.step)} ${field.name}`;
    case 'cmdline':
      return `${id(field.step)} cmdline`;
    case 'input':
      return field.name;
  }
}
