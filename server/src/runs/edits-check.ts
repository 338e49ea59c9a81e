/**
 * Checks that edits received as JSON have the shape of `RunEdits`, so that the plan (which checks
 * their meaning) never meets a string where it expects a list. One sentence per mistake.
 */
import type { InputSource, RunEdits, RunLimits, StepEdit } from './edits';

export class EditsShapeError extends Error {}

const fail = (message: string): never => {
  throw new EditsShapeError(message);
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) {
    fail(`${what} must be a list of strings.`);
  }
  return value as string[];
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (
    !isObject(value) ||
    !Object.values(value).every(v => typeof v === 'string')
  ) {
    fail(`${what} must map names to strings.`);
  }
  return value as Record<string, string>;
}

function integer(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(`${what} must be a whole number.`);
  }
  return value as number;
}

function stepEdit(value: unknown, at: number): StepEdit {
  const what = `stepEdits[${at}]`;
  if (!isObject(value)) {
    return fail(`${what} must be an object.`);
  }
  const edit: StepEdit = { step: integer(value.step, `${what}.step`) };
  if (value.argv !== undefined) {
    edit.argv = stringList(value.argv, `${what}.argv`);
  }
  if (value.args !== undefined) {
    if (!Array.isArray(value.args)) {
      fail(`${what}.args must be a list.`);
    }
    edit.args = (value.args as unknown[]).map((arg, i) => {
      if (!isObject(arg) || typeof arg.value !== 'string') {
        return fail(
          `${what}.args[${i}] must be {index, value} with a string value.`
        );
      }
      return {
        index: integer(arg.index, `${what}.args[${i}].index`),
        value: arg.value
      };
    });
  }
  if (value.setEnv !== undefined) {
    edit.setEnv = stringMap(value.setEnv, `${what}.setEnv`);
  }
  if (value.unsetEnv !== undefined) {
    edit.unsetEnv = stringList(value.unsetEnv, `${what}.unsetEnv`);
  }
  return edit;
}

function inputSource(value: unknown, what: string): InputSource {
  if (
    isObject(value) &&
    value.kind === 'workspace' &&
    typeof value.path === 'string'
  ) {
    return { kind: 'workspace', path: value.path };
  }
  if (
    isObject(value) &&
    value.kind === 'blob' &&
    typeof value.sha256 === 'string'
  ) {
    return { kind: 'blob', sha256: value.sha256 };
  }
  return fail(
    `${what} must be {kind: 'workspace', path} or {kind: 'blob', sha256}.`
  );
}

export const LIMIT_NAMES: readonly (keyof RunLimits)[] = [
  'memoryMiB',
  'cpus',
  'pids',
  'timeoutSeconds',
  'outputBytes',
  'logBytes',
  'diskMiB'
];

/** The edits, checked for shape; unknown keys are refused so typos are not silently ignored. */
export function checkEditsShape(value: unknown): RunEdits {
  if (value === undefined) {
    return {};
  }
  if (!isObject(value)) {
    return fail('edits must be an object.');
  }
  const known = ['steps', 'stepEdits', 'inputs', 'limits'];
  const unknown = Object.keys(value).filter(k => !known.includes(k));
  if (unknown.length > 0) {
    fail(`edits has unknown fields: ${unknown.join(', ')}.`);
  }
  const edits: RunEdits = {};
  if (value.steps !== undefined) {
    if (!Array.isArray(value.steps)) {
      fail('edits.steps must be a list of step indexes.');
    }
    edits.steps = (value.steps as unknown[]).map((s, i) =>
      integer(s, `steps[${i}]`)
    );
  }
  if (value.stepEdits !== undefined) {
    if (!Array.isArray(value.stepEdits)) {
      fail('edits.stepEdits must be a list.');
    }
    edits.stepEdits = (value.stepEdits as unknown[]).map(stepEdit);
  }
  if (value.inputs !== undefined) {
    if (!Array.isArray(value.inputs)) {
      fail('edits.inputs must be a list.');
    }
    edits.inputs = (value.inputs as unknown[]).map((input, i) => {
      if (!isObject(input) || typeof input.name !== 'string') {
        return fail(`inputs[${i}] must be {name, source}.`);
      }
      return {
        name: input.name,
        source: inputSource(input.source, `inputs[${i}].source`)
      };
    });
  }
  if (value.limits !== undefined) {
    if (!isObject(value.limits)) {
      fail('edits.limits must be an object.');
    }
    const limits: Partial<RunLimits> = {};
    for (const [name, limit] of Object.entries(
      value.limits as Record<string, unknown>
    )) {
      if (!LIMIT_NAMES.includes(name as keyof RunLimits)) {
        fail(
          `edits.limits has an unknown limit "${name}"; known: ${LIMIT_NAMES.join(', ')}.`
        );
      }
      if (typeof limit !== 'number') {
        fail(`The limit ${name} must be a number.`);
      }
      limits[name as keyof RunLimits] = limit as number;
    }
    edits.limits = limits;
  }
  return edits;
}
