/**
 * Turns `reproserver run` flags into run edits. STEP is a 0-based index or a run id; INDEX is a
 * 0-based argv index. Every mistake is one sentence naming the flag.
 */
import type { PackageModel } from '../rpz/model';
import { splitCommandLine } from '../runs/cmdline';
import type { RunEdits, StepEdit } from '../runs/edits';
import { resolveStep } from '../runs/plan';

export function editsFromFlags(
  model: PackageModel,
  flags: Record<string, string[]>
): RunEdits {
  const stepEdits = new Map<number, StepEdit>();
  const edit = (step: number): StepEdit => {
    let existing = stepEdits.get(step);
    if (!existing) {
      existing = { step };
      stepEdits.set(step, existing);
    }
    return existing;
  };
  const split = (
    flag: string,
    value: string,
    separator: string
  ): [string, string] => {
    const at = value.indexOf(separator);
    if (at <= 0) {
      throw new Error(
        `--${flag} "${value}" is not of the form ${FORMS[flag]}.`
      );
    }
    return [value.slice(0, at), value.slice(at + 1)];
  };

  for (const value of flags.cmdline ?? []) {
    const [step, line] = split('cmdline', value, '=');
    edit(resolveStep(model, step)).argv = splitCommandLine(line);
  }
  for (const value of flags.arg ?? []) {
    const [target, argValue] = split('arg', value, '=');
    const [step, index] = split('arg', target, ':');
    if (!/^\d+$/.test(index)) {
      throw new Error(
        `--arg "${value}": the argument index "${index}" is not a number.`
      );
    }
    const e = edit(resolveStep(model, step));
    (e.args ??= []).push({ index: Number(index), value: argValue });
  }
  for (const value of flags.env ?? []) {
    const [target, envValue] = split('env', value, '=');
    const [step, name] = split('env', target, ':');
    const e = edit(resolveStep(model, step));
    (e.setEnv ??= {})[name] = envValue;
  }
  for (const value of flags['unset-env'] ?? []) {
    const [step, name] = split('unset-env', value, ':');
    const e = edit(resolveStep(model, step));
    (e.unsetEnv ??= []).push(name);
  }

  const edits: RunEdits = {};
  const steps = flags.steps?.[flags.steps.length - 1];
  if (steps !== undefined) {
    edits.steps = steps
      .split(',')
      .filter(s => s.trim() !== '')
      .map(s => resolveStep(model, s.trim()));
  }
  if (stepEdits.size > 0) {
    edits.stepEdits = [...stepEdits.values()];
  }
  const inputs = (flags.input ?? []).map(value => {
    const [name, path] = split('input', value, '=');
    return { name, source: { kind: 'file' as const, path } };
  });
  if (inputs.length > 0) {
    edits.inputs = inputs;
  }
  const limits: RunEdits['limits'] = {};
  const number = (flag: string): number | undefined => {
    const text = flags[flag]?.[flags[flag].length - 1];
    if (text === undefined) {
      return undefined;
    }
    const parsed = Number(text);
    if (!Number.isFinite(parsed) || parsed <= 0) {
      throw new Error(`--${flag} "${text}" is not a positive number.`);
    }
    return parsed;
  };
  const timeout = number('timeout');
  const memory = number('memory');
  const disk = number('disk');
  if (disk !== undefined) {
    limits.diskMiB = disk;
  }
  if (timeout !== undefined) {
    limits.timeoutSeconds = timeout;
  }
  if (memory !== undefined) {
    limits.memoryMiB = memory;
  }
  if (Object.keys(limits).length > 0) {
    edits.limits = limits;
  }
  return edits;
}

const FORMS: Record<string, string> = {
  cmdline: "STEP='command line'",
  arg: 'STEP:INDEX=VALUE',
  env: 'STEP:NAME=VALUE',
  'unset-env': 'STEP:NAME',
  input: 'NAME=PATH'
};
