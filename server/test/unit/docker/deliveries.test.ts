/**
 * Declared outputs sent by `rpz-exec step --deliver` after the step's end (run on this host: the
 * helper is static and needs no container), and how the server takes them: whatever did not
 * come whole, or came wrong, is left to the archive API.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperPath } from '../../../src/backends/docker/helper-path';
import {
  FrameParser,
  type FollowRecord
} from '../../../src/backends/docker/frames';
import {
  canDeliver,
  OutputDeliveries,
  type Delivered
} from '../../../src/backends/docker/deliveries';

/** `rpz-exec step` of a shell script in a fresh folder, as this user, with `deliver` args. */
function stepIn(
  script: string,
  deliver: (dir: string) => string[]
): { dir: string; code: number | null; stdout: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'rpz-deliver-'));
  const result = spawnSync(
    helperPath(),
    [
      'step',
      join(dir, 'steps'),
      '0',
      '1000',
      String(process.getuid!()),
      String(process.getgid!()),
      ...deliver(dir),
      '/bin/sh',
      '0',
      '--',
      'sh',
      '-c',
      script
    ],
    { cwd: dir, maxBuffer: 64 << 20 }
  );
  return { dir, code: result.status, stdout: result.stdout };
}

/** Runs a step whose script makes files in its folder, asking for `names` there; what came. */
async function deliverAfter(
  script: string,
  names: string[],
  maxBytes = 1 << 20
): Promise<{
  records: FollowRecord[];
  results: ReadonlyMap<number, Delivered>;
  deliveries: OutputDeliveries;
  dir: string;
}> {
  let deliveries!: OutputDeliveries;
  const result = stepIn(script, dir => {
    deliveries = new OutputDeliveries(
      names.map(name => join(dir, name)),
      maxBytes
    );
    return deliveries.helperArgs();
  });
  const parser = new FrameParser(record => void deliveries.take(record));
  // In small pieces, as a socket may hand them over.
  const records: FollowRecord[] = [];
  for (let at = 0; at < result.stdout.length; at += 7001) {
    records.push(...parser.push(result.stdout.subarray(at, at + 7001)));
  }
  deliveries.streamEnded();
  return {
    records,
    results: await deliveries.results(),
    deliveries,
    dir: result.dir
  };
}

const header = (kind: number, length: number): Buffer => {
  const bytes = Buffer.alloc(5);
  bytes[0] = kind;
  bytes.writeUInt32BE(length, 1);
  return bytes;
};
const fileRecord = (index: number, size: number, mode = 0o644): Buffer => {
  const body = Buffer.alloc(24);
  body.writeUInt32BE(index, 0);
  body.writeUInt32BE(mode, 4);
  body.writeUInt32BE(1000, 8);
  body.writeUInt32BE(1000, 12);
  body.writeUInt32BE(Math.floor(size / 2 ** 32), 16);
  body.writeUInt32BE(size % 2 ** 32, 20);
  return Buffer.concat([header(10, 24), body]);
};
const data = (text: string): Buffer =>
  Buffer.concat([header(11, Buffer.byteLength(text)), Buffer.from(text)]);
const skipped = (index: number, reason: number): Buffer => {
  const body = Buffer.alloc(5);
  body.writeUInt32BE(index, 0);
  body[4] = reason;
  return Buffer.concat([header(12, 5), body]);
};
const END = Buffer.concat([header(3, 2), Buffer.from('0\n')]);
const CUT = header(13, 0);
const DONE = header(14, 0);

/** Feeds records (after an end record) as a stream would; what the deliveries kept. */
async function take(
  records: Buffer[],
  paths = ['/a', '/b', '/c'],
  options: { maxFileBytes?: number; spoolBytes?: number } = {}
): Promise<{
  results: ReadonlyMap<number, Delivered>;
  deliveries: OutputDeliveries;
  follow: FollowRecord[];
}> {
  const deliveries = new OutputDeliveries(
    paths,
    options.maxFileBytes,
    options.spoolBytes
  );
  const parser = new FrameParser(record => void deliveries.take(record));
  const follow = parser.push(Buffer.concat([END, ...records]));
  deliveries.streamEnded();
  return { results: await deliveries.results(), deliveries, follow };
}

const contentOf = (delivered: Delivered | undefined): string | undefined =>
  delivered?.state === 'file'
    ? readFileSync(delivered.spool, 'utf8')
    : delivered?.state;

describe('rpz-exec step --deliver', () => {
  it('sends each asked output after the end: files whole with their owner and mode, or why not', async () => {
    const big = 'x'.repeat(200_000) + 'end';
    const { records, results, deliveries, dir } = await deliverAfter(
      [
        "head -c 200000 /dev/zero | tr '\\0' x > big.txt && printf end >> big.txt",
        ': > empty.txt',
        'printf small > small.txt && chmod 640 small.txt',
        'ln -s small.txt link.txt',
        'mkfifo fifo',
        'mkdir folder',
        'head -c 300000 /dev/zero > too-large.bin',
        'echo done',
        'exit 4'
      ].join('\n'),
      [
        'big.txt',
        'empty.txt',
        'small.txt',
        'absent.txt',
        'link.txt',
        'fifo',
        'folder',
        'too-large.bin',
        'no-folder/file.txt'
      ],
      // Exactly big.txt's size: too-large.bin is left to the archive API.
      big.length
    );
    // The step's own records are untouched, and end as before.
    expect(records.map(r => r.kind)).toEqual(['started', 'log', 'end']);
    expect(records[2]).toEqual({ kind: 'end', exitCode: 4 });
    expect(deliveries.stoppedBecause).toBeUndefined();
    expect(contentOf(results.get(0))).toBe(big);
    expect(contentOf(results.get(1))).toBe('');
    expect(contentOf(results.get(2))).toBe('small');
    expect(results.get(2)).toMatchObject({
      header: {
        size: 5,
        mode: 0o640,
        uid: process.getuid!(),
        gid: process.getgid!()
      }
    });
    expect(results.get(3)).toEqual({ state: 'absent' });
    // A link is never followed; a FIFO is never opened (it would block).
    expect(results.get(4)).toEqual({ state: 'not-a-file' });
    expect(results.get(5)).toEqual({ state: 'not-a-file' });
    expect(results.get(6)).toEqual({ state: 'not-a-file' });
    expect(results.has(7)).toBe(false);
    expect(results.get(8)).toEqual({ state: 'absent' });
    // The spool is private, and goes with the run.
    const spool = (results.get(0) as { spool: string }).spool;
    expect(statSync(join(spool, '..')).mode & 0o777).toBe(0o700);
    await deliveries.discard();
    expect(() => statSync(spool)).toThrow();
    expect(readFileSync(join(dir, 'small.txt'), 'utf8')).toBe('small');
  });

  it('sends nothing more when not asked', async () => {
    const result = stepIn('true', () => []);
    expect(new FrameParser().push(result.stdout)).toEqual([
      { kind: 'started' },
      { kind: 'end', exitCode: 0 }
    ]);
  });

  it('refuses a malformed request', () => {
    for (const deliver of [
      ['--deliver', '10', '2', '/only-one'],
      ['--deliver', '10', '257', ...Array(257).fill('/x')],
      ['--deliver', '-1', '0'],
      ['--deliver', '10']
    ]) {
      const result = stepIn('true', () => deliver);
      expect({ deliver: deliver.slice(0, 3), code: result.code }).toEqual({
        deliver: deliver.slice(0, 3),
        code: 127
      });
    }
  });
});

describe('taking delivered outputs', () => {
  it('keeps what came whole, in any order of chunks', async () => {
    const { results, deliveries } = await take([
      fileRecord(0, 5),
      data('he'),
      data('llo'),
      skipped(1, 1),
      fileRecord(2, 0),
      DONE
    ]);
    expect(deliveries.stoppedBecause).toBeUndefined();
    expect(contentOf(results.get(0))).toBe('hello');
    expect(results.get(1)).toEqual({ state: 'absent' });
    expect(contentOf(results.get(2))).toBe('');
    await deliveries.discard();
  });

  it('drops a file cut short, and leaves outputs not sent to the archive API', async () => {
    const { results } = await take([
      fileRecord(0, 5),
      data('he'),
      CUT,
      skipped(1, 3),
      fileRecord(2, 1),
      data('x'),
      DONE
    ]);
    expect([...results.keys()]).toEqual([2]);
  });

  it.each([
    ['data outside a file', [data('x')], /outside a file/],
    [
      'more data than announced',
      [fileRecord(1, 1), data('xy')],
      /longer than the 1 bytes/
    ],
    [
      'an index out of order',
      [skipped(2, 1), skipped(1, 1)],
      /index 1 out of order/
    ],
    ['an index past the paths', [skipped(3, 1)], /index 3 out of order/],
    ['the same index twice', [skipped(1, 1), skipped(1, 2)], /out of order/],
    [
      'a file left unfinished',
      [fileRecord(1, 3), data('x'), skipped(2, 1)],
      /output 1 was not sent whole/
    ],
    [
      'a file larger than asked',
      [fileRecord(1, 2 ** 40)],
      /more than the 16777216 asked/
    ],
    ['a mode with type bits', [fileRecord(1, 1, 0o100644)], /mode/],
    ['a skip for an unknown reason', [skipped(1, 4)], /unknown reason 4/],
    ['an unknown record kind', [header(15, 0)], /kind 15 and 0 bytes/],
    [
      'a record of the wrong size',
      [header(10, 23), Buffer.alloc(23)],
      /kind 10 and 23 bytes/
    ],
    [
      'the step writing after the outputs ended',
      [DONE, data('late')],
      /wrote after its last output/
    ]
  ])(
    'stops at %s, keeping what came whole before it and the step end',
    async (_, records, reason) => {
      const { results, deliveries, follow } = await take([
        skipped(0, 1),
        ...records
      ]);
      expect(follow).toEqual([{ kind: 'end', exitCode: 0 }]);
      if (!(records as Buffer[]).includes(DONE)) {
        expect(deliveries.stoppedBecause).toMatch(reason);
      }
      // The first output's skip came before: it counts, whatever follows.
      expect(results.get(0)).toEqual({ state: 'absent' });
    }
  );

  it('spools no more than its bound: the rest is read and dropped', async () => {
    const { results } = await take(
      [fileRecord(0, 4), data('abcd'), fileRecord(1, 4), data('efgh'), DONE],
      ['/a', '/b'],
      { spoolBytes: 6 }
    );
    expect(contentOf(results.get(0))).toBe('abcd');
    expect(results.has(1)).toBe(false);
  });

  it('gives up when the stream ends before the outputs do', async () => {
    const { results, deliveries } = await take([fileRecord(0, 4), data('ab')]);
    expect(results.size).toBe(0);
    await deliveries.discard();
  });

  it('asks the helper only for what fits its arguments', () => {
    expect(canDeliver([])).toBe(false);
    expect(canDeliver(['/out.txt'])).toBe(true);
    expect(canDeliver(Array(257).fill('/x'))).toBe(false);
    expect(canDeliver(['/' + 'a'.repeat(70_000)])).toBe(false);
  });
});
