/**
 * The package reader in reader processes: same answers as the in-process reader, and every
 * package that loops, allocates or crashes is refused by deadline or cap while this process's
 * event loop keeps running.
 */
import { statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  RpzError,
  readPackage,
  scanEntries,
  type PackageModel
} from '../../../src/rpz';
import { ioFileSizes } from '../../../src/rpz/file-sizes';
import { PackageReader } from '../../../src/rpz/worker';
import { tempFolder } from '../../helpers/synthetic-rpz';
import { COMMITTED_EXAMPLE as EXAMPLE } from '../../helpers/examples';
import {
  MAX_LAG_MS,
  bundleReaderScriptBeforeProbing,
  probeEventLoopLag
} from './event-loop-lag';
import { paxFractionalSize, recursiveViewPackage } from './freezing-packages';

jest.setTimeout(30_000);

let folder: ReturnType<typeof tempFolder>;
let reader: PackageReader;
beforeAll(bundleReaderScriptBeforeProbing);
beforeEach(() => {
  folder = tempFolder();
  reader = new PackageReader({
    timeoutSeconds: 1,
    processes: 1,
    scratchDir: join(folder.dir, 'scratch')
  });
});
afterEach(() => {
  reader.close();
  folder.cleanup();
  delete process.env.REPROSERVER_READER_SCRIPT;
});

async function refusal(work: Promise<unknown>): Promise<RpzError> {
  const error = await work.then(
    () => new Error('the read succeeded'),
    (e: unknown) => e
  );
  if (!(error instanceof RpzError)) {
    throw error;
  }
  return error;
}

describe('PackageReader', () => {
  it('reads a reprozip-made package exactly as the in-process reader does', async () => {
    const here: PackageModel = await readPackage(EXAMPLE);
    const there = await reader.readPackage(EXAMPLE);
    expect(there).toEqual(here);
    expect(await reader.fileSizes(EXAMPLE, here)).toEqual(
      await ioFileSizes(EXAMPLE, here)
    );
    expect(await reader.scanEntries(EXAMPLE)).toEqual(
      await scanEntries(EXAMPLE)
    );
  });

  it('passes the reader’s refusals through with their code and sentence', async () => {
    const path = folder.write('text.rpz', Buffer.from('hello\n'.repeat(200)));
    const here = await refusal(readPackage(path));
    const there = await refusal(reader.readPackage(path));
    expect(there.code).toBe(here.code);
    expect(there.message).toBe(here.message);
  });

  it.each([
    ['a pax size=1.5 in a gzip outer tar', async () => paxFractionalSize()],
    ['a trace whose processes is a recursive view', recursiveViewPackage]
  ])(
    'settles %s within its deadline and the event loop keeps running',
    async (_name, build) => {
      const path = folder.write('hostile.rpz', await build());
      const lag = probeEventLoopLag();
      const started = Date.now();
      // Refused by the deadline, refused at once by a parser that knows better, or read with a
      // warning: never a hang.
      const outcome = await reader.readPackage(path).then(
        model => model,
        (error: unknown) => error
      );
      const elapsed = Date.now() - started;
      expect(lag.stop()).toBeLessThan(MAX_LAG_MS);
      expect(elapsed).toBeLessThan(5000);
      if (outcome instanceof RpzError && outcome.code === 'read-timeout') {
        expect(outcome.message).toBe(
          'Reading the package took longer than 1 s (the read timeout, --read-timeout-seconds); it is refused (hostile.rpz)'
        );
      } else if (!(outcome instanceof RpzError)) {
        expect((outcome as PackageModel).format).toBe(2);
      }
      expect((await reader.readPackage(EXAMPLE)).format).toBe(2);
    }
  );

  it('keeps the trace scratch folder private', async () => {
    await reader.readPackage(EXAMPLE);
    expect(statSync(join(folder.dir, 'scratch')).mode & 0o777).toBe(0o700);
  });
});

/** A reader script that misbehaves on request: what no package should manage, tested anyway. */
function fakeReader(onTask: string): string {
  const path = join(folder.dir, 'fake-reader.js');
  writeFileSync(
    path,
    `process.on('message', request => { ${onTask} });
     process.on('disconnect', () => process.exit(0));
     process.send({ ready: true });`
  );
  return path;
}

describe('PackageReader limits on the reader process', () => {
  it('stops a reader past its deadline and answers the tasks queued behind it', async () => {
    // Spins on packages named stuck*, answers the others at once.
    process.env.REPROSERVER_READER_SCRIPT = fakeReader(
      "if (request.task.path.includes('stuck')) { for (;;) {} } process.send({ id: request.id, ok: true, value: 'read' });"
    );
    const lag = probeEventLoopLag();
    const started = Date.now();
    const results = await Promise.allSettled([
      reader.readPackage(join(folder.dir, 'stuck-1.rpz')),
      reader.readPackage(join(folder.dir, 'good-1.rpz')),
      reader.readPackage(join(folder.dir, 'stuck-2.rpz')),
      reader.readPackage(join(folder.dir, 'good-2.rpz'))
    ]);
    expect(lag.stop()).toBeLessThan(MAX_LAG_MS);
    expect(
      results.map(r =>
        r.status === 'fulfilled' ? r.value : (r.reason as RpzError).code
      )
    ).toEqual(['read-timeout', 'read', 'read-timeout', 'read']);
    // One reader: two deadlines one after the other, each followed by a fresh reader's start.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('gives a big package more time, and says so', async () => {
    process.env.REPROSERVER_READER_SCRIPT = fakeReader('for (;;) {}');
    const big = join(folder.dir, 'big.rpz');
    writeFileSync(big, '');
    truncateSync(big, 24 * 1024 * 1024); // sparse: 1.5 s more at 1 s per 16 MiB
    const started = Date.now();
    const error = await refusal(reader.readPackage(big));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2400);
    expect(error.message).toBe(
      "Reading the package took longer than 3 s (the read timeout, --read-timeout-seconds, plus 2 s for the package's size); it is refused (big.rpz)"
    );
  });

  it('stops a reader whose JavaScript heap passes the cap (read-memory)', async () => {
    process.env.REPROSERVER_READER_SCRIPT = fakeReader(
      'const keep = []; for (;;) keep.push(new Array(1e5).fill(Math.random()));'
    );
    const capped = new PackageReader({ memoryMib: 64, timeoutSeconds: 20 });
    try {
      const error = await refusal(capped.readPackage(EXAMPLE));
      expect(error.code).toBe('read-memory');
      expect(error.message).toBe(
        'Reading the package needed more than 64 MiB of memory (the read memory cap, --read-memory-mib); it is refused (shell-pipeline.rpz)'
      );
    } finally {
      capped.close();
    }
  });

  it('stops a reader whose native memory passes the cap (read-memory)', async () => {
    process.env.REPROSERVER_READER_SCRIPT = fakeReader(
      'const keep = []; setInterval(() => keep.push(Buffer.alloc(16 * 1024 * 1024, 1)), 5);'
    );
    const capped = new PackageReader({ memoryMib: 64, timeoutSeconds: 20 });
    try {
      const lag = probeEventLoopLag();
      const error = await refusal(capped.readPackage(EXAMPLE));
      expect(lag.stop()).toBeLessThan(MAX_LAG_MS);
      expect(error.code).toBe('read-memory');
    } finally {
      capped.close();
    }
  });

  it('refuses with read-failed when the reader crashes', async () => {
    process.env.REPROSERVER_READER_SCRIPT = fakeReader(
      "process.kill(process.pid, 'SIGSEGV');"
    );
    const error = await refusal(reader.readPackage(EXAMPLE));
    expect(error.code).toBe('read-failed');
    expect(error.message).toBe(
      'The package reader stopped unexpectedly (SIGSEGV) while reading the package; it is refused (shell-pipeline.rpz)'
    );
  });
});
