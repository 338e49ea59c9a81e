import { SingleFlight } from '../../../src/build/single-flight';

function deferred<T>(): {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('runs the work once for concurrent callers and replays events to late ones', async () => {
    const flights = new SingleFlight<number, string>();
    const gate = deferred<number>();
    let runs = 0;
    const first: string[] = [];
    const second: string[] = [];
    const a = flights.run(
      'k',
      e => first.push(e),
      async emit => {
        runs++;
        emit('one');
        const value = await gate.promise;
        emit('two');
        return value;
      }
    );
    const b = flights.run(
      'k',
      e => second.push(e),
      async () => {
        runs++;
        return -1;
      }
    );
    expect(a.joined).toBe(false);
    expect(b.joined).toBe(true);
    expect(second).toEqual(['one']);
    gate.resolve(7);
    await expect(a.promise).resolves.toBe(7);
    await expect(b.promise).resolves.toBe(7);
    expect(runs).toBe(1);
    expect(first).toEqual(['one', 'two']);
    expect(second).toEqual(['one', 'two']);
    expect(flights.size).toBe(0);
  });

  it('shares a failure, then lets the next caller start afresh', async () => {
    const flights = new SingleFlight<number, string>();
    const gate = deferred<number>();
    const a = flights.run('k', undefined, () => gate.promise);
    const b = flights.run('k', undefined, async () => 0);
    gate.reject(new Error('boom'));
    await expect(a.promise).rejects.toThrow('boom');
    await expect(b.promise).rejects.toThrow('boom');
    const c = flights.run('k', undefined, async () => 3);
    expect(c.joined).toBe(false);
    await expect(c.promise).resolves.toBe(3);
  });

  it('keeps separate keys apart and survives a throwing listener', async () => {
    const flights = new SingleFlight<string, string>();
    const a = flights.run(
      'a',
      () => {
        throw new Error('bad listener');
      },
      async emit => {
        emit('x');
        return 'A';
      }
    );
    const b = flights.run('b', undefined, async () => 'B');
    expect(b.joined).toBe(false);
    await expect(a.promise).resolves.toBe('A');
    await expect(b.promise).resolves.toBe('B');
  });
});
