import { Readable } from 'node:stream';
import { OutputCollector } from '../../../src/backends/common/output-collector';
import type { RunEvent } from '../../../src/runs/events';
import type { RunPlan } from '../../../src/runs/plan';

const plan = {
  limits: { outputBytes: 10 },
  outputs: [{ name: 'out', path: '/w/out.txt' }],
  inputs: [{ name: 'in', path: '/w/in.txt' }]
} as unknown as RunPlan;

function collector(): {
  outputs: OutputCollector;
  events: RunEvent[];
  stored: string[];
} {
  const events: RunEvent[] = [];
  const stored: string[] = [];
  const sink = {
    store: async (_meta: unknown, body: Readable) => {
      let text = '';
      for await (const chunk of body) text += String(chunk);
      stored.push(text);
      return { size: Buffer.byteLength(text), sha256: 'h' };
    }
  };
  return {
    outputs: new OutputCollector(plan, sink, e => events.push(e)),
    events,
    stored
  };
}

describe('OutputCollector', () => {
  it('stores files within the budget, then says which no longer fit', async () => {
    const { outputs, events, stored } = collector();
    expect(outputs.fits('out', '/w/out.txt', 6)).toBe(true);
    await outputs.store(
      'out',
      '/w/out.txt',
      'declared',
      Readable.from(['abcdef']),
      () => ({ uid: 1, gid: 2, mode: 0o640 })
    );
    expect(outputs.fits('/w/big', '/w/big', 5)).toBe(false);
    expect(outputs.fits('/w/small', '/w/small', 4)).toBe(true);
    expect(stored).toEqual(['abcdef']);
    expect(events).toEqual([
      {
        type: 'output',
        time: expect.any(Number),
        name: 'out',
        path: '/w/out.txt',
        kind: 'declared',
        size: 6,
        sha256: 'h',
        uid: 1,
        gid: 2,
        mode: 0o640
      },
      {
        type: 'output-missing',
        time: expect.any(Number),
        name: '/w/big',
        path: '/w/big',
        reason: 'The outputs reached their size limit of 10 bytes.'
      }
    ]);
  });

  it('reports a declared output that is missing or not a file, not a changed path', () => {
    const { outputs, events } = collector();
    outputs.notCreated('out', '/w/out.txt');
    outputs.notAFile('out', '/w/out.txt', 'declared');
    outputs.notAFile('/w/dir', '/w/dir', 'changed');
    expect(events.map(e => (e as { reason: string }).reason)).toEqual([
      'The run did not create it.',
      'It is not a regular file.'
    ]);
  });

  it('counts declared outputs and replaced inputs as not changed by the run', () => {
    expect([...collector().outputs.declaredPaths]).toEqual([
      '/w/out.txt',
      '/w/in.txt'
    ]);
  });
});
