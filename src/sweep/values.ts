/**
 * What the user types as an axis's values, turned into the contract's `SweepValues`, and the
 * number of runs a draft makes (the server's own `countVariants`, so the panel and the server
 * count alike and refuse alike). The syntax is the CLI's: a numeric range `start:stop[:step]`
 * (the stop included), else a comma-separated list (`\,` is a comma inside a value, `\:` a
 * colon, so `1\:4` is the one value `1:4`). For an input: one folder (`data/`) or glob
 * (`data/*.txt`), else a comma-separated list of workspace files.
 */
import {
  countVariants,
  parseRangeText,
  splitValueList,
  type SweepAxis,
  type SweepField,
  type SweepSpec,
  type SweepValues
} from 'reproserver/contract';

/** Grid (every combination) or zip (the i-th values together). */
export type SweepCombine = NonNullable<SweepSpec['combine']>;

/** How an axis's text is read. */
export type ValuesKind = 'list' | 'range' | 'files' | 'glob';

/** One axis as the user is writing it. */
export interface IAxisDraft {
  field: SweepField;
  text: string;
}

/** Characters that make a path a glob, as the CLI reads them. */
const GLOB_CHARACTERS = /[*?[\]{}]/;

/** How a draft's text is read: see the module's comment. */
export function valuesKind(draft: IAxisDraft): ValuesKind {
  if (draft.field.kind === 'input') {
    const paths = splitList(draft.text);
    return paths.length === 1 &&
      (GLOB_CHARACTERS.test(paths[0]) || paths[0].endsWith('/'))
      ? 'glob'
      : 'files';
  }
  return parseRange(draft.text) ? 'range' : 'list';
}

/** A value problem the panel shows next to the axis, as one sentence. */
export class ValuesError extends Error {}

/** A comma-separated list, escapes undone, values trimmed, empty ones dropped. */
export function splitList(text: string): string[] {
  return splitValueList(text, { trim: true });
}

/** `start:stop[:step]` (step 1 or -1 toward the stop when left out), or null when not a range. */
export const parseRange = parseRangeText;

/**
 * The contract's values of a draft; throws a `ValuesError` whose message says what to type
 * (`messages` gives its sentences, translated by the caller).
 */
export function draftValues(
  draft: IAxisDraft,
  messages: IValuesMessages
): SweepValues {
  switch (valuesKind(draft)) {
    case 'list': {
      const values = splitList(draft.text);
      if (values.length === 0) {
        throw new ValuesError(messages.noValues);
      }
      return { kind: 'list', values };
    }
    case 'range':
      return { kind: 'range', ...parseRange(draft.text)! };
    case 'files': {
      const paths = splitList(draft.text).map(p => p.replace(/^\/+/, ''));
      if (paths.length === 0) {
        throw new ValuesError(messages.noFiles);
      }
      return { kind: 'files', paths };
    }
    case 'glob': {
      const pattern = draft.text.trim().replace(/^\/+/, '');
      if (!pattern) {
        throw new ValuesError(messages.noGlob);
      }
      return { kind: 'glob', pattern };
    }
  }
}

/** The sentences of `draftValues`' problems. */
export interface IValuesMessages {
  noValues: string;
  noFiles: string;
  noGlob: string;
}

/** What a draft sweep makes: its axes and run count, or why it cannot start. */
export type SweepCount =
  | { ok: true; axes: SweepAxis[]; runs: number }
  /** Globs are resolved by the server: the count is known once the sweep is created. */
  | { ok: true; axes: SweepAxis[]; runs: null }
  | { ok: false; problem: string; axis: number | null };

/**
 * The axes and number of runs of the drafts, with the server's count and bounds
 * (`countVariants`, `SWEEP_BOUNDS`): an axis's own problem names that axis; a refusal of the
 * whole sweep (too many runs, zipped axes of different lengths) names none.
 */
export function countDrafts(
  drafts: IAxisDraft[],
  combine: SweepCombine,
  messages: IValuesMessages & { noAxes: string }
): SweepCount {
  if (drafts.length === 0) {
    return { ok: false, problem: messages.noAxes, axis: null };
  }
  const axes: SweepAxis[] = [];
  for (let i = 0; i < drafts.length; i++) {
    try {
      axes.push({
        field: drafts[i].field,
        values: draftValues(drafts[i], messages)
      });
    } catch (error) {
      return { ok: false, problem: (error as Error).message, axis: i };
    }
  }
  if (axes.some(a => a.values.kind === 'glob')) {
    // Count the others alone, so that their own bounds still show now.
    const known = axes.filter(a => a.values.kind !== 'glob');
    if (known.length > 0 && combine === 'grid') {
      try {
        countVariants({ axes: known, combine });
      } catch (error) {
        return { ok: false, problem: (error as Error).message, axis: null };
      }
    }
    return { ok: true, axes, runs: null };
  }
  try {
    return { ok: true, axes, runs: countVariants({ axes, combine }) };
  } catch (error) {
    return { ok: false, problem: (error as Error).message, axis: null };
  }
}
