import { RunEventStream } from '../api/events';
import { RunSession } from '../model/run';
import { EventLog, FakeSocket, runRecord } from './fixtures';

/** A client whose sockets the test drives; it remembers every socket and its offset. */
function fakeClient() {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    openEvents(id: string, offset: number) {
      const socket = new FakeSocket(id, offset);
      sockets.push(socket);
      return socket;
    }
  };
}

function sampleLog(): EventLog {
  const log = new EventLog();
  log.add({ type: 'status', status: 'running' });
  log.add({ type: 'step-start', step: 0, id: 'run0', argv: ['sh'] });
  log.add({ type: 'log', step: 0, stream: 'stdout', text: 'line 1\n' });
  log.add({ type: 'log', step: 0, stream: 'stderr', text: 'warn 1\n' });
  log.add({ type: 'log', step: 0, stream: 'stdout', text: 'line 2\n' });
  log.add({ type: 'step-end', step: 0, exitCode: 0, durationMs: 5000 });
  log.add({ type: 'end', status: 'succeeded' });
  return log;
}

describe('RunEventStream', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resumes after a dropped connection from the last offset, without duplicates', () => {
    const client = fakeClient();
    const log = sampleLog();
    const stream = new RunEventStream(client, 'r1', 0, { minDelayMs: 100 });
    const run = new RunSession(runRecord());
    stream.received.connect((_, m) => run.apply(m));
    stream.start();

    const first = client.sockets[0];
    expect(first.offset).toBe(0);
    first.open();
    expect(stream.state).toBe('open');
    for (const m of log.messages.slice(0, 4)) {
      first.send(m);
    }
    first.drop();
    expect(stream.state).toBe('reconnecting');
    expect(client.sockets).toHaveLength(1);

    jest.advanceTimersByTime(100);
    const second = client.sockets[1];
    expect(second.offset).toBe(log.messages[3].offset);
    second.open();
    // A server may replay one event the client already has: it must be dropped.
    second.send(log.messages[3]);
    for (const m of log.after(second.offset)) {
      second.send(m);
    }
    second.drop(); // The server closes after `end`.
    jest.advanceTimersByTime(60000);
    expect(client.sockets).toHaveLength(2);
    expect(stream.state).toBe('closed');

    expect(run.log.map(c => c.text).join('')).toBe('line 1\nwarn 1\nline 2\n');
    expect(run.log.map(c => c.stream)).toEqual(['stdout', 'stderr', 'stdout']);
    expect(run.status).toBe('succeeded');
    expect(run.steps[0]).toMatchObject({ state: 'done', exitCode: 0 });
  });

  it('backs off between failed attempts and stops when asked', () => {
    const client = fakeClient();
    const stream = new RunEventStream(client, 'r1', 42, {
      minDelayMs: 100,
      maxDelayMs: 400
    });
    stream.start();
    client.sockets[0].drop();
    jest.advanceTimersByTime(99);
    expect(client.sockets).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(client.sockets).toHaveLength(2);
    client.sockets[1].drop();
    jest.advanceTimersByTime(199);
    expect(client.sockets).toHaveLength(2);
    jest.advanceTimersByTime(1);
    expect(client.sockets).toHaveLength(3);
    expect(client.sockets[2].offset).toBe(42);
    client.sockets[2].drop();
    jest.advanceTimersByTime(400);
    expect(client.sockets).toHaveLength(4);
    stream.stop();
    expect(client.sockets[3].closed).toBe(true);
    jest.advanceTimersByTime(10000);
    expect(client.sockets).toHaveLength(4);
    expect(stream.state).toBe('closed');
  });
});

describe('RunSession', () => {
  it('ignores events it has already applied', () => {
    const log = sampleLog();
    const run = new RunSession(runRecord());
    for (const m of log.messages) {
      run.apply(m);
    }
    for (const m of log.messages) {
      expect(run.apply(m)).toBe(false);
    }
    expect(run.log).toHaveLength(3);
    expect(run.offset).toBe(log.messages[log.messages.length - 1].offset);
  });

  it('keeps what a failed run needs: the step, its exit code, the end of its log', () => {
    const log = new EventLog();
    log.add({ type: 'status', status: 'running' });
    log.add({ type: 'step-start', step: 0, id: 'run0', argv: ['sh'] });
    for (let i = 1; i <= 15; i++) {
      log.add({ type: 'log', step: 0, stream: 'stderr', text: `err ${i}\n` });
    }
    log.add({ type: 'step-end', step: 0, exitCode: 2, durationMs: 10 });
    log.add({
      type: 'output',
      name: 'top-words.txt',
      path: '/tmp/top-words.txt',
      kind: 'declared',
      size: 4,
      sha256: 'c'.repeat(64),
      uid: 0,
      gid: 0,
      mode: 0o644
    });
    log.add({
      type: 'end',
      status: 'failed',
      failedStep: 0,
      reason: 'Step run0 exited with code 2.'
    });
    const run = new RunSession(runRecord());
    let changes = 0;
    run.changed.connect(() => changes++);
    for (const m of log.messages) {
      run.apply(m);
    }
    expect(changes).toBeGreaterThan(0);
    expect(run.finished).toBe(true);
    expect(run.end).toEqual({
      status: 'failed',
      failedStep: 0,
      reason: 'Step run0 exited with code 2.'
    });
    expect(run.steps[0].exitCode).toBe(2);
    expect(run.tail(0, 3)).toBe('err 13\nerr 14\nerr 15');
    expect(run.outputs.map(o => o.name)).toEqual(['top-words.txt']);
    expect(run.endedAt! - run.startedAt!).toBeGreaterThan(0);
  });
});
