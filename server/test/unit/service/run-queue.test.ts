import { RunQueue } from '../../../src/service/run-queue';

/** An execute function whose runs finish when the test says so. */
function controlled(): {
  execute: (id: string) => Promise<void>;
  started: string[];
  finish: (id: string) => void;
} {
  const started: string[] = [];
  const resolvers = new Map<string, () => void>();
  return {
    started,
    execute: id => {
      started.push(id);
      return new Promise<void>(resolve => resolvers.set(id, resolve));
    },
    finish: id => resolvers.get(id)!()
  };
}

const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

describe('RunQueue', () => {
  it('runs at most N at once, in submission order', async () => {
    const runs = controlled();
    const queue = new RunQueue(2, runs.execute);
    ['a', 'b', 'c', 'd'].forEach(id => queue.enqueue(id));
    expect(runs.started).toEqual(['a', 'b']);
    expect(queue.waiting).toEqual(['c', 'd']);
    runs.finish('b');
    await tick();
    expect(runs.started).toEqual(['a', 'b', 'c']);
    runs.finish('a');
    runs.finish('c');
    await tick();
    runs.finish('d');
    await queue.idle();
    expect(runs.started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ignores an id already queued or running, and removes waiting ones', async () => {
    const runs = controlled();
    const queue = new RunQueue(1, runs.execute);
    queue.enqueue('a');
    queue.enqueue('a');
    queue.enqueue('b');
    expect(queue.remove('b')).toBe(true);
    expect(queue.remove('a')).toBe(false);
    runs.finish('a');
    await queue.idle();
    expect(runs.started).toEqual(['a']);
  });

  it('keeps going when a run throws', async () => {
    const errors = jest
      .spyOn(console, 'error')
      .mockImplementation(() => undefined);
    const started: string[] = [];
    const queue = new RunQueue(1, async id => {
      started.push(id);
      if (id === 'bad') {
        throw new Error('boom');
      }
    });
    queue.enqueue('bad');
    queue.enqueue('good');
    await queue.idle();
    expect(started).toEqual(['bad', 'good']);
    errors.mockRestore();
  });

  it('refuses a concurrency below 1', () => {
    expect(() => new RunQueue(0, async () => undefined)).toThrow('at least 1');
  });
});
