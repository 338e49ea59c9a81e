import { Signal } from '@lumino/signaling';
import type { PackageSession } from '../model/package';
import type { RunSession } from '../model/run';
import { RunEndWatcher } from '../run-ends';

/** A run whose `finished` the test sets, and a session that shows it. */
function fakes() {
  const run = { id: 'r1', finished: false } as {
    id: string;
    finished: boolean;
    changed: Signal<unknown, void>;
  };
  run.changed = new Signal<unknown, void>(run);
  const session = { run: null as unknown } as {
    run: unknown;
    runChanged: Signal<unknown, unknown>;
  };
  session.runChanged = new Signal<unknown, unknown>(session);
  const show = (r: typeof run | null) => {
    session.run = r;
    session.runChanged.emit(r);
  };
  const end = () => {
    run.finished = true;
    run.changed.emit();
  };
  return { run, session: session as unknown as PackageSession, show, end };
}

describe('RunEndWatcher', () => {
  it('says when a run ends while its panel is hidden, once', () => {
    const { run, session, show, end } = fakes();
    const ended: RunSession[] = [];
    const watcher = new RunEndWatcher(
      session,
      () => false,
      r => ended.push(r)
    );
    show(run);
    run.changed.emit();
    expect(ended).toEqual([]);
    end();
    run.changed.emit();
    expect(ended).toEqual([run]);
    watcher.dispose();
    expect(watcher.isDisposed).toBe(true);
  });

  it('says nothing while the panel is visible, nor for runs shown already ended', () => {
    const { run, session, show, end } = fakes();
    let visible = true;
    const ended: RunSession[] = [];
    const watcher = new RunEndWatcher(
      session,
      () => visible,
      r => ended.push(r)
    );
    show(run);
    end();
    expect(ended).toEqual([]);
    // An earlier run opened from the history: ended from the start.
    visible = false;
    show(run);
    run.changed.emit();
    expect(ended).toEqual([]);
    watcher.dispose();
  });
});
