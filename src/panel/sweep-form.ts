import type { TranslationBundle } from '@jupyterlab/translation';
import type { PackageSession } from '../model/package';
import {
  fieldKey,
  sweepFieldChoices,
  type ISweepFieldChoice
} from '../sweep/fields';
import {
  countDrafts,
  draftValues,
  type IAxisDraft,
  type IValuesMessages,
  type SweepCombine,
  type SweepCount
} from '../sweep/values';
import { button, h, input } from './dom';

/**
 * The Sweep tab's form: the fields to vary (an argument, a variable, a command line, an input),
 * each with its values as the CLI reads them (a list or a range; files, a folder or a glob for
 * inputs), with a note saying how they were read; grid or zip; the number of runs before
 * starting (the server's count and bounds); and Start. Typing updates the notes and the count in
 * place, so the field being typed in keeps the focus.
 */
export class SweepForm {
  constructor(
    private readonly _session: PackageSession,
    private readonly _trans: TranslationBundle,
    private readonly _pickWorkspaceFile: (
      inputName: string
    ) => Promise<string | null>
  ) {
    this.node = h('div', { class: 'jp-ReproServer-sweepForm' });
    const model = _session.details!.model;
    this._choices = sweepFieldChoices(model, _trans);
    // One field to start with: the first argument, the most common thing to vary.
    const first =
      this._choices.find(c => c.field.kind === 'arg') ?? this._choices[0];
    if (first) {
      this._drafts.push({ field: first.field, text: '' });
    }
    this._count = h('div', {
      class: 'jp-ReproServer-sweepCount',
      role: 'status',
      'aria-live': 'polite'
    });
    this._start = button(
      _trans.__('Start sweep'),
      () => void this._startSweep(),
      { class: 'jp-ReproServer-sweepStart' },
      'accept'
    );
    this.render();
  }

  readonly node: HTMLElement;

  /** The axes as typed so far. */
  get drafts(): readonly IAxisDraft[] {
    return this._drafts;
  }

  render(): void {
    const trans = this._trans;
    this._notes = [];
    const rows = this._drafts.map((draft, i) => this._renderAxis(draft, i));
    const combine = h(
      'select',
      {
        class: 'jp-mod-styled jp-ReproServer-sweepCombine',
        'aria-label': trans.__('How the fields combine'),
        onchange: (e: Event) => {
          this._combine = (e.target as HTMLSelectElement).value as SweepCombine;
          this._update();
        }
      },
      h(
        'option',
        { value: 'grid', selected: this._combine === 'grid' },
        trans.__('Grid: every combination')
      ),
      h(
        'option',
        { value: 'zip', selected: this._combine === 'zip' },
        trans.__('Zip: the i-th values together')
      )
    );
    this.node.replaceChildren(
      h(
        'p',
        { class: 'jp-ReproServer-muted' },
        trans.__(
          'Runs the package once per variant: the edits of the Parameters and Inputs tabs, with these fields varied.'
        )
      ),
      h('div', { class: 'jp-ReproServer-sweepAxes' }, ...rows),
      h(
        'div',
        { class: 'jp-ReproServer-row' },
        button(trans.__('Add a field'), () => this._addAxis(), {
          class: 'jp-ReproServer-sweepAdd',
          disabled: this._choices.length === 0
        }),
        this._drafts.length > 1 ? combine : ''
      ),
      h('div', { class: 'jp-ReproServer-row' }, this._count, this._start)
    );
    this._update();
  }

  /** Recounts and shows the notes, the count or the problem, without re-rendering the fields. */
  refresh(): void {
    this._update();
  }

  private _renderAxis(draft: IAxisDraft, index: number): HTMLElement {
    const trans = this._trans;
    const key = fieldKey(draft.field);
    const isInput = draft.field.kind === 'input';
    const field = h(
      'select',
      {
        class: 'jp-mod-styled jp-ReproServer-sweepField',
        'aria-label': trans.__('Field %1', index + 1),
        onchange: (e: Event) => {
          const choice = this._choices.find(
            c => c.key === (e.target as HTMLSelectElement).value
          );
          if (choice) {
            // Files and text do not mix: a field of the other kind starts empty.
            const same = (choice.field.kind === 'input') === isInput;
            this._drafts[index] = {
              field: choice.field,
              text: same ? draft.text : ''
            };
            this.render();
          }
        }
      },
      ...groups(this._choices).map(([group, choices]) =>
        h(
          'optgroup',
          { label: group },
          ...choices.map(c =>
            h('option', { value: c.key, selected: c.key === key }, c.label)
          )
        )
      )
    );
    const values = input({
      class: 'jp-ReproServer-sweepValues',
      value: draft.text,
      placeholder: isInput
        ? trans.__(
            'data/a.txt, data/b.txt · a folder data/ · a glob data/*.txt'
          )
        : trans.__('1, 2, 5 · a range 1:10 or 0:1:0.25'),
      'aria-label': trans.__('Values of field %1', index + 1),
      spellcheck: 'false',
      oninput: (e: Event) => {
        draft.text = (e.target as HTMLInputElement).value;
        this._update();
      }
    });
    const note = h('div', { class: 'jp-ReproServer-axisNote' });
    this._notes[index] = note;
    return h(
      'div',
      { class: 'jp-ReproServer-sweepAxis', 'data-axis': index },
      h(
        'div',
        { class: 'jp-ReproServer-row' },
        field,
        values,
        isInput
          ? button(trans.__('Add a file…'), () => {
              const name = draft.field.kind === 'input' ? draft.field.name : '';
              void this._pickWorkspaceFile(name).then(path => {
                if (path) {
                  const escaped = path.replace(/[\\,:]/g, '\\$&');
                  const before = draft.text.trim().replace(/,$/, '');
                  draft.text = before ? `${before}, ${escaped}` : escaped;
                  this.render();
                }
              });
            })
          : '',
        button(
          '×',
          () => {
            this._drafts.splice(index, 1);
            this.render();
          },
          {
            'aria-label': trans.__('Remove field %1', index + 1),
            class: 'jp-ReproServer-dismiss'
          },
          'minimal'
        )
      ),
      note
    );
  }

  private _update(): void {
    const trans = this._trans;
    const count = this._countNow();
    this._lastCount = count;
    this._drafts.forEach((draft, i) => {
      const note = this._notes[i];
      if (note) {
        note.textContent = this._axisNote(draft);
        note.className = 'jp-ReproServer-axisNote jp-ReproServer-muted';
        note.removeAttribute('role');
      }
    });
    this._count.classList.toggle('jp-mod-error', !count.ok);
    if (!count.ok) {
      const note = count.axis !== null ? this._notes[count.axis] : undefined;
      if (note) {
        note.textContent = count.problem;
        note.className = 'jp-ReproServer-axisNote jp-ReproServer-error';
        note.setAttribute('role', 'alert');
        this._count.textContent = '';
      } else {
        this._count.textContent = count.problem;
      }
    } else if (count.runs === null) {
      this._count.textContent = trans.__(
        'The number of runs is known once the server lists the folder or glob.'
      );
    } else {
      this._count.textContent = trans._n('%1 run', '%1 runs', count.runs);
    }
    const sweeps = this._session.sweeps;
    this._start.disabled =
      !count.ok || (sweeps?.busy ?? true) || this._session.cannotRun !== null;
  }

  private _messages(): IValuesMessages & { noAxes: string } {
    const trans = this._trans;
    return {
      noAxes: trans.__('Add a field to vary.'),
      noValues: trans.__(
        'Give values separated by commas, or a range start:stop:step.'
      ),
      noFiles: trans.__(
        'Give workspace files separated by commas, a folder, or a glob.'
      ),
      noGlob: trans.__('Give a workspace folder or a glob such as data/*.txt.')
    };
  }

  private _countNow(): SweepCount {
    return countDrafts(this._drafts, this._combine, this._messages());
  }

  /** How an axis's text is read, for people: `a range from 1 to 10 by 1`, `3 files`… */
  private _axisNote(draft: IAxisDraft): string {
    const trans = this._trans;
    if (!draft.text.trim()) {
      return '';
    }
    let values;
    try {
      values = draftValues(draft, this._messages());
    } catch {
      return '';
    }
    switch (values.kind) {
      case 'list':
        return trans._n(
          'a list of %1 value',
          'a list of %1 values',
          values.values.length
        );
      case 'range':
        return trans.__(
          'a range from %1 to %2 by %3',
          values.start,
          values.stop,
          values.step
        );
      case 'files':
        return trans._n(
          '%1 workspace file',
          '%1 workspace files',
          values.paths.length
        );
      case 'glob':
        return trans.__(
          'the files of %1, listed when the sweep starts',
          values.pattern
        );
    }
  }

  private _addAxis(): void {
    const used = new Set(this._drafts.map(d => fieldKey(d.field)));
    const choice =
      this._choices.find(c => c.field.kind === 'arg' && !used.has(c.key)) ??
      this._choices.find(c => !used.has(c.key)) ??
      this._choices[0];
    if (choice) {
      this._drafts.push({ field: choice.field, text: '' });
      this.render();
      this.node
        .querySelector<HTMLInputElement>(
          `[data-axis="${this._drafts.length - 1}"] .jp-ReproServer-sweepValues`
        )
        ?.focus();
    }
  }

  private async _startSweep(): Promise<void> {
    const count = this._lastCount ?? this._countNow();
    if (!count.ok) {
      return;
    }
    this._start.disabled = true;
    await this._session.startSweep(count.axes, this._combine);
    this._update();
  }

  private _choices: ISweepFieldChoice[];
  private _drafts: IAxisDraft[] = [];
  private _combine: SweepCombine = 'grid';
  private _count: HTMLElement;
  private _start: HTMLButtonElement;
  private _notes: HTMLElement[] = [];
  private _lastCount: SweepCount | null = null;
}

/** The choices by group, in order. */
function groups(choices: ISweepFieldChoice[]): [string, ISweepFieldChoice[]][] {
  const out = new Map<string, ISweepFieldChoice[]>();
  for (const c of choices) {
    out.set(c.group, [...(out.get(c.group) ?? []), c]);
  }
  return [...out];
}
