/**
 * The pure core of sweeps: checks a sweep spec against its package and its bounds, and expands it
 * into variants, each with a stable id, the value of each axis, and the run edits that produce it
 * (the base edits with the variant's values merged in). Every count is checked before anything
 * is listed; every mistake is a domain error with a code and a sentence saying what to change.
 *
 * Glob axes must be resolved into files first (the service does it against the workspace).
 */
import type {
  SweepAxis,
  SweepField,
  SweepSpec
} from '../contract/schemas/sweeps';
import { DomainError } from '../errors';
import type { PackageModel } from '../rpz/model';
import { splitCommandLine } from '../runs/cmdline';
import type { InputSource, RunEdits, StepEdit } from '../runs/edits';
import { PlanError, planRun } from '../runs/plan';
import { SWEEP_BOUNDS } from './bounds';
import { countVariants, fieldLabel, variantId } from './count';
import { rangeValues } from './range';

/** One run of a sweep. */
export interface Variant {
  /** `v001`, `v002`…: zero-padded to the width of the count (at least 3 digits). */
  id: string;
  /** 0-based position in the sweep. */
  position: number;
  /** The value of each axis, in axis order, as text. */
  values: string[];
  edits: RunEdits;
}

export interface Expansion {
  /** Each axis's values, listed. */
  values: string[][];
  variants: Variant[];
}

export interface ExpandOptions {
  /** Where an input axis's files come from: workspace paths (the API) or host files (the CLI). */
  inputSource?: (path: string) => InputSource;
}

const bad = (message: string) => new DomainError('bad-sweep', message);
const tooLarge = (message: string) =>
  new DomainError('sweep-too-large', message);

/** An axis's values as text, each checked for length. */
function listValues(axis: SweepAxis): string[] {
  const values = axis.values;
  const listed =
    values.kind === 'list'
      ? values.values
      : values.kind === 'files'
        ? values.paths
        : values.kind === 'range'
          ? rangeValues(values)
          : [];
  for (const value of listed) {
    if (typeof value !== 'string') {
      throw bad(`The values of ${fieldLabel(axis.field)} must be strings.`);
    }
    if (value.length > SWEEP_BOUNDS.valueLength) {
      throw tooLarge(
        `A value of ${fieldLabel(axis.field)} is ${value.length} characters long, more than ${SWEEP_BOUNDS.valueLength}; shorten it.`
      );
    }
    if (value.includes('\0')) {
      throw bad(
        `A value of ${fieldLabel(axis.field)} contains a NUL character, which no argument, variable or path can hold.`
      );
    }
  }
  return listed;
}

/**
 * Checks each axis's field against the package (the same codes a run's edits answer): the step
 * exists, the argument index is in its command line (after the base edits), the input exists.
 */
function checkFields(
  model: PackageModel,
  base: RunEdits,
  axes: SweepAxis[]
): void {
  let argvOf: Map<number, string[]>;
  try {
    argvOf = new Map(
      planRun(model, base).steps.map(step => [step.index, step.argv])
    );
  } catch (error) {
    throw asDomain(error);
  }
  const seen = new Set<string>();
  for (const { field } of axes) {
    const label = fieldLabel(field);
    if (seen.has(label)) {
      throw bad(`Two axes vary ${label}; give all its values in one axis.`);
    }
    seen.add(label);
    if (field.kind === 'input') {
      const inputs = model.files.filter(f => f.readBy.length > 0);
      if (!inputs.some(f => f.name === field.name)) {
        throw new DomainError(
          'unknown-input',
          `"${field.name}" is not an input of this package; its inputs are: ${
            inputs
              .map(f => f.name)
              .sort()
              .join(', ') || 'none'
          }.`
        );
      }
      continue;
    }
    if (
      !Number.isInteger(field.step) ||
      field.step < 0 ||
      field.step >= model.runs.length
    ) {
      throw new DomainError(
        'unknown-step',
        `Unknown step ${field.step} in ${label}: this package has steps 0 to ${model.runs.length - 1}.`
      );
    }
    const argv = argvOf.get(field.step);
    if (!argv) {
      throw new DomainError(
        'unknown-step',
        `Step ${field.step} is varied by ${label} but not selected to run; select it in the edits' steps.`
      );
    }
    const cmdlineVaries = axes.some(
      a => a.field.kind === 'cmdline' && a.field.step === field.step
    );
    if (
      field.kind === 'arg' &&
      !cmdlineVaries &&
      (!Number.isInteger(field.index) || field.index >= argv.length)
    ) {
      throw new DomainError(
        'arg-out-of-range',
        `Step ${field.step} has arguments 0 to ${argv.length - 1}; there is no argument ${field.index} to vary.`
      );
    }
    if (
      field.kind === 'env' &&
      (!/^[^=\0]+$/.test(field.name) ||
        field.name.length > SWEEP_BOUNDS.valueLength)
    ) {
      throw new DomainError(
        'bad-env',
        `"${field.name}" cannot be an environment variable name.`
      );
    }
  }
}

/** The base edits with one value of one field merged in (a fresh object; the base is left). */
function mergeValue(
  edits: RunEdits,
  field: SweepField,
  value: string,
  options: Required<ExpandOptions>
): void {
  if (field.kind === 'input') {
    const inputs = (edits.inputs ?? []).filter(i => i.name !== field.name);
    inputs.push({ name: field.name, source: options.inputSource(value) });
    edits.inputs = inputs;
    return;
  }
  const stepEdits = (edits.stepEdits ??= []);
  let edit: StepEdit | undefined = stepEdits.find(e => e.step === field.step);
  if (!edit) {
    edit = { step: field.step };
    stepEdits.push(edit);
  }
  switch (field.kind) {
    case 'arg': {
      const args = (edit.args ?? []).filter(a => a.index !== field.index);
      args.push({ index: field.index, value });
      edit.args = args;
      break;
    }
    case 'env':
      edit.setEnv = { ...edit.setEnv, [field.name]: value };
      if (edit.unsetEnv) {
        edit.unsetEnv = edit.unsetEnv.filter(name => name !== field.name);
      }
      break;
    case 'cmdline':
      try {
        edit.argv = splitCommandLine(value);
      } catch (error) {
        throw bad(
          `The command line "${value}" of ${fieldLabel(field)} cannot be split: ${(error as Error).message}`
        );
      }
      break;
  }
}

/**
 * Expands a spec into its variants: grid is the cartesian product in axis order (the last axis
 * varies fastest), zip takes the i-th value of every axis. Each variant's edits are checked as a
 * run's are (`planRun`), so a sweep is refused whole before any run is created.
 */
export function expandSweep(
  spec: SweepSpec,
  model: PackageModel,
  options: ExpandOptions = {}
): Expansion {
  const count = countVariants(spec);
  const base = spec.edits ?? {};
  checkFields(model, base, spec.axes);
  const values = spec.axes.map(listValues);
  const resolved: Required<ExpandOptions> = {
    inputSource: options.inputSource ?? (path => ({ kind: 'workspace', path }))
  };
  const variants: Variant[] = [];
  for (let position = 0; position < count; position++) {
    const chosen = pick(values, position, spec.combine === 'zip');
    const edits = structuredClone(base);
    spec.axes.forEach((axis, i) =>
      mergeValue(edits, axis.field, chosen[i], resolved)
    );
    try {
      planRun(model, edits);
    } catch (error) {
      const failed = asDomain(error);
      throw new DomainError(
        failed.code,
        `Variant ${variantId(position, count)} (${chosen.join(', ')}): ${failed.message}`
      );
    }
    variants.push({
      id: variantId(position, count),
      position,
      values: chosen,
      edits
    });
  }
  return { values, variants };
}

/** The values of the variant at `position`: the i-th of each axis (zip), or its digits (grid). */
function pick(values: string[][], position: number, zip: boolean): string[] {
  if (zip) {
    return values.map(axis => axis[position]);
  }
  const chosen = new Array<string>(values.length);
  let rest = position;
  for (let i = values.length - 1; i >= 0; i--) {
    chosen[i] = values[i][rest % values[i].length];
    rest = Math.floor(rest / values[i].length);
  }
  return chosen;
}

function asDomain(error: unknown): DomainError {
  if (error instanceof DomainError) {
    return error;
  }
  if (error instanceof PlanError) {
    return new DomainError(error.code, error.message);
  }
  throw error;
}

export { countVariants, fieldLabel, variantId };
