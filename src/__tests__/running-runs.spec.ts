import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import type { PackageSession } from '../model/package';
import { RunningRunsItem } from '../status/item';
import { RunningRuns, type IRunHost } from '../status/running-runs';

/** A panel whose session has a run (or not) that the test moves along. */
class FakeHost implements IRunHost {
  constructor(readonly name: string) {}
  readonly disposed = new Signal<this, void>(this);
  private readonly _changed = new Signal<this, void>(this);
  private _run: { finished: boolean } | null = null;
  readonly content = {
    session: {
      changed: this._changed,
      get run() {
        return null as unknown;
      }
    } as unknown as PackageSession
  };

  setRun(run: { finished: boolean } | null): void {
    this._run = run;
    Object.defineProperty(this.content.session, 'run', {
      get: () => this._run,
      configurable: true
    });
    this._changed.emit();
  }

  close(): void {
    this.disposed.emit();
  }
}

class FakeTracker {
  readonly hosts: FakeHost[] = [];
  readonly widgetAdded = new Signal<this, FakeHost>(this);
  forEach(fn: (host: FakeHost) => void): void {
    this.hosts.forEach(fn);
  }
  add(host: FakeHost): void {
    this.hosts.push(host);
    this.widgetAdded.emit(host);
  }
}

describe('RunningRuns', () => {
  it('counts the runs going on across open panels, as they start, end and close', () => {
    const tracker = new FakeTracker();
    const a = new FakeHost('a');
    tracker.hosts.push(a);
    a.setRun({ finished: false });
    const runs = new RunningRuns(tracker);
    const counts: number[] = [];
    runs.changed.connect(() => counts.push(runs.count));
    expect(runs.count).toBe(1);

    const b = new FakeHost('b');
    tracker.add(b);
    b.setRun({ finished: false });
    expect(runs.count).toBe(2);
    expect(runs.hosts).toEqual([a, b]);

    a.setRun({ finished: true });
    expect(runs.count).toBe(1);
    b.close();
    expect(runs.count).toBe(0);
    // Closed panels are forgotten.
    b.setRun({ finished: false });
    expect(runs.count).toBe(0);
    expect(counts).toEqual([2, 1, 0]);
    runs.dispose();
  });

  it('names the next panel to show, round the list', () => {
    const tracker = new FakeTracker();
    const [a, b, c] = ['a', 'b', 'c'].map(n => new FakeHost(n));
    [a, b, c].forEach(h => tracker.add(h));
    const runs = new RunningRuns(tracker);
    expect(runs.next(null)).toBeNull();
    a.setRun({ finished: false });
    c.setRun({ finished: false });
    expect(runs.next(null)).toBe(a);
    expect(runs.next(a)).toBe(c);
    expect(runs.next(c)).toBe(a);
    // From a panel without a run going on: the first one.
    expect(runs.next(b)).toBe(a);
  });
});

describe('RunningRunsItem', () => {
  it('says how many runs go on, with plurals, and shows one on click', () => {
    const tracker = new FakeTracker();
    const [a, b] = ['a', 'b'].map(n => new FakeHost(n));
    [a, b].forEach(h => tracker.add(h));
    const runs = new RunningRuns(tracker);
    const revealed: string[] = [];
    let current: FakeHost | null = null;
    const item = new RunningRunsItem(
      runs,
      nullTranslator.load('jupyterlab_reproserver'),
      host => {
        revealed.push(host.name);
        current = host;
      },
      () => current
    );
    a.setRun({ finished: false });
    expect(item.node.textContent).toBe('1 ReproZip run');
    b.setRun({ finished: false });
    expect(item.node.textContent).toBe('2 ReproZip runs');
    item.node.click();
    item.node.click();
    item.node.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(revealed).toEqual(['a', 'b', 'a']);
    item.dispose();
  });
});
