import { Signal, type ISignal } from '@lumino/signaling';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import {
  type PackageModel,
  type RunEdits,
  type RunLimits,
  type RunParameters,
  type InputSource,
  type StepEdit,
  joinCommandLine,
  quoteWord,
  splitCommandLine,
  type ArgParameter
} from 'reproserver/contract';

export type { InputSource };

/** One argv item as the panel edits it. */
export interface IArgField {
  /** Index in argv. */
  index: number;
  kind: ArgParameter['kind'];
  /** Option name shown as the field's label (`--n`), for options and their values. */
  option?: string;
  /** For `--name=value` items: only the value part is edited. */
  inline: boolean;
  valueType?: ArgParameter['valueType'];
  /** Index into the package's files when the item names one. */
  file?: number;
  role?: ArgParameter['role'];
  /** The item as recorded. */
  original: string;
}

/** The value part of an item, as its field shows it. */
export function fieldValue(field: IArgField, item: string): string {
  if (field.inline && field.option && item.startsWith(field.option + '=')) {
    return item.slice(field.option.length + 1);
  }
  return item;
}

/** The argv item a field's value stands for. */
export function itemFromValue(field: IArgField, value: string): string {
  return field.inline && field.option ? `${field.option}=${value}` : value;
}

/** Typed fields from the server's classification of one step's argv. */
export function fieldsFromParameters(
  argv: string[],
  parameters: RunParameters | undefined
): IArgField[] {
  return argv.map((text, index) => {
    const p = parameters?.args.find(a => a.index === index);
    if (!p) {
      return {
        index,
        kind: index === 0 ? 'program' : 'text',
        inline: false,
        original: text
      };
    }
    return {
      index,
      kind: p.kind,
      option: p.option,
      inline: p.kind === 'option' && p.value !== undefined,
      valueType: p.valueType,
      file: p.file,
      role: p.role,
      original: text
    };
  });
}

/** The edits of one step: typed fields or a raw command line, environment, selection. */
export class StepEditor {
  constructor(
    readonly index: number,
    readonly id: string,
    readonly argv: readonly string[],
    readonly environ: Readonly<Record<string, string>>,
    readonly fields: readonly IArgField[]
  ) {
    this.values = [...argv];
    this.rawText = joinCommandLine([...argv]);
    this.env = Object.entries(environ).map(([name, value]) => ({
      name,
      value
    }));
  }

  /** Current argv items (typed mode). */
  values: string[];
  /** Whether the command line is edited as one text. */
  raw = false;
  rawText: string;
  /** Current environment, in display order. */
  env: { name: string; value: string }[];
  selected = true;

  /** The argv the step will run with; throws on an unbalanced quote in raw mode. */
  currentArgv(): string[] {
    return this.raw ? splitCommandLine(this.rawText) : [...this.values];
  }

  isArgChanged(index: number): boolean {
    return this.values[index] !== this.argv[index];
  }

  isEnvChanged(name: string): boolean {
    const current = this.env.find(e => e.name === name);
    return current === undefined
      ? name in this.environ
      : this.environ[name] !== current.value;
  }

  /** Names of the recorded variables that were removed. */
  removedEnv(): string[] {
    const present = new Set(this.env.map(e => e.name));
    return Object.keys(this.environ).filter(name => !present.has(name));
  }

  get commandChanged(): boolean {
    if (this.raw) {
      try {
        return !sameArgv(splitCommandLine(this.rawText), this.argv);
      } catch {
        return true;
      }
    }
    return this.values.some((v, i) => v !== this.argv[i]);
  }

  get envChanged(): boolean {
    return (
      this.removedEnv().length > 0 ||
      this.env.some(e => this.environ[e.name] !== e.value)
    );
  }

  get changed(): boolean {
    return !this.selected || this.commandChanged || this.envChanged;
  }

  /** This step's part of the run edits, or null when nothing changed. */
  toStepEdit(): StepEdit | null {
    const edit: StepEdit = { step: this.index };
    if (this.raw) {
      const argv = splitCommandLine(this.rawText);
      if (!sameArgv(argv, this.argv)) {
        edit.argv = argv;
      }
    } else {
      const args = this.values
        .map((value, index) => ({ index, value }))
        .filter(a => a.value !== this.argv[a.index]);
      if (args.length > 0) {
        edit.args = args;
      }
    }
    const setEnv: Record<string, string> = {};
    for (const { name, value } of this.env) {
      if (name !== '' && this.environ[name] !== value) {
        setEnv[name] = value;
      }
    }
    if (Object.keys(setEnv).length > 0) {
      edit.setEnv = setEnv;
    }
    const removed = this.removedEnv();
    if (removed.length > 0) {
      edit.unsetEnv = removed;
    }
    return Object.keys(edit).length > 1 ? edit : null;
  }

  /** Back to the recorded command line and environment. */
  reset(): void {
    this.values = [...this.argv];
    this.rawText = joinCommandLine([...this.argv]);
    this.raw = false;
    this.env = Object.entries(this.environ).map(([name, value]) => ({
      name,
      value
    }));
    this.selected = true;
  }
}

/** A replacement of one input file, and what to call it. */
export interface IInputReplacement {
  source: InputSource;
  /** Workspace path or uploaded file name, for people. */
  label: string;
}

/** The limits the panel lets users change. */
export type EditableLimits = Pick<RunLimits, 'memoryMiB' | 'timeoutSeconds'>;

/**
 * Everything the user changed before a run. Emits `changed` after every change; `toRunEdits()`
 * turns it into the API's `RunEdits`.
 */
export class EditsModel {
  constructor(
    readonly model: PackageModel,
    parameters: RunParameters[],
    defaultLimits: EditableLimits,
    trans?: TranslationBundle
  ) {
    this._trans = trans ?? nullTranslator.load('jupyterlab_reproserver');
    this.steps = model.runs.map(
      (run, index) =>
        new StepEditor(
          index,
          run.id,
          run.argv,
          run.environ,
          fieldsFromParameters(
            run.argv,
            parameters.find(p => p.run === index)
          )
        )
    );
    this._defaultLimits = { ...defaultLimits };
    this.limits = { ...defaultLimits };
  }

  readonly steps: StepEditor[];
  limits: EditableLimits;

  /** `structural` is true when the set of fields changed (a re-render is needed). */
  get changed(): ISignal<this, { structural: boolean }> {
    return this._changed;
  }

  /** Replacements by input name. */
  get inputs(): ReadonlyMap<string, IInputReplacement> {
    return this._inputs;
  }

  setArg(step: number, index: number, value: string): void {
    this.steps[step].values[index] = value;
    this._emit(false);
  }

  resetArg(step: number, index: number): void {
    const s = this.steps[step];
    s.values[index] = s.argv[index];
    this._emit(true);
  }

  setRawText(step: number, text: string): void {
    this.steps[step].rawText = text;
    this._emit(false);
  }

  /**
   * Switches between typed fields and the raw command line. Returns an error sentence when the
   * raw text cannot go back to fields (an unclosed quote, or not the same number of items).
   */
  setRaw(step: number, raw: boolean): string | null {
    const s = this.steps[step];
    if (s.raw === raw) {
      return null;
    }
    if (raw) {
      s.rawText = joinCommandLine(s.values);
      s.raw = true;
    } else {
      let argv: string[];
      try {
        argv = splitCommandLine(s.rawText);
      } catch (error) {
        return (error as Error).message;
      }
      if (argv.length !== s.argv.length) {
        return this._trans._n(
          'The command line has %1 item instead of %2; it can only be edited as text.',
          'The command line has %1 items instead of %2; it can only be edited as text.',
          argv.length,
          s.argv.length
        );
      }
      s.values = argv;
      s.raw = false;
    }
    this._emit(true);
    return null;
  }

  setEnv(step: number, position: number, name: string, value: string): void {
    const s = this.steps[step];
    s.env[position] = { name, value };
    this._emit(false);
  }

  addEnv(step: number): void {
    this.steps[step].env.push({ name: '', value: '' });
    this._emit(true);
  }

  removeEnv(step: number, position: number): void {
    this.steps[step].env.splice(position, 1);
    this._emit(true);
  }

  resetEnv(step: number): void {
    const s = this.steps[step];
    s.env = Object.entries(s.environ).map(([name, value]) => ({
      name,
      value
    }));
    this._emit(true);
  }

  setSelected(step: number, selected: boolean): void {
    this.steps[step].selected = selected;
    this._emit(true);
  }

  resetStep(step: number): void {
    this.steps[step].reset();
    this._emit(true);
  }

  replaceInput(name: string, replacement: IInputReplacement): void {
    this._inputs.set(name, replacement);
    this._emit(true);
  }

  resetInput(name: string): void {
    this._inputs.delete(name);
    this._emit(true);
  }

  /** The translation of the problems `setRaw` reports. */
  setTranslator(trans: TranslationBundle): void {
    this._trans = trans;
  }

  setLimits(limits: Partial<EditableLimits>): void {
    this.limits = { ...this.limits, ...limits };
    this._emit(false);
  }

  /** Back to the package as recorded. */
  resetAll(): void {
    for (const s of this.steps) {
      s.reset();
    }
    this._inputs.clear();
    this.limits = { ...this._defaultLimits };
    this._emit(true);
  }

  get isChanged(): boolean {
    return this.steps.some(s => s.changed) || this._inputs.size > 0;
  }

  /** The edits for `POST /api/runs`; throws with a sentence when a raw command line is invalid. */
  toRunEdits(): RunEdits {
    const edits: RunEdits = {};
    if (this.steps.some(s => !s.selected)) {
      edits.steps = this.steps.filter(s => s.selected).map(s => s.index);
    }
    const stepEdits = this.steps
      .filter(s => s.selected)
      .map(s => s.toStepEdit())
      .filter((e): e is StepEdit => e !== null);
    if (stepEdits.length > 0) {
      edits.stepEdits = stepEdits;
    }
    if (this._inputs.size > 0) {
      edits.inputs = [...this._inputs].map(([name, r]) => ({
        name,
        source: r.source
      }));
    }
    edits.limits = { ...this.limits };
    return edits;
  }

  /** Sets the fields from a recorded run's edits (re-run with the same changes). */
  applyRunEdits(edits: RunEdits): void {
    for (const s of this.steps) {
      s.reset();
    }
    this._inputs.clear();
    if (edits.steps) {
      for (const s of this.steps) {
        s.selected = edits.steps.includes(s.index);
      }
    }
    for (const e of edits.stepEdits ?? []) {
      const s = this.steps[e.step];
      if (!s) {
        continue;
      }
      let argv = e.argv ? [...e.argv] : [...s.argv];
      for (const a of e.args ?? []) {
        argv[a.index] = a.value;
      }
      argv = argv.map(v => v ?? '');
      if (e.argv || argv.length !== s.argv.length) {
        s.raw = true;
        s.rawText = joinCommandLine(argv);
      } else {
        s.values = argv;
      }
      for (const [name, value] of Object.entries(e.setEnv ?? {})) {
        const existing = s.env.find(v => v.name === name);
        if (existing) {
          existing.value = value;
        } else {
          s.env.push({ name, value });
        }
      }
      s.env = s.env.filter(v => !(e.unsetEnv ?? []).includes(v.name));
    }
    for (const input of edits.inputs ?? []) {
      const source = input.source;
      this._inputs.set(input.name, {
        source,
        label:
          source.kind === 'blob'
            ? `upload ${source.sha256.slice(0, 12)}`
            : source.path
      });
    }
    this.limits = {
      memoryMiB: edits.limits?.memoryMiB ?? this._defaultLimits.memoryMiB,
      timeoutSeconds:
        edits.limits?.timeoutSeconds ?? this._defaultLimits.timeoutSeconds
    };
    this._emit(true);
  }

  private _emit(structural: boolean): void {
    this._changed.emit({ structural });
  }

  private _defaultLimits: EditableLimits;
  private _inputs = new Map<string, IInputReplacement>();
  private _changed = new Signal<this, { structural: boolean }>(this);
  private _trans: TranslationBundle;
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The `reproserver run …` command line equivalent to a run's edits. Uploaded inputs have no path
 * the CLI could read, so they appear as a placeholder to fill in.
 */
export function commandForEdits(
  packagePath: string,
  edits: RunEdits,
  outDir: string
): string {
  const words = ['reproserver', 'run', quoteWord(packagePath)];
  words.push('--out', quoteWord(outDir));
  if (edits.steps) {
    words.push('--steps', edits.steps.join(','));
  }
  for (const e of edits.stepEdits ?? []) {
    if (e.argv) {
      words.push(
        '--cmdline',
        quoteWord(`${e.step}=${joinCommandLine(e.argv)}`)
      );
    }
    for (const a of e.args ?? []) {
      words.push('--arg', quoteWord(`${e.step}:${a.index}=${a.value}`));
    }
    for (const [name, value] of Object.entries(e.setEnv ?? {})) {
      words.push('--env', quoteWord(`${e.step}:${name}=${value}`));
    }
    for (const name of e.unsetEnv ?? []) {
      words.push('--unset-env', quoteWord(`${e.step}:${name}`));
    }
  }
  for (const input of edits.inputs ?? []) {
    const path =
      input.source.kind === 'blob'
        ? `UPLOADED-${input.source.sha256.slice(0, 12)}`
        : input.source.path;
    words.push('--input', quoteWord(`${input.name}=${path}`));
  }
  if (edits.limits?.timeoutSeconds !== undefined) {
    words.push('--timeout', String(edits.limits.timeoutSeconds));
  }
  if (edits.limits?.memoryMiB !== undefined) {
    words.push('--memory', String(edits.limits.memoryMiB));
  }
  return words.join(' ');
}
