import type { DocumentWidget } from '@jupyterlab/docregistry';
import {
  SearchProvider,
  type IFilters,
  type ISearchMatch
} from '@jupyterlab/documentsearch';
import type { ITranslator } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';
import type { LogView } from '../panel/log';
import type { RpzPanel } from '../panel/panel';

/** What the search needs of a panel: its run log, and a way to show it. */
export interface ILogSearchHost {
  readonly log: LogView;
  selectTab(tab: 'run'): void;
}

/**
 * JupyterLab's search (Ctrl+F) in a ReproServer panel: it looks for the query in the log of the
 * run on display, shows the Run tab, and steps through the matches the log highlights. The log
 * is read-only: nothing to replace.
 */
export class LogSearchProvider extends SearchProvider<
  DocumentWidget<RpzPanel>
> {
  constructor(widget: DocumentWidget<RpzPanel>) {
    super(widget);
    this._host = widget.content;
    this._host.log.matchesChanged.connect(this._onMatches, this);
  }

  /** Whether a widget is a ReproServer document (the provider applies to those only). */
  static isApplicable(domain: Widget): domain is DocumentWidget<RpzPanel> {
    const content = (domain as unknown as { content?: Partial<ILogSearchHost> })
      .content;
    return (
      domain.hasClass('jp-ReproServer-document') &&
      content !== undefined &&
      content.log !== undefined
    );
  }

  /** Called by the registry with widgets `isApplicable` accepted. */
  static createNew(
    widget: Widget,
    _translator?: ITranslator
  ): LogSearchProvider {
    return new LogSearchProvider(widget as DocumentWidget<RpzPanel>);
  }

  get isReadOnly(): boolean {
    return true;
  }

  get matchesCount(): number | null {
    return this._active ? this._host.log.matchCount : null;
  }

  get currentMatchIndex(): number | null {
    return this._active ? this._host.log.matchIndex : null;
  }

  async startQuery(query: RegExp, _filters?: IFilters): Promise<void> {
    this._active = true;
    this._host.selectTab('run');
    this._host.log.search(query);
  }

  async endQuery(): Promise<void> {
    this._active = false;
    this._host.log.search(null);
  }

  async clearHighlight(): Promise<void> {
    // The highlights are the search's; they go with it (`endQuery`).
  }

  async highlightNext(): Promise<ISearchMatch | undefined> {
    return this._step(1);
  }

  async highlightPrevious(): Promise<ISearchMatch | undefined> {
    return this._step(-1);
  }

  async replaceCurrentMatch(): Promise<boolean> {
    return false;
  }

  async replaceAllMatches(): Promise<boolean> {
    return false;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._host.log.matchesChanged.disconnect(this._onMatches, this);
    if (this._active) {
      this._host.log.search(null);
    }
    super.dispose();
  }

  private _step(direction: 1 | -1): ISearchMatch | undefined {
    const index = this._host.log.nextMatch(direction);
    return index === null
      ? undefined
      : { text: this._host.log.currentMatchText ?? '', position: index };
  }

  private _onMatches(): void {
    if (this._active) {
      this._stateChanged.emit();
    }
  }

  private readonly _host: ILogSearchHost;
  private _active = false;
}
