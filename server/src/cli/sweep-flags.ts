/**
 * Turns `reproserver sweep` flags into a sweep's axes. VALUES is written as in the panel
 * (`sweeps/values-syntax.ts`): a comma-separated list, or a single `START:STOP` or
 * `START:STOP:STEP` of numbers, a range with the stop included. An input's values are files: a glob, a folder (its files), or
 * a comma-separated list of files, on this machine. Every mistake is one sentence naming the flag.
 */
import { resolve } from 'node:path';
import type { SweepAxis, SweepValues } from '../contract/schemas/sweeps';
import type { PackageModel } from '../rpz/model';
import { errorMessage } from '../describe';
import { resolveStep } from '../runs/plan';
import { resolveFiles } from '../service/sweeps/files';
import { parseRangeText, splitValueList } from '../sweeps/values-syntax';

/** The values of `--arg`, `--env` or `--cmdline`: a list, or a range of numbers. */
export function parseValues(text: string): SweepValues {
  const range = parseRangeText(text);
  return range
    ? { kind: 'range', ...range }
    : { kind: 'list', values: splitValueList(text) };
}

/** The files an `--input` names: a glob, a folder's files, or a list; absolute, sorted for globs. */
export async function resolveInputFiles(
  text: string,
  cwd = process.cwd()
): Promise<string[]> {
  const listed = parseValues(text);
  const paths =
    listed.kind === 'list' ? listed.values.filter(p => p !== '') : [text];
  if (paths.length > 1) {
    return paths.map(path => resolve(cwd, path));
  }
  try {
    // The one resolver of globs and folders, the API's too.
    return await resolveFiles(paths[0] ?? '', { host: cwd });
  } catch (error) {
    throw new Error(`--input: ${errorMessage(error)}`);
  }
}

/** The axes the flags give, in the order the flags were given within each kind. */
export async function axesFromFlags(
  model: PackageModel,
  flags: Record<string, string[]>
): Promise<SweepAxis[]> {
  const axes: SweepAxis[] = [];
  const split = (flag: string, value: string, separator: string) => {
    const at = value.indexOf(separator);
    if (at <= 0) {
      throw new Error(
        `--${flag} "${value}" is not of the form ${FORMS[flag]}.`
      );
    }
    return [value.slice(0, at), value.slice(at + 1)] as const;
  };
  for (const value of flags.arg ?? []) {
    const [target, values] = split('arg', value, '=');
    const [step, index] = split('arg', target, ':');
    if (!/^\d+$/.test(index)) {
      throw new Error(
        `--arg "${value}": the argument index "${index}" is not a number.`
      );
    }
    axes.push({
      field: {
        kind: 'arg',
        step: resolveStep(model, step),
        index: Number(index)
      },
      values: parseValues(values)
    });
  }
  for (const value of flags.env ?? []) {
    const [target, values] = split('env', value, '=');
    const [step, name] = split('env', target, ':');
    axes.push({
      field: { kind: 'env', step: resolveStep(model, step), name },
      values: parseValues(values)
    });
  }
  for (const value of flags.cmdline ?? []) {
    const [step, values] = split('cmdline', value, '=');
    axes.push({
      field: { kind: 'cmdline', step: resolveStep(model, step) },
      values: parseValues(values)
    });
  }
  for (const value of flags.input ?? []) {
    const [name, files] = split('input', value, '=');
    axes.push({
      field: { kind: 'input', name },
      values: { kind: 'files', paths: await resolveInputFiles(files) }
    });
  }
  if (axes.length === 0) {
    throw new Error(
      'Give at least one field to vary: --arg, --env, --cmdline or --input.'
    );
  }
  return axes;
}

const FORMS: Record<string, string> = {
  cmdline: 'STEP=VALUES',
  arg: 'STEP:INDEX=VALUES',
  env: 'STEP:NAME=VALUES',
  input: 'NAME=GLOB|FILE,FILE'
};
