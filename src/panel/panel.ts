import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { PackageSession } from '../model/package';
import { button, h } from './dom';
import { HistoryView } from './history';
import { InputsView } from './inputs';
import {
  nextRunBackend,
  type ConsentMemory,
  type ConsentPrompt
} from '../model/consent';
import { renderIsolation } from './isolation';
import { renderOverview } from './overview';
import { ParametersView } from './parameters';
import { RunView, statusLabel } from './run';
import { CommandIDs } from '../tokens';

/** What the panel asks of JupyterLab. */
export interface IPanelServices {
  trans: TranslationBundle;
  openFile(path: string): void;
  openFolder(path: string): void;
  copy(text: string): void;
  /** Asks the user for a workspace file to replace an input; null when cancelled. */
  pickWorkspaceFile(inputName: string): Promise<string | null>;
  /** The keyboard shortcut of a command as the command registry shows it, or null. */
  shortcutOf?(command: string): string | null;
  /**
   * Asks before a package runs on a backend that does not isolate it from the user's account,
   * and keeps the answers; without it, such runs do not start.
   */
  consent?: { prompt: ConsentPrompt; memory: ConsentMemory };
}

/** The panel's tabs. */
export type PanelTab = 'overview' | 'parameters' | 'inputs' | 'run' | 'history';

const TABS: PanelTab[] = ['overview', 'parameters', 'inputs', 'run', 'history'];

/**
 * The ReproServer panel of one package: a header with the server's state, the run toolbar and
 * five tabs. It renders its `PackageSession` and calls its methods; it never fetches.
 */
export class RpzPanel extends Widget {
  constructor(
    readonly session: PackageSession,
    private readonly _services: IPanelServices
  ) {
    super();
    this.addClass('jp-ReproServer-panel');
    this.node.tabIndex = -1;
    const trans = _services.trans;
    session.setTranslator(trans);
    if (_services.consent) {
      session.setConsent(_services.consent.prompt, _services.consent.memory);
    }
    this._header = h('div', { class: 'jp-ReproServer-header' });
    this._state = h('div', { class: 'jp-ReproServer-state' });
    this._toolbar = h('div', {
      class: 'jp-ReproServer-toolbar jp-ReproServer-row'
    });
    this._tabBar = h('div', {
      class: 'jp-ReproServer-tabs',
      role: 'tablist',
      'aria-label': trans.__('ReproServer sections')
    });
    this._body = h('div', { class: 'jp-ReproServer-body' });
    this.node.append(
      this._header,
      this._state,
      this._toolbar,
      this._tabBar,
      this._body
    );
    this._runView = new RunView(session, trans, _services);
    this._historyView = new HistoryView(session, trans, {
      copy: text => _services.copy(text),
      showRun: () => this.selectTab('run')
    });
    session.changed.connect(this._onSessionChanged, this);
    session.runChanged.connect(this._onRunChanged, this);
    this._render();
  }

  /** The tab on display. */
  get currentTab(): PanelTab {
    return this._tab;
  }

  selectTab(tab: PanelTab): void {
    this._tab = tab;
    this._renderTabs();
    this._renderBody();
  }

  /** Runs the package with the current edits and shows the run. */
  async runPackage(): Promise<void> {
    this.selectTab('run');
    await this.session.start();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.session.changed.disconnect(this._onSessionChanged, this);
    this.session.runChanged.disconnect(this._onRunChanged, this);
    this._runView.dispose();
    this._historyView.dispose();
    this._parametersView?.dispose();
    this.session.dispose();
    super.dispose();
  }

  private _onSessionChanged(): void {
    const details = this.session.details;
    if (details !== this._renderedDetails) {
      this._renderedDetails = details;
      this._parametersView?.dispose();
      this._parametersView = null;
      this._inputsView = null;
      this._overview = null;
      if (this.session.edits) {
        this._parametersView = new ParametersView(
          this.session.edits,
          this._services.trans
        );
        this._inputsView = new InputsView(
          this.session,
          this._services.trans,
          this._services.pickWorkspaceFile
        );
        this.session.edits.changed.connect((_, change) => {
          if (change.structural) {
            this._inputsView?.render();
          }
          this._renderToolbar();
        });
      }
      this._render();
      return;
    }
    this._inputsView?.render();
    this._renderHeader();
    this._renderState();
    this._renderToolbar();
    this._renderTabs();
  }

  private _onRunChanged(): void {
    this._renderToolbar();
    this._renderTabs();
  }

  private _render(): void {
    this._renderHeader();
    this._renderState();
    this._renderToolbar();
    this._renderTabs();
    this._renderBody();
  }

  private _renderHeader(): void {
    const trans = this._services.trans;
    const path = this.session.path;
    const usable = nextRunBackend(
      this.session.backends,
      this.session.options.backend
    );
    this._header.replaceChildren(
      h('h2', { class: 'jp-ReproServer-title' }, path.split('/').pop() ?? path),
      h('div', { class: 'jp-ReproServer-path' }, path),
      usable
        ? h(
            'div',
            { class: 'jp-ReproServer-backend jp-ReproServer-muted' },
            trans.__('Runs on %1: %2', usable.name, usable.detail)
          )
        : '',
      usable?.isolation ? renderIsolation(usable.isolation, trans) : ''
    );
  }

  private _renderState(): void {
    const trans = this._services.trans;
    const s = this.session;
    const parts: HTMLElement[] = [];
    if (s.phase === 'loading') {
      parts.push(
        h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-loading',
            role: 'status'
          },
          trans.__('Reading the package…')
        )
      );
    } else if (s.phase === 'unreachable') {
      parts.push(
        h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-unreachable',
            role: 'alert'
          },
          h(
            'strong',
            {},
            trans.__('The ReproServer companion server does not answer.')
          ),
          h('div', {}, s.message),
          h(
            'div',
            { class: 'jp-ReproServer-muted' },
            trans.__(
              'It is started by jupyter-server-proxy; check the "Companion server URL" setting and the Jupyter server log.'
            )
          ),
          button(trans.__('Try again'), () => void s.load())
        )
      );
    } else if (s.phase === 'error') {
      parts.push(
        h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-malformed',
            role: 'alert'
          },
          h('strong', {}, trans.__('This package cannot be opened.')),
          h('div', {}, s.message),
          button(trans.__('Try again'), () => void s.load())
        )
      );
    }
    if (s.versionWarning && s.phase !== 'unreachable') {
      parts.push(
        h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-versionMismatch',
            role: 'alert'
          },
          s.versionWarning
        )
      );
    }
    const cannot = s.phase === 'ready' ? s.cannotRun : null;
    if (cannot) {
      parts.push(
        h(
          'div',
          {
            class: 'jp-ReproServer-message jp-ReproServer-nobackend',
            role: 'alert'
          },
          cannot
        )
      );
    }
    const notice = s.notice;
    if (notice) {
      parts.push(
        h(
          'div',
          {
            class: `jp-ReproServer-notice jp-ReproServer-notice-${notice.kind}`,
            role: notice.kind === 'error' ? 'alert' : 'status'
          },
          h('span', {}, notice.text),
          button('×', () => s.dismissNotice(), {
            'aria-label': trans.__('Dismiss'),
            class: 'jp-ReproServer-dismiss'
          })
        )
      );
    }
    this._state.replaceChildren(...parts);
  }

  /**
   * Shows the toolbar's state. Its controls are made once (`_makeToolbar`) and only updated here:
   * a limit field commits on `change`, which fires on blur, i.e. on the mousedown of the next
   * control clicked; replacing that control there would lose the click.
   */
  private _renderToolbar(): void {
    const trans = this._services.trans;
    const s = this.session;
    const edits = s.edits;
    if (s.phase !== 'ready' || !edits) {
      this._toolbar.hidden = true;
      return;
    }
    const bar = (this._bar ??= this._makeToolbar());
    if (bar.edits !== edits) {
      // Another package version was loaded: its fields start from its own limits.
      bar.edits = edits;
      bar.memory.value = String(edits.limits.memoryMiB);
      bar.timeout.value = String(edits.limits.timeoutSeconds);
    }
    this._toolbar.hidden = false;
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

  /** The toolbar's controls, made once per panel; they act on the session's current edits. */
  private _makeToolbar(): IToolbarControls {
    const trans = this._services.trans;
    const s = this.session;
    const limitField = (
      label: string,
      min: number,
      set: (value: number) => void,
      step?: number
    ) => {
      const field = h('input', {
        type: 'number',
        min,
        step,
        class: 'jp-ReproServer-input jp-mod-styled jp-ReproServer-limit',
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
    const controls: IToolbarControls = {
      edits: null,
      memory,
      timeout,
      run: button(trans.__('Run'), () => void this.runPackage(), {
        class: 'jp-ReproServer-run-button jp-mod-accept'
      }),
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
    this._toolbar.replaceChildren(
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

  /** Shows the tabs' labels and which one is current; the tab buttons are made once. */
  private _renderTabs(): void {
    const trans = this._services.trans;
    const ready = this.session.phase === 'ready';
    this._tabBar.hidden = !ready;
    if (!ready) {
      return;
    }
    const tabs = (this._tabs ??= this._makeTabs());
    const run = this.session.run;
    const labels: Record<PanelTab, string> = {
      overview: trans.__('Overview'),
      parameters: trans.__('Parameters'),
      inputs: trans.__('Inputs'),
      run: run
        ? trans.__('Run · %1', statusLabel(run.status, trans))
        : trans.__('Run'),
      history: trans.__('History (%1)', this.session.history.length)
    };
    for (const tab of TABS) {
      const node = tabs[tab];
      const current = tab === this._tab;
      if (node.textContent !== labels[tab]) {
        node.textContent = labels[tab];
      }
      node.classList.toggle('jp-mod-current', current);
      node.setAttribute('aria-selected', String(current));
      node.tabIndex = current ? 0 : -1;
    }
  }

  /** The tab buttons, in `TABS` order, with their click and arrow-key handlers. */
  private _makeTabs(): Record<PanelTab, HTMLButtonElement> {
    const tabs = {} as Record<PanelTab, HTMLButtonElement>;
    for (const tab of TABS) {
      tabs[tab] = h('button', {
        type: 'button',
        role: 'tab',
        class: 'jp-ReproServer-tab',
        'data-tab': tab,
        onclick: () => this.selectTab(tab),
        onkeydown: (e: Event) => {
          const key = (e as KeyboardEvent).key;
          if (key === 'ArrowRight' || key === 'ArrowLeft') {
            e.preventDefault();
            const i = TABS.indexOf(this._tab);
            const next =
              TABS[
                (i + (key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length
              ];
            this.selectTab(next);
            tabs[next].focus();
          }
        }
      });
    }
    this._tabBar.replaceChildren(...TABS.map(tab => tabs[tab]));
    return tabs;
  }

  private _renderBody(): void {
    const s = this.session;
    if (s.phase !== 'ready' || !s.details) {
      this._body.replaceChildren();
      return;
    }
    let content: HTMLElement;
    switch (this._tab) {
      case 'overview':
        content = this._overview ??= renderOverview(
          s.details,
          this._services.trans
        );
        break;
      case 'parameters':
        content = this._parametersView!.node;
        break;
      case 'inputs':
        content = this._inputsView!.node;
        break;
      case 'run':
        content = this._runView.node;
        break;
      case 'history':
        content = this._historyView.node;
        break;
    }
    this._body.replaceChildren(
      h(
        'div',
        {
          role: 'tabpanel',
          class: `jp-ReproServer-section jp-ReproServer-section-${this._tab}`
        },
        content
      )
    );
  }

  private _header: HTMLElement;
  private _state: HTMLElement;
  private _toolbar: HTMLElement;
  private _tabBar: HTMLElement;
  private _body: HTMLElement;
  private _tab: PanelTab = 'overview';
  private _overview: HTMLElement | null = null;
  private _parametersView: ParametersView | null = null;
  private _inputsView: InputsView | null = null;
  private _runView: RunView;
  private _historyView: HistoryView;
  private _renderedDetails: unknown = null;
  private _bar: IToolbarControls | null = null;
  private _tabs: Record<PanelTab, HTMLButtonElement> | null = null;
}

/** The toolbar's controls that change with the session, kept to update them in place. */
interface IToolbarControls {
  /** The edits the limit fields were last filled from. */
  edits: unknown;
  memory: HTMLInputElement;
  timeout: HTMLInputElement;
  run: HTMLButtonElement;
  cancel: HTMLButtonElement;
  changed: HTMLElement;
  resetAll: HTMLButtonElement;
}
