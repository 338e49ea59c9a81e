import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { IRunHost, RunningRuns } from './running-runs';

/**
 * The status bar's word on ReproServer runs: "2 ReproZip runs", shown while any run goes on.
 * A click shows the next panel with a run going on (round the list on further clicks).
 * Styled as JupyterLab's own text items (`jp-StatusBar-TextItem`).
 */
export class RunningRunsItem<T extends IRunHost> extends Widget {
  constructor(
    private readonly _runs: RunningRuns<T>,
    private readonly _trans: TranslationBundle,
    private readonly _reveal: (host: T) => void,
    private readonly _current: () => T | null
  ) {
    super({ node: document.createElement('div') });
    this.addClass('jp-ReproServer-statusItem');
    this.addClass('jp-mod-highlighted');
    this._text = document.createElement('span');
    this._text.className = 'jp-StatusBar-TextItem';
    this.node.append(this._text);
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this.node.addEventListener('click', () => this.revealNext());
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.revealNext();
      }
    });
    _runs.changed.connect(this._render, this);
    this._render();
  }

  /** Shows the next panel with a run going on; nothing when none is. */
  revealNext(): void {
    const host = this._runs.next(this._current());
    if (host) {
      this._reveal(host);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._runs.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const trans = this._trans;
    const count = this._runs.count;
    this._text.textContent = trans._n(
      '%1 ReproZip run',
      '%1 ReproZip runs',
      count
    );
    this.node.title = trans._n(
      'A ReproZip package is running: click to show it',
      '%1 ReproZip packages are running: click to show them one after the other',
      count
    );
  }

  private readonly _text: HTMLSpanElement;
}
