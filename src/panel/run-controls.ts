import type { Toolbar } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import type { PackageSession } from '../model/package';
import { CommandIDs } from '../tokens';
import { button, h, input } from './dom';
import type { IPanelServices } from './panel';

/** The name of the controls among the items of a document's toolbar. */
export const RUN_CONTROLS_ITEM = 'reproserver-run-controls';

/**
 * The run controls of a package: Run, Cancel, the memory and time limits, Reset all, Copy as
 * command. In JupyterLab they sit in the document's toolbar (`DocumentWidget.toolbar`, put there
 * by the document factory); a panel without a document (tests) keeps them above its tabs.
 *
 * The controls are made once and only updated (`render`): a limit field commits on `change`,
 * which fires on blur, i.e. on the mousedown of the next control clicked; replacing that control
 * there would lose the click.
 */
export class RunControls extends Widget {
  constructor(
    private readonly _session: PackageSession,
    private readonly _services: IPanelServices,
    private readonly _run: () => void
  ) {
    super();
    this.addClass('jp-ReproServer-toolbar');
    this.addClass('jp-ReproServer-row');
    this.node.setAttribute('role', 'group');
    this.node.setAttribute(
      'aria-label',
      _services.trans.__('Run this package')
    );
  }

  /** Puts the controls in a document's toolbar (its first items are JupyterLab's). */
  moveTo(toolbar: Toolbar<Widget>): void {
    this.addClass('jp-mod-inDocumentToolbar');
    toolbar.addItem(RUN_CONTROLS_ITEM, this);
  }

  /** Shows the session's state: enabled buttons, limits (unless being typed), the changed mark. */
  render(): void {
    const trans = this._services.trans;
    const s = this._session;
    const edits = s.edits;
    if (s.phase !== 'ready' || !edits) {
      this.setHidden(true);
      return;
    }
    const bar = (this._controls ??= this._make());
    if (bar.edits !== edits) {
      // Another package version was loaded: its fields start from its own limits.
      bar.edits = edits;
      bar.memory.value = String(edits.limits.memoryMiB);
      bar.timeout.value = String(edits.limits.timeoutSeconds);
    }
    this.setHidden(false);
    const running = s.run !== null && !s.run.finished;
    // Never overwrite what the user is typing.
    if (document.activeElement !== bar.memory) {
      bar.memory.value = String(edits.limits.memoryMiB);
    }
    if (document.activeElement !== bar.timeout) {
      bar.timeout.value = String(edits.limits.timeoutSeconds);
    }
    bar.run.disabled = running || s.busy || s.cannotRun !== null;
    // Shortcuts load with the settings and can be changed there: asked each time.
    const shortcut = this._services.shortcutOf?.(CommandIDs.run) ?? null;
    bar.run.title = shortcut
      ? trans.__(
          'Run the package with these parameters and inputs (%1)',
          shortcut
        )
      : trans.__('Run the package with these parameters and inputs');
    bar.cancel.disabled = !running;
    bar.changed.hidden = !edits.isChanged;
    bar.changed.classList.toggle('jp-mod-visible', edits.isChanged);
    bar.resetAll.disabled = !edits.isChanged;
  }

  /** The controls, made once; they act on the session's current edits. */
  private _make(): IControls {
    const trans = this._services.trans;
    const s = this._session;
    const limitField = (
      label: string,
      min: number,
      set: (value: number) => void,
      step?: number
    ) => {
      const field = input({
        type: 'number',
        min,
        step,
        class: 'jp-ReproServer-limit',
        'aria-label': label,
        onchange: () => {
          const v = Number(field.value);
          if (v > 0) {
            set(v);
          }
        }
      });
      return field;
    };
    const memory = limitField(
      trans.__('Memory limit (MiB)'),
      16,
      v => s.edits?.setLimits({ memoryMiB: v }),
      64
    );
    const timeout = limitField(trans.__('Time limit (seconds)'), 1, v =>
      s.edits?.setLimits({ timeoutSeconds: v })
    );
    const controls: IControls = {
      edits: null,
      memory,
      timeout,
      run: button(
        trans.__('Run'),
        () => this._run(),
        { class: 'jp-ReproServer-run-button' },
        'accept'
      ),
      cancel: button(trans.__('Cancel'), () => void s.cancel(), {
        class: 'jp-ReproServer-cancel-button'
      }),
      changed: h(
        'span',
        { class: 'jp-ReproServer-changedMark' },
        trans.__('changed')
      ),
      resetAll: button(trans.__('Reset all'), () => s.edits?.resetAll(), {
        title: trans.__('Back to the package as recorded')
      })
    };
    this.node.replaceChildren(
      controls.run,
      controls.cancel,
      h(
        'label',
        { class: 'jp-ReproServer-limitLabel' },
        trans.__('Memory'),
        memory,
        trans.__('MiB')
      ),
      h(
        'label',
        { class: 'jp-ReproServer-limitLabel' },
        trans.__('Time'),
        timeout,
        trans.__('s')
      ),
      h('span', { class: 'jp-ReproServer-spacer' }),
      controls.changed,
      controls.resetAll,
      button(
        trans.__('Copy as command'),
        () => this._services.copy(s.commandFor()),
        {
          title: trans.__('Copy the equivalent "reproserver run" command line')
        }
      )
    );
    return controls;
  }

  private _controls: IControls | null = null;
}

/** The controls that change with the session, kept to update them in place. */
interface IControls {
  /** The edits the limit fields were last filled from. */
  edits: unknown;
  memory: HTMLInputElement;
  timeout: HTMLInputElement;
  run: HTMLButtonElement;
  cancel: HTMLButtonElement;
  changed: HTMLElement;
  resetAll: HTMLButtonElement;
}
