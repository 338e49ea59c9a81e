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

describe('RunQueue shared by several users', () => {
  it('starts other users’ runs before the queued excess of a user at their cap', async () => {
    const runs = controlled();
    const queue = new RunQueue(3, runs.execute, { perOwner: 2 });
    ['a1', 'a2', 'a3', 'a4'].forEach(id => queue.enqueue(id, 'alice'));
    expect(runs.started).toEqual(['a1', 'a2']);
    queue.enqueue('b1', 'bob');
    queue.enqueue('b2', 'bob');
    // One slot was free: bob's first run takes it, though alice's a3 waited longer.
    expect(runs.started).toEqual(['a1', 'a2', 'b1']);
    expect(queue.waiting).toEqual(['a3', 'a4', 'b2']);
    // A slot frees from alice: her oldest waiting run, the oldest under its cap, goes.
    runs.finish('a1');
    await tick();
    expect(runs.started).toEqual(['a1', 'a2', 'b1', 'a3']);
    // A slot frees from bob: alice is at her cap, so bob's b2 goes before her a4.
    runs.finish('b1');
    await tick();
    expect(runs.started).toEqual(['a1', 'a2', 'b1', 'a3', 'b2']);
    ['a2', 'a3', 'b2'].forEach(id => runs.finish(id));
    await tick();
    runs.finish('a4');
    await queue.idle();
    expect(runs.started).toHaveLength(6);
  });

  it('keeps submission order among users under their cap, and runs without owner uncapped', async () => {
    const runs = controlled();
    const queue = new RunQueue(2, runs.execute, { perOwner: 1 });
    queue.enqueue('x1');
    queue.enqueue('x2');
    queue.enqueue('a1', 'alice');
    queue.enqueue('x3');
    expect(runs.started).toEqual(['x1', 'x2']);
    runs.finish('x1');
    await tick();
    runs.finish('x2');
    await tick();
    expect(runs.started).toEqual(['x1', 'x2', 'a1', 'x3']);
    runs.finish('a1');
    runs.finish('x3');
    await queue.idle();
  });

  it('takes a waiting run out of its user’s line', async () => {
    const runs = controlled();
    const queue = new RunQueue(1, runs.execute, { perOwner: 1 });
    queue.enqueue('a1', 'alice');
    queue.enqueue('a2', 'alice');
    queue.enqueue('b1', 'bob');
    expect(queue.remove('a2')).toBe(true);
    expect(queue.remove('a2')).toBe(false);
    runs.finish('a1');
    await tick();
    expect(runs.started).toEqual(['a1', 'b1']);
    runs.finish('b1');
    await queue.idle();
    expect(queue.waiting).toEqual([]);
  });

  it('refuses a per-user cap below 1', () => {
    expect(
      () => new RunQueue(2, async () => undefined, { perOwner: 0 })
    ).toThrow('concurrent runs per user must be at least 1');
  });
});
