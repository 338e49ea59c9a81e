import type { RunEvent } from '../../../src/runs/events';
import { applyRunEvent, startSummary } from '../../../src/runs/summary';

const planned = [
  { index: 0, id: 'prepare', argv: ['sh', 'a.sh'] },
  { index: 2, id: 'report', argv: ['sh', 'c.sh'] }
];

function reduce(events: RunEvent[]) {
  return events.reduce(applyRunEvent, startSummary('queued', planned));
}

describe('the run summary', () => {
  it('follows status, steps (by plan position), outputs and the end', () => {
    const summary = reduce([
      { type: 'status', time: 1, status: 'building', detail: 'layers' },
      { type: 'status', time: 2, status: 'running' },
      { type: 'step-start', time: 3, step: 0, id: 'prepare', argv: ['sh'] },
      { type: 'log', time: 4, step: 0, stream: 'stdout', text: 'hi\n' },
      { type: 'step-end', time: 5, step: 0, exitCode: 0, durationMs: 2 },
      // Position 1 of the plan is the package's run 2.
      { type: 'step-start', time: 6, step: 1, id: 'report', argv: ['sh'] },
      { type: 'step-end', time: 7, step: 1, exitCode: 3, durationMs: 1 },
      changed('tmp/x'),
      declared('result'),
      declared('result'),
      {
        type: 'output-missing',
        time: 9,
        name: 'plot',
        path: '/p.png',
        reason: 'not written'
      },
      { type: 'end', time: 10, status: 'failed', failedStep: 1, reason: 'x' }
    ]);
    expect(summary.status).toBe('failed');
    expect(summary.statusDetail).toBeNull();
    expect(summary.steps).toEqual([
      {
        index: 0,
        id: 'prepare',
        argv: ['sh'],
        state: 'done',
        exitCode: 0,
        durationMs: 2
      },
      {
        index: 2,
        id: 'report',
        argv: ['sh'],
        state: 'done',
        exitCode: 3,
        durationMs: 1
      }
    ]);
    expect(summary.outputs.map(o => o.name)).toEqual(['result', 'tmp/x']);
    expect(summary.outputs[0]).toMatchObject({ uid: 1000, mode: 0o644 });
    expect(summary.missing).toEqual([
      { name: 'plot', path: '/p.png', reason: 'not written' }
    ]);
    expect(summary.end).toEqual({
      status: 'failed',
      failedStep: 1,
      reason: 'x',
      time: 10
    });
  });

  it('returns the same summary for what does not change it, so callers see what did', () => {
    const start = startSummary('running', planned);
    for (const event of [
      { type: 'log', time: 1, step: 0, stream: 'stderr', text: 'x' },
      { type: 'log-truncated', time: 1, step: 0, limitBytes: 10 }
    ] as RunEvent[]) {
      expect(applyRunEvent(start, event)).toBe(start);
    }
    const ended = applyRunEvent(start, {
      type: 'step-end',
      time: 1,
      step: 0,
      exitCode: 0,
      durationMs: 1
    });
    expect(ended.steps).not.toBe(start.steps);
    expect(ended.outputs).toBe(start.outputs);
    expect(start.steps[0].state).toBe('pending');
  });

  it('fills in steps it did not know, and ignores a step position out of bounds', () => {
    const blind = startSummary('running');
    const next = applyRunEvent(blind, {
      type: 'step-start',
      time: 1,
      step: 1,
      id: 'b',
      argv: []
    });
    expect(next.steps.map(s => [s.index, s.id, s.state])).toEqual([
      [0, 'run0', 'pending'],
      [1, 'b', 'running']
    ]);
    for (const step of [-1, 1.5, 1e9]) {
      expect(
        applyRunEvent(blind, {
          type: 'step-end',
          time: 1,
          step,
          exitCode: 0,
          durationMs: 0
        }).steps
      ).toEqual([]);
    }
  });

  it('starts from recorded steps as done where they have an exit code', () => {
    const summary = startSummary('running', [
      { index: 0, id: 'a', argv: [], exitCode: 0, durationMs: 5 },
      { index: 1, id: 'b', argv: [], exitCode: null, durationMs: null }
    ]);
    expect(summary.steps.map(s => s.state)).toEqual(['done', 'pending']);
  });
});

function declared(name: string): RunEvent {
  return {
    type: 'output',
    time: 8,
    name,
    path: `/w/${name}`,
    kind: 'declared',
    size: 1,
    sha256: 'a'.repeat(64),
    uid: 1000,
    gid: 1000,
    mode: 0o644
  };
}

function changed(path: string): RunEvent {
  return { ...declared(path), kind: 'changed' } as RunEvent;
}
