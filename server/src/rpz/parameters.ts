/**
 * Parameters derived from a run's command line, so the panel can offer typed fields: which argv
 * items name one of the package's input/output files, which are options with values (`--n 5`,
 * `--n=5`, `-k 3`) and which are numbers. Pure functions over plain data.
 */
import { posix } from 'node:path';
import type { IoFileModel, RunModel } from './model';

/** How one argv item can be edited. */
export type ArgKind =
  /** `argv[0]`: the program. */
  | 'program'
  /** Names an input/output file of the package (relative to the working directory or absolute). */
  | 'file'
  /** An option flag; `value` is set for `--name=value`. */
  | 'option'
  /** The value following an option flag (`5` in `--n 5`). */
  | 'option-value'
  /** A number on its own. */
  | 'number'
  /** Anything else. */
  | 'text';

/** Type of a value, for the input field to show. */
export type ValueType = 'number' | 'string' | 'file';

/** One argv item and what it is. */
export interface ArgParameter {
  /** Index in `argv`. */
  index: number;
  /** The item verbatim. */
  text: string;
  kind: ArgKind;
  /** For `option`/`option-value`: the option name with dashes, e.g. `--n`, `-k`. */
  option?: string;
  /** For `option` written `--name=value`, or `option-value`: the value text. */
  value?: string;
  /** Type of `value` (or of the item for `number`/`file`). */
  valueType?: ValueType;
  /** For `file` (or an option whose value is a file): index into the package's `files`. */
  file?: number;
  /** For `file`: whether the run reads it, writes it, or both. */
  role?: 'input' | 'output' | 'both';
}

/** The parameters of one run. */
export interface RunParameters {
  run: number;
  args: ArgParameter[];
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const LONG_OPTION = /^--[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const LONG_OPTION_VALUE = /^(--[A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)$/s;
const SHORT_OPTION = /^-[A-Za-z]$/;

/** True when `text` is a decimal number (`5`, `-3`, `0.5`, `1e-3`). */
export function isNumber(text: string): boolean {
  return NUMBER.test(text);
}

/**
 * The package's files by normalised path (first one wins), and each named file's runs as sets.
 * Built once per call, so classifying an argv costs one lookup per item: scanning the files for
 * each item was quadratic (200 000 arguments against 100 000 files never finished).
 */
class FileIndex {
  private readonly byPath = new Map<string, number>();
  private readonly runs = new Map<
    number,
    { reads: Set<number>; writes: Set<number> }
  >();

  constructor(private readonly files: IoFileModel[]) {
    for (let i = 0; i < files.length; i++) {
      const key = posix.normalize(files[i].path);
      if (!this.byPath.has(key)) {
        this.byPath.set(key, i);
      }
    }
  }

  /** The index of the file `text` names from `workingdir`, or -1. */
  find(text: string, workingdir: string): number {
    if (text === '' || text.startsWith('-')) {
      return -1;
    }
    return this.byPath.get(posix.resolve(workingdir, text)) ?? -1;
  }

  role(file: number, run: number): 'input' | 'output' | 'both' {
    let sets = this.runs.get(file);
    if (sets === undefined) {
      const { readBy, writtenBy } = this.files[file];
      sets = { reads: new Set(readBy), writes: new Set(writtenBy) };
      this.runs.set(file, sets);
    }
    const reads = sets.reads.has(run);
    const writes = sets.writes.has(run);
    // A file the run neither reads nor writes but names is most likely an input of it.
    return reads && writes ? 'both' : writes ? 'output' : 'input';
  }
}

/** Classifies every argv item of `run` (index `runIndex`) against the package's files. */
export function runParameters(
  run: RunModel,
  runIndex: number,
  files: IoFileModel[]
): RunParameters {
  return classify(run, runIndex, new FileIndex(files));
}

function classify(
  run: RunModel,
  runIndex: number,
  index: FileIndex
): RunParameters {
  const args: ArgParameter[] = [];
  const fileAt = (text: string): number => index.find(text, run.workingdir);
  const roleOf = (file: number): 'input' | 'output' | 'both' =>
    index.role(file, runIndex);
  for (let i = 0; i < run.argv.length; i++) {
    const text = run.argv[i];
    if (i === 0) {
      args.push({ index: 0, text, kind: 'program' });
      continue;
    }
    const file = fileAt(text);
    if (file !== -1) {
      args.push({
        index: i,
        text,
        kind: 'file',
        valueType: 'file',
        file,
        role: roleOf(file)
      });
      continue;
    }
    const inline = LONG_OPTION_VALUE.exec(text);
    if (inline !== null) {
      const valueFile = fileAt(inline[2]);
      args.push({
        index: i,
        text,
        kind: 'option',
        option: inline[1],
        value: inline[2],
        ...(valueFile !== -1
          ? {
              valueType: 'file' as const,
              file: valueFile,
              role: roleOf(valueFile)
            }
          : {
              valueType: isNumber(inline[2])
                ? ('number' as const)
                : ('string' as const)
            })
      });
      continue;
    }
    if (LONG_OPTION.test(text) || SHORT_OPTION.test(text)) {
      args.push({ index: i, text, kind: 'option', option: text });
      const next = run.argv[i + 1];
      // A following item that is not itself an option is taken as this option's value. Without
      // knowing the program we cannot tell a flag from an option, so `-v file` counts as a pair.
      if (
        next !== undefined &&
        (isNumber(next) || !next.startsWith('-') || next === '-')
      ) {
        const nextFile = fileAt(next);
        args.push({
          index: i + 1,
          text: next,
          kind: nextFile !== -1 ? 'file' : 'option-value',
          option: text,
          value: next,
          ...(nextFile !== -1
            ? {
                valueType: 'file' as const,
                file: nextFile,
                role: roleOf(nextFile)
              }
            : {
                valueType: isNumber(next)
                  ? ('number' as const)
                  : ('string' as const)
              })
        });
        i++;
      }
      continue;
    }
    if (isNumber(text)) {
      args.push({ index: i, text, kind: 'number', valueType: 'number' });
      continue;
    }
    args.push({ index: i, text, kind: 'text' });
  }
  return { run: runIndex, args };
}

/** `runParameters` for every run of a package. */
export function packageParameters(model: {
  runs: RunModel[];
  files: IoFileModel[];
}): RunParameters[] {
  const index = new FileIndex(model.files);
  return model.runs.map((run, i) => classify(run, i, index));
}
