/**
 * The section a run file adds above the panel's tabs: its title and instructions (Markdown, drawn
 * by JupyterLab's own markdown renderer from an untrusted model, so it is sanitized), and in
 * course mode the fields it opens — the only ones the user may change — with the values it sets
 * for the others. Where the package is not in the workspace it says where it is published, with
 * a button that fetches it. Plain DOM, re-rendered on structural changes only (typing keeps focus).
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { RunFileField, RunFileRecord } from 'reproserver/contract';
import type { EditsModel } from '../model/edits';
import type { PackageSession } from '../model/package';
import { button, h, input } from '../panel/dom';
import {
  entryValue,
  fieldEntries,
  fieldKey,
  isOpen,
  runFileEdits,
  type FieldEntry
} from './fields';

export interface IRunFileViewServices {
  trans: TranslationBundle;
  rendermime?: IRenderMimeRegistry | null;
  pickWorkspaceFile(inputName: string): Promise<string | null>;
}

/** What the section shows about the package. */
export type PackageState =
  | { kind: 'reading' }
  | { kind: 'ready' }
  | { kind: 'error'; message: string }
  /** Not in the workspace: where it is published, and whether the panel can fetch it. */
  | {
      kind: 'missing';
      source: string | null;
      fetch: (() => void) | null;
      /** Why the last fetch failed. */
      error?: string;
    }
  | { kind: 'fetching'; progress: string };

export class RunFileView {
  constructor(
    private readonly _session: PackageSession,
    private readonly _services: IRunFileViewServices
  ) {
    this.node = h('section', {
      class: 'jp-ReproServer-runFile',
      'aria-label': _services.trans.__('Run file')
    });
  }

  readonly node: HTMLElement;

  setRecord(record: RunFileRecord | null): void {
    this._record = record;
    this._instructions = null;
    this.render();
  }

  setPackageState(state: PackageState): void {
    this._state = state;
    this.render();
  }

  /** Follows the panel's edits: a new model (a reload) and structural changes redraw. */
  setEdits(edits: EditsModel | null): void {
    if (edits === this._edits) {
      return;
    }
    this._edits?.changed.disconnect(this._onEditsChanged, this);
    this._edits = edits;
    edits?.changed.connect(this._onEditsChanged, this);
    this.render();
  }

  dispose(): void {
    this._edits?.changed.disconnect(this._onEditsChanged, this);
    this._edits = null;
  }

  render(): void {
    const trans = this._services.trans;
    const record = this._record;
    if (!record) {
      this.node.replaceChildren(
        h(
          'div',
          { class: 'jp-ReproServer-muted' },
          trans.__('Reading the run file…')
        )
      );
      return;
    }
    const runFile = record.runFile;
    const name = record.path.split('/').pop() ?? record.path;
    this.node.replaceChildren(
      h('h2', { class: 'jp-ReproServer-runFile-title' }, runFile.title ?? name),
      h(
        'div',
        { class: 'jp-ReproServer-muted' },
        record.locked
          ? trans.__('Exercise from the run file %1.', name)
          : trans.__('Configured by the run file %1.', name)
      ),
      runFile.instructions
        ? this._renderInstructions(runFile.instructions)
        : '',
      this._renderPackageState(),
      record.locked && this._edits ? this._renderFields(record) : ''
    );
  }

  private _onEditsChanged(
    _: EditsModel,
    change: { structural: boolean }
  ): void {
    if (change.structural) {
      this.render();
    }
  }

  /** Markdown through JupyterLab's renderer, untrusted (sanitized); plain text without one. */
  private _renderInstructions(markdown: string): HTMLElement {
    if (this._instructions) {
      return this._instructions;
    }
    const host = h('div', { class: 'jp-ReproServer-runFile-instructions' });
    this._instructions = host;
    const rendermime = this._services.rendermime;
    if (!rendermime) {
      host.append(h('div', { class: 'jp-ReproServer-plainText' }, markdown));
      return host;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    host.append(renderer.node);
    // Untrusted: the renderer sanitizes the HTML the Markdown makes (no scripts, no handlers).
    // rendermime's `MimeModel` in substance, made here so the panel needs nothing of
    // `@jupyterlab/rendermime` at run time but its registry.
    const model: IRenderMime.IMimeModel = {
      trusted: false,
      data: { 'text/markdown': markdown },
      metadata: {},
      setData: () => undefined
    };
    void renderer.renderModel(model);
    return host;
  }

  private _renderPackageState(): HTMLElement | string {
    const trans = this._services.trans;
    const state = this._state;
    switch (state.kind) {
      case 'reading':
      case 'ready':
        return '';
      case 'error':
        return h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-malformed',
            role: 'alert'
          },
          state.message
        );
      case 'fetching':
        return h(
          'div',
          { class: 'jp-ReproServer-message', role: 'status' },
          state.progress
        );
      case 'missing':
        return h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-runFile-missing',
            role: 'alert'
          },
          h(
            'strong',
            {},
            trans.__('The package of this run file is not in the workspace.')
          ),
          state.source
            ? h(
                'div',
                {},
                trans.__('It is published at %1.', state.source),
                ' ',
                state.fetch
                  ? button(
                      trans.__('Fetch the package'),
                      state.fetch,
                      {},
                      'accept'
                    )
                  : trans.__(
                      'Fetch it with: reproserver fetch %1 --to <the run file’s folder>',
                      state.source
                    )
              )
            : h(
                'div',
                {},
                trans.__(
                  'Put the package where the run file says (package.path), then reopen it.'
                )
              ),
          state.error ? h('div', {}, state.error) : ''
        );
    }
  }

  /** The open fields as inputs, then what the run file sets for the others. */
  private _renderFields(record: RunFileRecord): HTMLElement {
    const trans = this._services.trans;
    const open = record.runFile.open ?? [];
    const fields = open.map(field => this._renderOpenField(field));
    const locked = [...fieldEntries(runFileEdits(record)).entries()]
      .filter(([key]) => !isOpen(open, key))
      .map(([, entry]) =>
        h(
          'li',
          {},
          h(
            'span',
            { class: 'jp-ReproServer-runFile-key' },
            this._label(entry)
          ),
          ': ',
          h('code', {}, entryValue(entry))
        )
      );
    return h(
      'div',
      { class: 'jp-ReproServer-runFile-fields' },
      h('h3', {}, trans.__('What you may change')),
      ...fields,
      locked.length > 0
        ? h(
            'div',
            { class: 'jp-ReproServer-runFile-locked' },
            h('h3', {}, trans.__('Set by the run file (locked)')),
            h('ul', {}, ...locked)
          )
        : '',
      h(
        'div',
        { class: 'jp-ReproServer-muted' },
        trans.__(
          'Every other field keeps the package’s value. The Parameters and Inputs tabs show the run read-only.'
        )
      )
    );
  }

  private _label(field: FieldEntry | RunFileField): string {
    const trans = this._services.trans;
    switch (field.kind) {
      case 'arg': {
        const option =
          this._edits?.steps[field.step]?.fields[field.index]?.option;
        return option
          ? trans.__(
              'Step %1, argument %2 (%3)',
              field.step,
              field.index,
              option
            )
          : trans.__('Step %1, argument %2', field.step, field.index);
      }
      case 'env':
        return trans.__('Step %1, variable %2', field.step, field.name);
      case 'input':
        return trans.__('Input %1', field.name);
      case 'cmdline':
        return trans.__('Step %1, command line', field.step);
      case 'limit':
        return field.name === 'memoryMiB'
          ? trans.__('Memory limit (MiB)')
          : field.name === 'timeoutSeconds'
            ? trans.__('Time limit (seconds)')
            : trans.__('Limit %1', field.name);
      case 'steps':
        return trans.__('Steps that run');
    }
  }

  private _renderOpenField(field: RunFileField): HTMLElement {
    const trans = this._services.trans;
    const edits = this._edits!;
    const label = this._label(field);
    const row = (...children: (HTMLElement | string)[]) =>
      h(
        'label',
        {
          class: 'jp-ReproServer-runFile-field',
          'data-field': fieldKey(field)
        },
        h('span', { class: 'jp-ReproServer-runFile-key' }, label),
        ...children
      );
    switch (field.kind) {
      case 'arg': {
        const step = edits.steps[field.step];
        if (!step || field.index >= step.values.length || step.raw) {
          return row(
            h(
              'span',
              { class: 'jp-ReproServer-muted' },
              trans.__('not in this package')
            )
          );
        }
        return row(
          input({
            value: step.values[field.index],
            'aria-label': label,
            oninput: event =>
              edits.setArg(
                field.step,
                field.index,
                (event.target as HTMLInputElement).value
              )
          })
        );
      }
      case 'cmdline': {
        const step = edits.steps[field.step];
        if (!step) {
          return row(
            h(
              'span',
              { class: 'jp-ReproServer-muted' },
              trans.__('not in this package')
            )
          );
        }
        return row(
          input({
            value: step.raw ? step.rawText : step.values.join(' '),
            'aria-label': label,
            onfocus: () => void edits.setRaw(field.step, true),
            oninput: event =>
              edits.setRawText(
                field.step,
                (event.target as HTMLInputElement).value
              )
          })
        );
      }
      case 'env': {
        const step = edits.steps[field.step];
        if (!step) {
          return row(
            h(
              'span',
              { class: 'jp-ReproServer-muted' },
              trans.__('not in this package')
            )
          );
        }
        const current = step.env.find(v => v.name === field.name);
        return row(
          input({
            value: current?.value ?? '',
            'aria-label': label,
            oninput: event => {
              const value = (event.target as HTMLInputElement).value;
              const position = step.env.findIndex(v => v.name === field.name);
              if (position === -1) {
                step.env.push({ name: field.name, value });
                edits.setEnv(
                  field.step,
                  step.env.length - 1,
                  field.name,
                  value
                );
              } else {
                edits.setEnv(field.step, position, field.name, value);
              }
            }
          })
        );
      }
      case 'input': {
        const replacement = edits.inputs.get(field.name);
        return row(
          h(
            'code',
            {},
            replacement?.label ?? trans.__('the package’s own file')
          ),
          button(trans.__('Choose…'), () => {
            void this._services.pickWorkspaceFile(field.name).then(path => {
              if (path) {
                this._session.replaceInputWithWorkspaceFile(field.name, path);
              }
            });
          }),
          replacement
            ? button(trans.__('Use the package’s file'), () =>
                edits.resetInput(field.name)
              )
            : ''
        );
      }
      case 'limit': {
        const name = field.name;
        if (name !== 'memoryMiB' && name !== 'timeoutSeconds') {
          return row(
            h(
              'span',
              { class: 'jp-ReproServer-muted' },
              trans.__('set in the toolbar where shown')
            )
          );
        }
        return row(trans.__('in the toolbar: %1', String(edits.limits[name])));
      }
      case 'steps':
        return row(
          ...edits.steps.map(step =>
            h(
              'label',
              { class: 'jp-ReproServer-runFile-step' },
              h('input', {
                type: 'checkbox',
                checked: step.selected,
                onchange: event =>
                  edits.setSelected(
                    step.index,
                    (event.target as HTMLInputElement).checked
                  )
              }),
              String(step.index)
            )
          )
        );
    }
  }

  private _record: RunFileRecord | null = null;
  private _state: PackageState = { kind: 'reading' };
  private _edits: EditsModel | null = null;
  private _instructions: HTMLElement | null = null;
}
