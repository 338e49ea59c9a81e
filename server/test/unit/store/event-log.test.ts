import { mkdtempSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent } from '../../../src/runs/events';
import {
  EventLogOffsetError,
  EventLogs,
  type FollowResult
} from '../../../src/store/event-log';

const opened: EventLogs[] = [];

/** A store in a new folder; closed after each test so no file handle outlives it. */
function freshLogs(options = {}): EventLogs {
  const logs = new EventLogs(
    join(mkdtempSync(join(tmpdir(), 'reproserver-logs-')), 'runs'),
    { fsync: 'never', ...options }
  );
  opened.push(logs);
  return logs;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map(logs => logs.closeAll()));
});

const log = (n: number, text = `line ${n}\n`): RunEvent => ({
  type: 'log',
  time: n,
  step: 0,
  stream: 'stdout',
  text
});
const end: RunEvent = { type: 'end', time: 999, status: 'succeeded' };

/** Appends events; returns the offset of each event's start, then the final size. */
async function appendAll(
  logs: EventLogs,
  runId: string,
  events: RunEvent[]
): Promise<number[]> {
  const offsets = [await logs.size(runId)];
  for (const event of events) {
    offsets.push(await logs.append(runId, event));
  }
  return offsets;
}

/** Follows a run, collecting events; resolves with them and how the follow ended. */
async function collect(
  logs: EventLogs,
  runId: string,
  from = 0,
  signal?: AbortSignal
): Promise<{ events: RunEvent[]; result: FollowResult; offsets: number[] }> {
  const events: RunEvent[] = [];
  const offsets: number[] = [];
  const result = await logs.follow(
    runId,
    from,
    (event, next) => {
      events.push(event);
      offsets.push(next);
    },
    signal
  );
  return { events, result, offsets };
}

const tick = (): Promise<void> => new Promise(done => setImmediate(done));

describe('EventLogs: append and read', () => {
  it('appends one JSON line per event and reads back from any event offset', async () => {
    const logs = freshLogs();
    const events = [log(1), log(2, 'ünïcode ✓\n'), log(3)];
    const offsets = await appendAll(logs, 'r1', events);
    expect(offsets[0]).toBe(0);
    const file = await readFile(logs.pathOf('r1'), 'utf8');
    expect(file.split('\n')).toEqual([
      ...events.map(e => JSON.stringify(e)),
      ''
    ]);
    expect(offsets[3]).toBe(Buffer.byteLength(file));
    for (let i = 0; i < offsets.length; i++) {
      expect(await logs.read('r1', offsets[i])).toEqual({
        events: events.slice(i),
        nextOffset: offsets[3]
      });
    }
    expect(await logs.size('r1')).toBe(offsets[3]);
  });

  it('reads an empty or missing log as no events', async () => {
    const logs = freshLogs();
    expect(await logs.read('never')).toEqual({ events: [], nextOffset: 0 });
    expect(await logs.size('never')).toBe(0);
  });

  it('pages through a log by size, resuming exactly', async () => {
    const logs = freshLogs();
    const events = Array.from({ length: 50 }, (_, i) => log(i));
    await appendAll(logs, 'r1', events);
    const seen: RunEvent[] = [];
    let offset = 0;
    let pages = 0;
    for (;;) {
      const page = await logs.read('r1', offset, 200);
      if (page.events.length === 0) {
        break;
      }
      seen.push(...page.events);
      offset = page.nextOffset;
      pages++;
    }
    expect(seen).toEqual(events);
    expect(pages).toBeGreaterThan(5);
  });

  it('reads lines longer than its read buffer', async () => {
    const logs = freshLogs();
    const big = log(1, 'x'.repeat(300_000));
    await appendAll(logs, 'r1', [log(0), big, log(2)]);
    expect((await logs.read('r1')).events).toEqual([log(0), big, log(2)]);
  });

  it('refuses offsets that do not start an event', async () => {
    const logs = freshLogs();
    const offsets = await appendAll(logs, 'r1', [log(1), log(2)]);
    for (const bad of [
      1,
      offsets[1] - 1,
      offsets[1] + 1,
      offsets[2] + 1,
      -1,
      0.5
    ]) {
      await expect(logs.read('r1', bad)).rejects.toThrow(EventLogOffsetError);
      await expect(logs.follow('r1', bad, () => undefined)).rejects.toThrow(
        EventLogOffsetError
      );
    }
    await expect(logs.read('missing', 10)).rejects.toThrow(EventLogOffsetError);
  });

  it('refuses run ids that could leave its folder', async () => {
    const logs = freshLogs();
    for (const id of ['../x', 'a/b', '', '.', 'x'.repeat(65)]) {
      expect(() => logs.pathOf(id)).toThrow(/Invalid run id/);
      await expect(logs.append(id, log(1))).rejects.toThrow(/Invalid run id/);
      await expect(logs.read(id)).rejects.toThrow(/Invalid run id/);
    }
  });

  it('keeps the order of appends made without waiting', async () => {
    const logs = freshLogs();
    const events = Array.from({ length: 100 }, (_, i) => log(i));
    const sizes = await Promise.all(events.map(e => logs.append('r1', e)));
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect((await logs.read('r1')).events).toEqual(events);
  });

  it('closes the log at its end event and refuses later appends', async () => {
    const logs = freshLogs();
    await appendAll(logs, 'r1', [log(1), end]);
    await expect(logs.append('r1', log(2))).rejects.toThrow(/closed/);
    expect((await logs.read('r1')).events).toEqual([log(1), end]);
  });

  it('releases a log’s file until the next append, which goes on where it was', async () => {
    const logs = freshLogs();
    const writers = (logs as unknown as { writers: Map<string, unknown> })
      .writers;
    // Appends asked for before the release are written first.
    const pending = logs.append('r1', log(1));
    await logs.release('r1');
    await pending;
    expect(writers.has('r1')).toBe(false);
    await logs.release('r1');
    const size = await logs.append('r1', log(2));
    expect(writers.has('r1')).toBe(true);
    const page = await logs.read('r1');
    expect(page.events).toEqual([log(1), log(2)]);
    expect(page.nextOffset).toBe(size);
  });

  it('syncs according to its policy without changing what is written', async () => {
    for (const fsync of ['always', 'state', 'never'] as const) {
      const logs = freshLogs({ fsync });
      await appendAll(logs, 'r1', [
        log(1),
        { type: 'status', time: 1, status: 'running' }
      ]);
      expect((await logs.read('r1')).events).toHaveLength(2);
    }
  });
});

describe('EventLogs: follow', () => {
  it('delivers the rest of a finished log from every offset, then ends', async () => {
    const logs = freshLogs();
    const events = [log(1), log(2), log(3), end];
    const offsets = await appendAll(logs, 'r1', events);
    for (let i = 0; i < events.length; i++) {
      const followed = await collect(logs, 'r1', offsets[i]);
      expect(followed.events).toEqual(events.slice(i));
      expect(followed.offsets).toEqual(offsets.slice(i + 1));
      expect(followed.result).toEqual({
        reason: 'end',
        nextOffset: offsets[4]
      });
    }
  });

  it('switches from catching up to live without skipping or repeating', async () => {
    const logs = freshLogs();
    const events = Array.from({ length: 300 }, (_, i) => log(i));
    const followers: Promise<{ events: RunEvent[] }>[] = [];
    const starts: number[] = [];
    // Followers join at every stage: before the first append, between appends, during bursts.
    followers.push(collect(logs, 'r1', 0));
    starts.push(0);
    for (let i = 0; i < events.length; i++) {
      const size = await logs.append('r1', events[i]);
      if (i % 25 === 0) {
        followers.push(collect(logs, 'r1', 0));
        starts.push(0);
        followers.push(collect(logs, 'r1', size));
        starts.push(i + 1);
      }
      if (i % 7 === 0) {
        await tick();
      }
    }
    await logs.append('r1', end);
    const all = [...events, end];
    const results = await Promise.all(followers);
    results.forEach(({ events: got }, k) => {
      expect(got).toEqual(all.slice(starts[k]));
    });
    const fromZero = results.filter((_, k) => starts[k] === 0);
    expect(fromZero.length).toBeGreaterThan(10);
  });

  it('gives many concurrent followers identical sequences', async () => {
    const logs = freshLogs();
    const followers = Array.from({ length: 20 }, () => collect(logs, 'r1', 0));
    const writes = Array.from({ length: 200 }, (_, i) =>
      logs.append('r1', log(i))
    );
    await Promise.all(writes);
    await logs.append('r1', end);
    const results = await Promise.all(followers);
    for (const result of results) {
      expect(result.events).toEqual(results[0].events);
      expect(result.offsets).toEqual(results[0].offsets);
    }
    expect(results[0].events).toHaveLength(201);
  });

  it('waits for a slow consumer before reading on', async () => {
    const logs = freshLogs();
    await appendAll(logs, 'r1', [log(1), log(2), log(3), end]);
    let busy = false;
    const order: number[] = [];
    await logs.follow('r1', 0, async event => {
      expect(busy).toBe(false);
      busy = true;
      await new Promise(done => setTimeout(done, 5));
      order.push(event.time);
      busy = false;
    });
    expect(order).toEqual([1, 2, 3, 999]);
  });

  it('stops when aborted, and a new follow resumes exactly there', async () => {
    const logs = freshLogs();
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const following = logs.follow(
      'r1',
      0,
      event => {
        events.push(event);
        if (events.length === 2) {
          controller.abort();
        }
      },
      controller.signal
    );
    await appendAll(logs, 'r1', [log(1), log(2), log(3)]);
    const result = await following;
    expect(result.reason).toBe('aborted');
    expect(events).toEqual([log(1), log(2)]);
    await logs.append('r1', end);
    const rest = await collect(logs, 'r1', result.nextOffset);
    expect(rest.events).toEqual([log(3), end]);
  });

  it('ends an idle follow when aborted while waiting', async () => {
    const logs = freshLogs();
    const controller = new AbortController();
    const following = collect(logs, 'r1', 0, controller.signal);
    await tick();
    controller.abort();
    expect((await following).result).toEqual({
      reason: 'aborted',
      nextOffset: 0
    });
  });

  it('ends followers when the log is closed or deleted without an end event', async () => {
    const logs = freshLogs();
    const closedFollower = collect(logs, 'r1', 0);
    const deletedFollower = collect(logs, 'r2', 0);
    await appendAll(logs, 'r1', [log(1), log(2)]);
    await appendAll(logs, 'r2', [log(1)]);
    await logs.close('r1');
    await logs.delete('r2');
    const closed = await closedFollower;
    expect(closed.events).toEqual([log(1), log(2)]);
    expect(closed.result.reason).toBe('closed');
    expect((await deletedFollower).result.reason).toBe('closed');
    // A follow that starts after the close reads what is there and ends too.
    expect((await collect(logs, 'r1', 0)).events).toHaveLength(2);
    await expect(logs.append('r1', log(3))).rejects.toThrow(/closed/);
  });
});

describe('EventLogs after a crash: a torn last line', () => {
  async function tornLog(
    logs: EventLogs
  ): Promise<{ whole: number; torn: string }> {
    const path = logs.pathOf('r1');
    await mkdir(join(path, '..'), { recursive: true });
    const lines = `${JSON.stringify(log(1))}\n${JSON.stringify(log(2))}\n`;
    const torn = JSON.stringify(log(3)).slice(0, 20);
    await writeFile(path, lines + torn);
    return { whole: Buffer.byteLength(lines), torn };
  }

  it('is not an event for readers until it is completed', async () => {
    const logs = freshLogs({ pollMs: 20 });
    const { whole, torn } = await tornLog(logs);
    expect(await logs.read('r1')).toEqual({
      events: [log(1), log(2)],
      nextOffset: whole
    });
    const following = collect(logs, 'r1', 0);
    await new Promise(done => setTimeout(done, 60));
    // Another process finishes the line (no notification here: the follower polls).
    await appendFile(
      logs.pathOf('r1'),
      JSON.stringify(log(3)).slice(torn.length) +
        '\n' +
        JSON.stringify(end) +
        '\n'
    );
    const followed = await following;
    expect(followed.events).toEqual([log(1), log(2), log(3), end]);
  });

  it('is cut off by the next writer, whose first event follows the last whole line', async () => {
    const logs = freshLogs();
    const { whole } = await tornLog(logs);
    const size = await logs.append('r1', log(4));
    expect(size).toBe(whole + JSON.stringify(log(4)).length + 1);
    expect((await logs.read('r1')).events).toEqual([log(1), log(2), log(4)]);
  });

  it('is cut off whole when the file has no complete line at all', async () => {
    const logs = freshLogs();
    const path = logs.pathOf('r1');
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, '{"type":"lo');
    await logs.append('r1', log(1));
    expect(await readFile(path, 'utf8')).toBe(JSON.stringify(log(1)) + '\n');
  });
});

describe('EventLogs when the disk refuses', () => {
  it('reports the failure and opens the log afresh on the next append', async () => {
    const logs = freshLogs();
    // A file where the run's folder should be: the log cannot be created.
    await mkdir(logs.root, { recursive: true });
    await writeFile(join(logs.root, 'r1'), 'in the way');
    await expect(logs.append('r1', log(1))).rejects.toThrow();
    await rm(join(logs.root, 'r1'));
    await logs.append('r1', log(2));
    expect((await logs.read('r1')).events).toEqual([log(2)]);
  });
});
