import type { TranslationBundle } from '@jupyterlab/translation';
import type { PackageModel } from 'reproserver/contract';
import {
  fieldValue,
  itemFromValue,
  type EditsModel,
  type IArgField,
  type StepEditor
} from '../model/edits';
import { button, h, input } from './dom';

/**
 * The steps' command lines as typed fields (or raw text), their environments and whether they
 * run. Re-renders on structural changes only, so typing never loses focus; markers of changed
 * fields follow every change.
 */
export class ParametersView {
  constructor(
    private readonly _edits: EditsModel,
    private readonly _trans: TranslationBundle
  ) {
    this.node = h('div', { class: 'jp-ReproServer-parameters' });
    _edits.changed.connect(this._onChanged, this);
    this.render();
  }

  readonly node: HTMLElement;

  dispose(): void {
    this._edits.changed.disconnect(this._onChanged, this);
  }

  render(): void {
    this._refreshers = [];
    this.node.replaceChildren(
      ...this._edits.steps.map(step => this._renderStep(step))
    );
    this._refresh();
  }

  private _onChanged(_: EditsModel, change: { structural: boolean }): void {
    if (change.structural) {
      this.render();
    } else {
      this._refresh();
    }
  }

  private _refresh(): void {
    for (const refresh of this._refreshers) {
      refresh();
    }
  }

  private _renderStep(step: StepEditor): HTMLElement {
    const trans = this._trans;
    const edits = this._edits;
    const error = h('div', { class: 'jp-ReproServer-error', role: 'alert' });
    const header = h(
      'div',
      { class: 'jp-ReproServer-stepHeader' },
      h(
        'label',
        { class: 'jp-ReproServer-check' },
        h('input', {
          type: 'checkbox',
          class: 'jp-mod-styled',
          checked: step.selected,
          'aria-label': trans.__('Run step %1', step.id),
          onchange: (e: Event) =>
            edits.setSelected(
              step.index,
              (e.target as HTMLInputElement).checked
            )
        }),
        h('span', { class: 'jp-ReproServer-stepId' }, step.id)
      ),
      h('span', { class: 'jp-ReproServer-changedMark' }, trans.__('changed')),
      h('span', { class: 'jp-ReproServer-spacer' }),
      h(
        'label',
        { class: 'jp-ReproServer-check' },
        h('input', {
          type: 'checkbox',
          class: 'jp-mod-styled',
          checked: step.raw,
          onchange: (e: Event) => {
            const target = e.target as HTMLInputElement;
            const problem = edits.setRaw(step.index, target.checked);
            if (problem) {
              target.checked = !target.checked;
              error.textContent = problem;
            }
          }
        }),
        trans.__('Edit as text')
      ),
      button(trans.__('Reset step'), () => edits.resetStep(step.index), {
        title: trans.__('Back to the recorded command line and environment')
      })
    );
    const section = h(
      'section',
      {
        class: 'jp-ReproServer-stepEditor',
        'data-step': step.index
      },
      header
    );
    this._refreshers.push(() => {
      section.classList.toggle('jp-mod-changed', step.changed);
      section.classList.toggle('jp-mod-deselected', !step.selected);
    });
    if (step.raw) {
      section.append(
        h('textarea', {
          class: 'jp-ReproServer-raw jp-mod-styled',
          rows: 2,
          spellcheck: 'false',
          'aria-label': trans.__('Command line of %1', step.id),
          value: step.rawText,
          oninput: (e: Event) =>
            edits.setRawText(
              step.index,
              (e.target as HTMLTextAreaElement).value
            )
        })
      );
    } else {
      section.append(
        h(
          'div',
          { class: 'jp-ReproServer-fields' },
          ...this._renderFields(step)
        )
      );
    }
    section.append(error, this._renderEnv(step));
    return section;
  }

  private _renderFields(step: StepEditor): HTMLElement[] {
    const rows: HTMLElement[] = [];
    const fields = step.fields;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      const next = fields[i + 1];
      if (
        field.kind === 'option' &&
        !field.inline &&
        next &&
        (next.kind === 'option-value' ||
          (next.kind === 'file' && next.option === field.option))
      ) {
        continue; // Shown as the label of its value.
      }
      rows.push(this._renderField(step, field));
    }
    return rows;
  }

  private _renderField(step: StepEditor, field: IArgField): HTMLElement {
    const trans = this._trans;
    const files = (this._edits.model as PackageModel).files;
    let label: string;
    let type = 'text';
    let kindClass: string = field.kind;
    if (field.kind === 'program') {
      label = trans.__('program');
    } else if (field.kind === 'file') {
      const file = field.file !== undefined ? files[field.file] : undefined;
      label = field.option
        ? trans.__('%1 (%2)', field.option, file?.name ?? trans.__('file'))
        : trans.__(
            '%1 file %2',
            roleLabel(field.role, trans),
            file?.name ?? ''
          );
    } else if (field.kind === 'option' && !field.inline) {
      label = trans.__('flag');
      kindClass = 'flag';
    } else if (field.option) {
      label = field.option;
    } else {
      label = trans.__('argument %1', field.index);
    }
    if (
      field.valueType === 'number' &&
      (field.kind === 'number' ||
        field.kind === 'option-value' ||
        field.kind === 'option')
    ) {
      type = 'number';
    }
    const valueField = input({
      type,
      step: type === 'number' ? 'any' : undefined,
      value: fieldValue(field, step.values[field.index]),
      'data-index': field.index,
      'aria-label': trans.__('%1 %2', step.id, label),
      oninput: (e: Event) =>
        this._edits.setArg(
          step.index,
          field.index,
          itemFromValue(field, (e.target as HTMLInputElement).value)
        )
    });
    const row = h(
      'div',
      {
        class: `jp-ReproServer-field jp-ReproServer-field-${kindClass}`,
        'data-index': field.index
      },
      h('label', { class: 'jp-ReproServer-fieldLabel' }, label),
      valueField,
      // Always four cells, so every row lines up in the grid.
      h(
        'span',
        { class: 'jp-ReproServer-muted jp-ReproServer-fieldHint' },
        field.kind !== 'file'
          ? ''
          : field.role === 'output'
            ? trans.__('written by the step')
            : trans.__('replace its content in Inputs')
      ),
      button(
        trans.__('Reset'),
        () => this._edits.resetArg(step.index, field.index),
        {
          class: 'jp-ReproServer-reset',
          title: trans.__('Back to "%1"', field.original)
        }
      )
    );
    this._refreshers.push(() =>
      row.classList.toggle('jp-mod-changed', step.isArgChanged(field.index))
    );
    return row;
  }

  private _renderEnv(step: StepEditor): HTMLElement {
    const trans = this._trans;
    const edits = this._edits;
    const rows = step.env.map((variable, position) => {
      const nameInput = input({
        value: variable.name,
        'aria-label': trans.__('Variable name'),
        oninput: () =>
          edits.setEnv(step.index, position, nameInput.value, valueInput.value)
      });
      const valueInput = input({
        value: variable.value,
        'aria-label': trans.__('Value of %1', variable.name),
        oninput: () =>
          edits.setEnv(step.index, position, nameInput.value, valueInput.value)
      });
      const row = h(
        'tr',
        {},
        h('td', {}, nameInput),
        h('td', {}, valueInput),
        h(
          'td',
          {},
          button(
            '×',
            () => edits.removeEnv(step.index, position),
            {
              title: trans.__('Remove this variable'),
              'aria-label': trans.__('Remove %1', variable.name)
            },
            'minimal'
          )
        )
      );
      this._refreshers.push(() => {
        const current = step.env[position];
        row.classList.toggle(
          'jp-mod-changed',
          current !== undefined && step.environ[current.name] !== current.value
        );
      });
      return row;
    });
    const removed = step.removedEnv();
    const details = h(
      'details',
      { class: 'jp-ReproServer-env' },
      h(
        'summary',
        {},
        trans._n(
          'Environment (%1 variable)',
          'Environment (%1 variables)',
          step.env.length
        ),
        h('span', { class: 'jp-ReproServer-changedMark' }, trans.__('changed'))
      ),
      h('table', { class: 'jp-ReproServer-envTable' }, h('tbody', {}, ...rows)),
      removed.length > 0
        ? h(
            'div',
            { class: 'jp-ReproServer-muted' },
            trans.__('Removed: %1', removed.join(', '))
          )
        : '',
      h(
        'div',
        { class: 'jp-ReproServer-row' },
        button(trans.__('Add variable'), () => edits.addEnv(step.index)),
        button(trans.__('Reset environment'), () => edits.resetEnv(step.index))
      )
    );
    if (this._openEnv.has(step.index) || step.envChanged) {
      details.open = true;
    }
    details.addEventListener('toggle', () => {
      if (details.open) {
        this._openEnv.add(step.index);
      } else {
        this._openEnv.delete(step.index);
      }
    });
    this._refreshers.push(() =>
      details.classList.toggle('jp-mod-changed', step.envChanged)
    );
    return details;
  }

  private _refreshers: (() => void)[] = [];
  private _openEnv = new Set<number>();
}

function roleLabel(role: IArgField['role'], trans: TranslationBundle): string {
  return role === 'output'
    ? trans.__('output')
    : role === 'both'
      ? trans.__('input/output')
      : trans.__('input');
}
