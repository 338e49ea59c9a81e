/**
 * One set of edits over another, field by field: what the command line's flags change on top of a
 * run file's edits (`reproserver run exercise.rpzrun --arg 0:3=5`). A field the top edits set
 * replaces the base's; every other field of the base stays.
 */
import type { RunEdits, StepEdit } from '../runs/edits';

export function overlayEdits(base: RunEdits, top: RunEdits): RunEdits {
  const merged: RunEdits = structuredClone(base);
  if (top.steps !== undefined) {
    merged.steps = [...top.steps];
  }
  for (const edit of top.stepEdits ?? []) {
    const stepEdits = (merged.stepEdits ??= []);
    let into: StepEdit | undefined = stepEdits.find(e => e.step === edit.step);
    if (!into) {
      into = { step: edit.step };
      stepEdits.push(into);
    }
    if (edit.argv !== undefined) {
      // A new command line: the base's single arguments were about the old one.
      into.argv = [...edit.argv];
      delete into.args;
    }
    for (const arg of edit.args ?? []) {
      into.args = [
        ...(into.args ?? []).filter(a => a.index !== arg.index),
        arg
      ];
    }
    for (const [name, value] of Object.entries(edit.setEnv ?? {})) {
      into.setEnv = { ...into.setEnv, [name]: value };
      into.unsetEnv = into.unsetEnv?.filter(n => n !== name);
    }
    for (const name of edit.unsetEnv ?? []) {
      if (into.setEnv) {
        delete into.setEnv[name];
      }
      into.unsetEnv = [...new Set([...(into.unsetEnv ?? []), name])];
    }
  }
  for (const input of top.inputs ?? []) {
    merged.inputs = [
      ...(merged.inputs ?? []).filter(i => i.name !== input.name),
      input
    ];
  }
  if (top.limits !== undefined) {
    merged.limits = { ...merged.limits, ...top.limits };
  }
  return merged;
}
