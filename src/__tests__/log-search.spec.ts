import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { RunSession } from '../model/run';
import { LogView } from '../panel/log';
import { LogSearchProvider } from '../search/log-search';
import { EventLog, runRecord } from './fixtures';

// The real package drags in JupyterLab's search UI (ES-only packages jest does not compile);
// what is tested here is the provider's own behaviour over the base class's signal.
jest.mock('@jupyterlab/documentsearch', () => {
  const { Signal } = jest.requireActual('@lumino/signaling');
  return {
    SearchProvider: class {
      constructor(readonly widget: unknown) {
        this._stateChanged = new Signal(this);
      }
      _stateChanged: { emit(): void; connect(fn: () => void): void };
      _disposed = false;
      get stateChanged() {
        return this._stateChanged;
      }
      get isDisposed() {
        return this._disposed;
      }
      dispose() {
        this._disposed = true;
      }
    }
  };
});

function runWithLog(texts: string[]): { run: RunSession; log: EventLog } {
  const run = new RunSession(runRecord({ status: 'running' }));
  const log = new EventLog();
  run.apply(log.add({ type: 'status', status: 'running' }));
  run.apply(log.add({ type: 'step-start', step: 0, id: 'run0', argv: ['sh'] }));
  for (const text of texts) {
    run.apply(log.add({ type: 'log', step: 0, stream: 'stdout', text }));
  }
  return { run, log };
}

/** A ReproServer document as the provider sees it: a class, and a content with a log. */
function documentWith(view: LogView, tabs: string[]) {
  const widget = new Widget();
  widget.addClass('jp-ReproServer-document');
  return Object.assign(widget, {
    content: { log: view, selectTab: (tab: string) => tabs.push(tab) }
  });
}

describe('LogSearchProvider', () => {
  it('applies to ReproServer documents only', () => {
    const view = new LogView(nullTranslator.load('x'), () => undefined);
    expect(LogSearchProvider.isApplicable(documentWith(view, []))).toBe(true);
    expect(LogSearchProvider.isApplicable(new Widget())).toBe(false);
  });

  it('finds a query in the run log, steps through the matches, and ends', async () => {
    const view = new LogView(nullTranslator.load('x'), () => undefined);
    const { run, log } = runWithLog(['alpha beta\n', 'Beta gamma\n']);
    view.setRun(run);
    const tabs: string[] = [];
    const provider = LogSearchProvider.createNew(documentWith(view, tabs));
    let changes = 0;
    provider.stateChanged.connect(() => changes++);
    expect(provider.isReadOnly).toBe(true);
    expect(provider.matchesCount).toBeNull();

    await provider.startQuery(/beta/gi, {});
    expect(tabs).toEqual(['run']);
    expect(provider.matchesCount).toBe(2);
    expect(provider.currentMatchIndex).toBe(0);
    expect(view.node.querySelectorAll('mark.jp-mod-current')).toHaveLength(1);
    expect(await provider.highlightNext()).toEqual({
      text: 'Beta',
      position: 1
    });
    expect(await provider.highlightNext()).toEqual({
      text: 'beta',
      position: 0
    });
    expect((await provider.highlightPrevious())?.position).toBe(1);

    // New output while searching: counted, and the search UI told.
    const before = changes;
    run.apply(
      log.add({ type: 'log', step: 0, stream: 'stdout', text: 'beta\n' })
    );
    expect(provider.matchesCount).toBe(3);
    expect(changes).toBeGreaterThan(before);

    // A case-sensitive query from JupyterLab's options.
    await provider.startQuery(/Beta/g, {});
    expect(provider.matchesCount).toBe(1);

    await provider.endQuery();
    expect(provider.matchesCount).toBeNull();
    expect(view.node.querySelectorAll('mark')).toHaveLength(0);
    expect(await provider.replaceAllMatches()).toBe(false);
    provider.dispose();
    view.dispose();
  });

  it('highlights nothing for a query that matches the empty string', async () => {
    const view = new LogView(nullTranslator.load('x'), () => undefined);
    view.setRun(runWithLog(['aaa\n']).run);
    const provider = LogSearchProvider.createNew(documentWith(view, []));
    await provider.startQuery(/b*/g, {});
    expect(provider.matchesCount).toBe(0);
    await provider.startQuery(/a+/g, {});
    expect(provider.matchesCount).toBe(1);
    provider.dispose();
  });
});
