import { RunSession } from '../model/run';
import { EventLog, runRecord } from './fixtures';

/** The build line of a run comes from the image build's events in the run's own log. */
describe('RunSession build progress', () => {
  const time = '2026-01-01T00:00:00.000Z';

  it('follows the last progress or phase while the run builds, and forgets it after', () => {
    const run = new RunSession(runRecord());
    const log = new EventLog();
    let changes = 0;
    run.changed.connect(() => changes++);
    run.apply(log.add({ type: 'status', status: 'building' }));
    expect(run.build).toBeNull();

    run.apply(
      log.add({
        type: 'build',
        build: { type: 'phase', time, phase: 'checking-cache' }
      })
    );
    expect(run.build).toMatchObject({ type: 'phase', phase: 'checking-cache' });
    const progress = {
      type: 'progress' as const,
      time,
      phase: 'building' as const,
      bytes: 10,
      totalBytes: 20,
      entries: 1
    };
    run.apply(log.add({ type: 'build', build: progress }));
    expect(run.build).toEqual(progress);

    // The build's own log and result do not replace the line.
    const before = changes;
    run.apply(
      log.add({
        type: 'build',
        build: { type: 'log', time, level: 'info', message: 'Built it' }
      })
    );
    run.apply(
      log.add({
        type: 'build',
        build: {
          type: 'result',
          time,
          image: 'i',
          imageId: 'sha256:x',
          source: 'built',
          pushed: false
        }
      })
    );
    expect(run.build).toEqual(progress);
    expect(changes).toBe(before);

    run.apply(log.add({ type: 'status', status: 'running' }));
    expect(run.build).toBeNull();
  });

  it('ignores build events outside the building status', () => {
    const run = new RunSession(runRecord());
    const log = new EventLog();
    run.apply(log.add({ type: 'status', status: 'running' }));
    run.apply(
      log.add({
        type: 'build',
        build: { type: 'phase', time, phase: 'pulling' }
      })
    );
    expect(run.build).toBeNull();
  });
});
