import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { TabBar, Widget } from '@lumino/widgets';
import type { RunRecord } from 'reproserver/contract';
import type { PackageSession } from '../model/package';
import { button, h } from './dom';
import { RunControls } from './run-controls';
import { HistoryView } from './history';
import type { LogView } from './log';
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
import { SweepTab } from './sweep-tab';
import { DeterminismBadge } from '../compare/badge';
import type { CompareSession } from '../compare/session';
import type { IWorkspaceFiles } from '../sweep/export';
import type { IWorkspaceContents } from '../model/workspace-upload';

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
  /** JupyterLab's contents manager: files uploaded from the computer go into the workspace. */
  contents?: IWorkspaceContents;
  /** JupyterLab's contents manager again: a sweep's table is exported as CSV through it. */
  workspaceFiles?: IWorkspaceFiles;
  /** Asks before an export replaces a workspace file; without it, files are never replaced. */
  confirmReplace?(path: string): Promise<boolean>;
  /** JupyterLab's renderers: a sweep's plot is drawn by its Vega-Lite renderer. */
  rendermime?: IRenderMimeRegistry | null;
  /** Saves a run's edits as a run file (`runfile/save.ts`); History offers it when given. */
  saveRunFile?(session: PackageSession, record: RunRecord): void;
}

/** The panel's tabs. */
export type PanelTab =
  'overview' | 'parameters' | 'inputs' | 'run' | 'history' | 'sweep';

const TABS: PanelTab[] = [
  'overview',
  'parameters',
  'inputs',
  'run',
  'history',
  'sweep'
];

/**
 * The ReproServer panel of one package: a header with the server's state, the run controls
 * (`RunControls`, which the document factory moves into the document's toolbar) and six tabs.
 * It renders its `PackageSession` and calls its methods; it never fetches.
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
    if (_services.contents) {
      session.setWorkspaceContents(_services.contents);
    }
    if (_services.consent) {
      session.setConsent(_services.consent.prompt, _services.consent.memory);
    }
    this._header = h('div', { class: 'jp-ReproServer-header' });
    this._state = h('div', { class: 'jp-ReproServer-state' });
    this.controls = new RunControls(
      session,
      _services,
      () => void this.runPackage()
    );
    this._tabBar = this._makeTabBar();
    this._tabHost = h('div', { class: 'jp-ReproServer-tabHost' });
    this._body = h('div', { class: 'jp-ReproServer-body' });
    this.node.append(
      this._header,
      this._state,
      // Here until a document puts them in its toolbar (`RunControls.moveTo`).
      this.controls.node,
      this._tabHost,
      this._body
    );
    this._runView = new RunView(session, trans, _services);
    this._historyView = new HistoryView(session, trans, {
      copy: text => _services.copy(text),
      showRun: () => this.selectTab('run'),
      saveRunFile: _services.saveRunFile
        ? record => _services.saveRunFile?.(session, record)
        : undefined
    });
    session.changed.connect(this._onSessionChanged, this);
    session.runChanged.connect(this._onRunChanged, this);
    this._render();
  }

  /** Run, Cancel, the limits…: in the document's toolbar once the factory moves them there. */
  readonly controls: RunControls;

  /** The log of the run on display, in the Run tab. */
  get log(): LogView {
    return this._runView.log;
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
    this._badge?.badge.dispose();
    this.controls.dispose();
    this._tabBar.dispose();
    this._tabOwners.forEach(owner => owner.dispose());
    this._parametersView?.dispose();
    this._sweepTab?.dispose();
    this.session.dispose();
    super.dispose();
  }

  /** The tab bar is a Lumino widget of its own: attached with the panel, for its events. */
  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (!this._tabBar.isAttached) {
      Widget.attach(this._tabBar, this._tabHost);
    }
  }

  protected onBeforeDetach(msg: Message): void {
    if (this._tabBar.isAttached) {
      Widget.detach(this._tabBar);
    }
    super.onBeforeDetach(msg);
  }

  private _onSessionChanged(): void {
    const details = this.session.details;
    if (details !== this._renderedDetails) {
      this._renderedDetails = details;
      this._parametersView?.dispose();
      this._parametersView = null;
      this._sweepTab?.dispose();
      this._sweepTab = null;
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
        this._sweepTab = new SweepTab(this.session, this._services.trans, {
          pickWorkspaceFile: this._services.pickWorkspaceFile,
          showRun: () => this.selectTab('run'),
          files: this._services.workspaceFiles,
          confirmReplace: this._services.confirmReplace,
          rendermime: this._services.rendermime
        });
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
          button(
            '×',
            () => s.dismissNotice(),
            {
              'aria-label': trans.__('Dismiss'),
              class: 'jp-ReproServer-dismiss'
            },
            'minimal'
          )
        )
      );
    }
    this._state.replaceChildren(...parts);
  }

  private _renderToolbar(): void {
    this.controls.render();
  }

  /**
   * Shows the tabs' labels and which one is current. The tabs are made once (`_makeTabBar`) and
   * rendered at once here, so that a click right after an edit finds the same tab in the page.
   */
  private _renderTabs(): void {
    const trans = this._services.trans;
    const ready = this.session.phase === 'ready';
    this._tabBar.node.hidden = !ready;
    if (!ready) {
      return;
    }
    const run = this.session.run;
    const labels: Record<PanelTab, string> = {
      overview: trans.__('Overview'),
      parameters: trans.__('Parameters'),
      inputs: trans.__('Inputs'),
      run: run
        ? trans.__('Run · %1', statusLabel(run.status, trans))
        : trans.__('Run'),
      history: trans.__('History (%1)', this.session.history.length),
      sweep: trans.__('Sweep')
    };
    TABS.forEach((tab, index) => {
      const title = this._tabOwners[index].title;
      if (title.label !== labels[tab]) {
        title.label = labels[tab];
      }
    });
    this._tabBar.currentIndex = TABS.indexOf(this._tab);
    // Now, not at the next frame: the tabs are in the page with their labels when this returns.
    this._tabBar.processMessage(Widget.Msg.UpdateRequest);
  }

  /** Lumino's tab bar, one tab per section (`data-tab` names it), in `TABS` order. */
  private _makeTabBar(): TabBar<Widget> {
    const bar = new TabBar<Widget>({
      orientation: 'horizontal',
      tabsMovable: false,
      allowDeselect: false,
      insertBehavior: 'none',
      removeBehavior: 'none'
    });
    bar.addClass('jp-ReproServer-tabs');
    bar.contentNode.setAttribute(
      'aria-label',
      this._services.trans.__('ReproServer sections')
    );
    for (const tab of TABS) {
      const owner = new Widget();
      owner.title.dataset = { tab };
      owner.title.className = 'jp-ReproServer-tab';
      this._tabOwners.push(owner);
      bar.addTab(owner.title);
    }
    bar.currentChanged.connect((_, { currentIndex }) => {
      const tab = TABS[currentIndex];
      if (tab && tab !== this._tab) {
        this.selectTab(tab);
      }
    });
    // The arrow keys move the focus along the tabs (Lumino's); the focused tab is shown, as the
    // panel's tabs always did.
    bar.contentNode.addEventListener('focusin', event => {
      const index = [...bar.contentNode.children].findIndex(tab =>
        tab.contains(event.target as Node)
      );
      if (index >= 0 && TABS[index] !== this._tab) {
        this.selectTab(TABS[index]);
      }
    });
    return bar;
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
      case 'sweep':
        content = this._sweepTab!.node;
        this._sweepTab!.shown();
        break;
    }
    this._body.replaceChildren(
      h(
        'div',
        {
          role: 'tabpanel',
          class: `jp-ReproServer-section jp-ReproServer-section-${this._tab}`
        },
        this._tab === 'overview' ? this._determinismBadge() : null,
        this._lockedByRunFile()
          ? h(
              'fieldset',
              { class: 'jp-ReproServer-lockedSection', disabled: true },
              content
            )
          : content
      )
    );
  }

  /**
   * Whether the tab on display is read-only: a run file that locks fields has the ones it opens
   * edited in its own section (`runfile/view.ts`), so these tabs only show the run.
   */
  private _lockedByRunFile(): boolean {
    return (
      this.session.runFile?.locked === true &&
      (this._tab === 'parameters' ||
        this._tab === 'inputs' ||
        this._tab === 'sweep')
    );
  }

  private _header: HTMLElement;
  private _state: HTMLElement;
  private _tabBar: TabBar<Widget>;
  private _tabHost: HTMLElement;
  private _tabOwners: Widget[] = [];
  private _body: HTMLElement;
  private _tab: PanelTab = 'overview';
  private _overview: HTMLElement | null = null;
  private _parametersView: ParametersView | null = null;
  private _inputsView: InputsView | null = null;
  private _sweepTab: SweepTab | null = null;
  private _runView: RunView;
  private _historyView: HistoryView;
  private _renderedDetails: unknown = null;

  /** The overview's determinism badge (`compare/badge.ts`), once the package is read. */
  private _determinismBadge(): HTMLElement | null {
    const compare = this.session.compare;
    if (!compare) {
      return null;
    }
    if (this._badge?.compare !== compare) {
      this._badge?.badge.dispose();
      this._badge = {
        compare,
        badge: new DeterminismBadge(
          compare,
          this._services.trans,
          () => this.session.checkDeterminism(),
          true
        )
      };
    }
    return this._badge.badge.node;
  }

  private _badge: { compare: CompareSession; badge: DeterminismBadge } | null =
    null;
}
