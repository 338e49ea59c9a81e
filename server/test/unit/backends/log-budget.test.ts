import {
  COALESCE_MS,
  LogBudget
} from '../../../src/backends/common/log-budget';
import type { RunEvent } from '../../../src/runs/events';

type LogEvent = Extract<RunEvent, { type: 'log' }>;

function budget(limitBytes = 1_000_000): {
  log: LogBudget;
  events: RunEvent[];
  logs: () => LogEvent[];
} {
  const events: RunEvent[] = [];
  return {
    log: new LogBudget(limitBytes, event => events.push(event)),
    events,
    logs: () => events.filter((e): e is LogEvent => e.type === 'log')
  };
}

/** Writes synchronously through the pump's Writable machinery (no stream buffering in between). */
function put(pump: ReturnType<LogBudget['pump']>, text: string): void {
  pump.write(Buffer.from(text));
}

describe('LogBudget', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('sends an isolated write at once', () => {
    const { log, logs } = budget();
    const out = log.pump(0, 'stdout');
    put(out, 'first line\n');
    expect(logs().map(e => e.text)).toEqual(['first line\n']);
  });

  it('joins a flood of one-byte writes into few events, losing nothing', () => {
    const { log, logs } = budget();
    const out = log.pump(0, 'stdout');
    for (let i = 0; i < 5000; i++) {
      put(out, String(i % 10));
      if (i % 100 === 0) {
        jest.advanceTimersByTime(1);
      }
    }
    out.flush();
    const text = logs()
      .map(e => e.text)
      .join('');
    expect(text).toBe(
      Array.from({ length: 5000 }, (_, i) => String(i % 10)).join('')
    );
    // 50 ms of writes: at most one event per COALESCE_MS, plus the first and the flushed rest.
    expect(logs().length).toBeLessThanOrEqual(50 / COALESCE_MS + 3);
  });

  it('keeps the order between streams: what one holds goes before what the other sends', () => {
    const { log, logs } = budget();
    const out = log.pump(0, 'stdout');
    const err = log.pump(0, 'stderr');
    put(out, 'a');
    put(out, 'b'); // held: within COALESCE_MS of 'a'
    jest.advanceTimersByTime(1);
    put(err, 'c'); // sent at once: stderr has sent nothing yet; 'b' goes first
    jest.advanceTimersByTime(COALESCE_MS);
    out.flush();
    err.flush();
    expect(logs().map(e => [e.stream, e.text])).toEqual([
      ['stdout', 'a'],
      ['stdout', 'b'],
      ['stderr', 'c']
    ]);
  });

  it('sends what it holds when the timer runs out, with the time it arrived', () => {
    const { log, logs } = budget();
    const out = log.pump(1, 'stdout');
    put(out, 'x');
    put(out, 'y');
    expect(logs()).toHaveLength(1);
    jest.advanceTimersByTime(COALESCE_MS);
    expect(logs().map(e => e.text)).toEqual(['x', 'y']);
    expect(logs()[1].time).toBe(1_000_000);
  });

  it('still caps the log to the byte and says so once', () => {
    const { log, events } = budget(10);
    const out = log.pump(0, 'stdout');
    for (let i = 0; i < 30; i++) {
      put(out, 'z');
    }
    out.flush();
    const text = events
      .filter((e): e is LogEvent => e.type === 'log')
      .map(e => e.text)
      .join('');
    expect(text).toBe('z'.repeat(10));
    expect(events.filter(e => e.type === 'log-truncated')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('log-truncated');
  });
});
