/**
 * The run plan: a pure function from the package model and the user's edits to exactly what each
 * backend executes. Backends never look at the package model or the edits themselves, so Docker
 * and sandbox runs agree, and every rule about edits is tested here in milliseconds.
 */
import { posix } from 'node:path';
import type { PackageModel } from '../rpz/model';
import {
  DEFAULT_LIMITS,
  MAX_LIMITS,
  type InputSource,
  type RunEdits,
  type RunLimits
} from './edits';

/** One step as it will be executed. */
export interface StepPlan {
  /** Index of the run in the package. */
  index: number;
  id: string;
  argv: string[];
  /**
   * Program to execute with `argv` (argv[0] kept as recorded); null when the command line was
   * replaced, in which case argv[0] is looked up in the step's PATH as a shell would.
   */
  binary: string | null;
  environ: Record<string, string>;
  workingdir: string;
  uid: number;
  gid: number;
}

/** A replacement input file and where it goes. */
export interface InputPlacement {
  name: string;
  /** Absolute path inside the experiment's filesystem. */
  path: string;
  source: InputSource;
  /** Placed right before this step (plan step position, 0-based) runs. */
  beforeStep: number;
  uid: number;
  gid: number;
  mode: number;
}

/** A declared output to collect after the run. */
export interface OutputPlan {
  name: string;
  path: string;
}

export interface RunPlan {
  steps: StepPlan[];
  inputs: InputPlacement[];
  outputs: OutputPlan[];
  hostname: string;
  limits: RunLimits;
}

/** A bad edit: reported before anything starts. */
export class PlanError extends Error {
  constructor(
    readonly code:
      | 'no-runs'
      | 'unknown-step'
      | 'arg-out-of-range'
      | 'empty-command'
      | 'unknown-input'
      | 'bad-env'
      | 'bad-limit',
    message: string
  ) {
    super(message);
  }
}

const ENV_NAME = /^[^=\0]+$/;

/**
 * Turns the package model and the user's edits into the plan; throws PlanError on a bad edit.
 * `defaults` fill the limits the edits leave out: the server and the CLI pass this machine's
 * (`runDefaults()` of default-limits.ts, whose memory leaves room for JupyterLab).
 */
export function planRun(
  model: PackageModel,
  edits: RunEdits = {},
  defaults: RunLimits = DEFAULT_LIMITS
): RunPlan {
  if (model.runs.length === 0) {
    throw new PlanError(
      'no-runs',
      'This package records no runs: there is nothing to execute.'
    );
  }
  const selected = selectSteps(model, edits.steps);
  for (const edit of edits.stepEdits ?? []) {
    checkStep(model, edit.step);
    if (!selected.includes(edit.step)) {
      throw new PlanError(
        'unknown-step',
        `Step ${describeStep(model, edit.step)} is edited but not selected to run.`
      );
    }
  }
  const steps = selected.map(index => planStep(model, index, edits));
  return {
    steps,
    inputs: planInputs(model, selected, steps, edits),
    outputs: model.files
      .filter(file => file.writtenBy.some(run => selected.includes(run)))
      .map(file => ({ name: file.name, path: file.path })),
    hostname: model.runs[selected[0]].hostname ?? 'reproserver',
    limits: planLimits(edits.limits, defaults)
  };
}

/**
 * Resolves a step given as a 0-based index or a run id (as the CLI and the API accept it).
 * Numbers win only when no run has that id, as in reprounzip.
 */
export function resolveStep(model: PackageModel, step: string): number {
  const byId = model.runs.findIndex(run => run.id === step);
  if (byId !== -1) {
    return byId;
  }
  if (/^\d+$/.test(step) && Number(step) < model.runs.length) {
    return Number(step);
  }
  throw new PlanError(
    'unknown-step',
    `Unknown step "${step}": this package has ${runList(model)}.`
  );
}

function selectSteps(
  model: PackageModel,
  steps: number[] | undefined
): number[] {
  if (steps === undefined) {
    return model.runs.map((_, index) => index);
  }
  if (steps.length === 0) {
    throw new PlanError(
      'unknown-step',
      'No step is selected: select at least one.'
    );
  }
  steps.forEach(step => checkStep(model, step));
  return [...new Set(steps)].sort((a, b) => a - b);
}

function checkStep(model: PackageModel, step: number): void {
  if (!Number.isInteger(step) || step < 0 || step >= model.runs.length) {
    throw new PlanError(
      'unknown-step',
      `Unknown step ${step}: this package has ${runList(model)}.`
    );
  }
}

function runList(model: PackageModel): string {
  const n = model.runs.length;
  const ids = model.runs.map((run, i) => `${i} (${run.id})`).join(', ');
  return `${n} step${n === 1 ? '' : 's'}: ${ids}`;
}

function describeStep(model: PackageModel, step: number): string {
  return `${step} (${model.runs[step].id})`;
}

function planStep(
  model: PackageModel,
  index: number,
  edits: RunEdits
): StepPlan {
  const run = model.runs[index];
  let argv = [...run.argv];
  let binary: string | null = run.binary;
  const environ = { ...run.environ };
  for (const edit of (edits.stepEdits ?? []).filter(e => e.step === index)) {
    if (edit.argv !== undefined) {
      if (edit.argv.length === 0 || edit.argv[0] === '') {
        throw new PlanError(
          'empty-command',
          `The new command line of step ${describeStep(model, index)} is empty.`
        );
      }
      argv = [...edit.argv];
      binary = null;
    }
    for (const { index: position, value } of edit.args ?? []) {
      if (
        !Number.isInteger(position) ||
        position < 0 ||
        position >= argv.length
      ) {
        throw new PlanError(
          'arg-out-of-range',
          `Step ${describeStep(model, index)} has arguments 0 to ${argv.length - 1}; there is no argument ${position}.`
        );
      }
      if (position === 0 && value !== argv[0]) {
        // A new program name: find it the way a shell would rather than run the recorded one.
        binary = null;
      }
      argv[position] = value;
    }
    for (const [name, value] of Object.entries(edit.setEnv ?? {})) {
      if (!ENV_NAME.test(name) || value.includes('\0')) {
        throw new PlanError(
          'bad-env',
          `"${name}" cannot be an environment variable name.`
        );
      }
      environ[name] = value;
    }
    for (const name of edit.unsetEnv ?? []) {
      delete environ[name];
    }
  }
  if (argv[0] === '') {
    throw new PlanError(
      'empty-command',
      `The program of step ${describeStep(model, index)} is empty.`
    );
  }
  return {
    index,
    id: run.id,
    argv,
    binary,
    environ,
    workingdir: run.workingdir,
    uid: run.uid,
    gid: run.gid
  };
}

function planInputs(
  model: PackageModel,
  selected: number[],
  steps: StepPlan[],
  edits: RunEdits
): InputPlacement[] {
  const seen = new Set<string>();
  return (edits.inputs ?? []).map(({ name, source }) => {
    const file = model.files.find(f => f.name === name);
    const inputs = model.files
      .filter(f => f.readBy.length > 0)
      .map(f => f.name)
      .sort();
    if (!file || file.readBy.length === 0) {
      throw new PlanError(
        'unknown-input',
        `"${name}" is not an input of this package; its inputs are: ${inputs.join(', ') || 'none'}.`
      );
    }
    if (seen.has(name)) {
      throw new PlanError(
        'unknown-input',
        `The input "${name}" is replaced twice.`
      );
    }
    seen.add(name);
    // Before the first selected step that reads it: a step that writes it earlier must not
    // overwrite the user's file, and a step that reads it must find it.
    const reader = selected.findIndex(step => file.readBy.includes(step));
    const beforeStep = reader === -1 ? 0 : reader;
    const owner = steps[beforeStep];
    return {
      name,
      path: posix.normalize(file.path),
      source,
      beforeStep,
      uid: owner.uid,
      gid: owner.gid,
      mode: 0o644
    };
  });
}

function planLimits(
  limits: Partial<RunLimits> | undefined,
  defaults: RunLimits
): RunLimits {
  const merged = { ...defaults, ...limits };
  for (const [name, value] of Object.entries(merged)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new PlanError(
        'bad-limit',
        `The limit ${name} must be a positive number, not ${String(value)}.`
      );
    }
    const max = MAX_LIMITS[name as keyof RunLimits];
    if (value > max) {
      throw new PlanError(
        'bad-limit',
        `The limit ${name} must be at most ${max}, not ${value}.`
      );
    }
  }
  if (merged.memoryMiB < 6) {
    throw new PlanError(
      'bad-limit',
      'The memory limit must be at least 6 MiB (Docker refuses less).'
    );
  }
  return merged;
}
