import type { RunEvent } from '../../../src/runs/events';
import { LoggedEvents } from '../../../src/runs/replay';

const t = 0;
const log = (
  step: number,
  stream: 'stdout' | 'stderr',
  text: string
): RunEvent => ({
  type: 'log',
  time: t,
  step,
  stream,
  text
});

/** What a backend emits for a run of two steps, replayed from the start. */
const replay: RunEvent[] = [
  { type: 'status', time: t, status: 'running' },
  { type: 'step-start', time: t, step: 0, id: 'a', argv: ['a'] },
  log(0, 'stdout', 'one\n'),
  log(0, 'stderr', 'warn\n'),
  log(0, 'stdout', 'two\nthree\n'),
  { type: 'step-end', time: t, step: 0, exitCode: 0, durationMs: 1 },
  { type: 'step-start', time: t, step: 1, id: 'b', argv: ['b'] },
  log(1, 'stdout', 'é\n'),
  { type: 'step-end', time: t, step: 1, exitCode: 0, durationMs: 1 },
  {
    type: 'output',
    time: t,
    name: 'o',
    path: '/o',
    kind: 'declared',
    size: 1,
    sha256: 'x',
    uid: 0,
    gid: 0,
    mode: 0o644
  },
  { type: 'end', time: t, status: 'succeeded' }
];

function passed(logged: RunEvent[]): RunEvent[] {
  const known = new LoggedEvents();
  logged.forEach(event => known.add(event));
  const out: RunEvent[] = [];
  const filter = known.filter(event => out.push(event));
  replay.forEach(filter);
  return out;
}

describe('LoggedEvents', () => {
  it('passes everything when the log holds nothing of the run yet', () => {
    expect(passed([])).toEqual(replay);
  });

  it('passes only what follows the log, cutting a chunk read in other pieces', () => {
    // The previous server read step 0's stdout in other chunks and stopped inside the second.
    const logged: RunEvent[] = [
      { type: 'status', time: t, status: 'queued' },
      { type: 'status', time: t, status: 'running' },
      { type: 'step-start', time: t, step: 0, id: 'a', argv: ['a'] },
      log(0, 'stdout', 'one\ntw')
    ];
    const out = passed(logged);
    expect(out[0]).toEqual(log(0, 'stderr', 'warn\n'));
    expect(out[1]).toEqual(log(0, 'stdout', 'o\nthree\n'));
    expect(out.slice(2)).toEqual(replay.slice(5));
    // Together, the log and what passed are the run as if never stopped.
    const text = [...logged, ...out]
      .filter(
        (e): e is Extract<RunEvent, { type: 'log' }> =>
          e.type === 'log' && e.stream === 'stdout' && e.step === 0
      )
      .map(e => e.text)
      .join('');
    expect(text).toBe('one\ntwo\nthree\n');
  });

  it('passes nothing again once the whole run is logged but its end', () => {
    const out = passed(replay.slice(0, -1));
    expect(out).toEqual([replay[replay.length - 1]]);
  });

  it('does not repeat an output or a truncation notice', () => {
    const known = new LoggedEvents();
    known.add({ type: 'log-truncated', time: t, step: 0, limitBytes: 5 });
    known.add(replay[9]);
    const out: RunEvent[] = [];
    const filter = known.filter(event => out.push(event));
    filter({ type: 'log-truncated', time: t, step: 0, limitBytes: 5 });
    filter(replay[9]);
    filter({ ...replay[9], name: 'other' } as RunEvent);
    expect(out).toEqual([{ ...replay[9], name: 'other' }]);
  });
});
