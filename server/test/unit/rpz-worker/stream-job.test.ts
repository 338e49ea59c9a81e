/**
 * Stream jobs: the root filesystem tar of a package is generated in a reader process and reaches
 * this process as bytes it never parses. Same bytes as the in-process generator; a damaged package
 * or a stopped reader errors the stream instead of ending it; a reader that stands still, crashes
 * or is aborted is killed, while this process's event loop keeps running.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { rootfsTar } from '../../../src/build/rootfs-tar';
import { RpzError, readEntries } from '../../../src/rpz';
import { DiskFullError } from '../../../src/sandbox/extract';
import {
  PackageReader,
  StreamJobAbortedError,
  type StreamProgress
} from '../../../src/rpz/worker';
import {
  basicData,
  tarStreamBuffer,
  tempFolder,
  writeRpz
} from '../../helpers/synthetic-rpz';
import { HOSTILE_CORPUS } from '../../helpers/hostile-corpus';
import { COMMITTED_EXAMPLE as EXAMPLE } from '../../helpers/examples';
import {
  MAX_LAG_MS,
  bundleReaderScriptBeforeProbing,
  probeEventLoopLag
} from './event-loop-lag';

jest.setTimeout(30_000);

let folder: ReturnType<typeof tempFolder>;
let reader: PackageReader;
beforeAll(bundleReaderScriptBeforeProbing);
beforeEach(() => {
  folder = tempFolder();
  reader = new PackageReader({ stallSeconds: 1, processes: 1 });
});
afterEach(() => {
  reader.close();
  folder.cleanup();
  delete process.env.REPROSERVER_READER_SCRIPT;
});

/** Reads a stream to its end: its sha256, or the error it was destroyed with. */
async function digest(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream as Readable) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

async function failure(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => new Error('the work succeeded'),
    (e: unknown) => e
  );
}

/** A reader script that takes stream jobs and misbehaves; it writes its pid to `pid`. */
function fakeReader(onStream: string): { script: string; pid: () => number } {
  const script = join(folder.dir, 'fake-reader.js');
  const pidFile = join(folder.dir, 'reader.pid');
  writeFileSync(
    script,
    `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
     process.on('message', request => { ${onStream} });
     process.on('disconnect', () => process.exit(0));
     process.send({ ready: true });`
  );
  return { script, pid: () => Number(readFileSync(pidFile, 'utf8')) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) {
    await new Promise(r => setTimeout(r, 20));
  }
  return !alive(pid);
}

describe('PackageReader.rootfsTar', () => {
  it('streams the same bytes as the in-process generator, with counters and warnings', async () => {
    const expected = await digest(rootfsTar(readEntries(EXAMPLE)).tar);
    const progress: StreamProgress[] = [];
    const lag = probeEventLoopLag();
    const job = reader.rootfsTar(EXAMPLE, {
      onProgress: p => progress.push(p)
    });
    expect(await digest(job.output)).toBe(expected);
    const final = await job.result;
    expect(lag.stop()).toBeLessThan(MAX_LAG_MS);
    expect(final.entries).toBeGreaterThan(10);
    expect(final.compressedBytes).toBe(final.compressedTotal);
    expect(final.bytesOut).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual(final);
  });

  it('sends the warnings of the walk (a Docker whiteout name is left out)', async () => {
    const path = await writeRpz(folder, 'whiteout.rpz', {
      data: [...basicData(), { name: 'DATA/home/ana/.wh.secret', content: 'x' }]
    });
    const warnings: string[] = [];
    const job = reader.rootfsTar(path, { onWarning: m => warnings.push(m) });
    await digest(job.output);
    await job.result;
    expect(warnings).toContain(
      '/home/ana/.wh.secret is left out: Docker reserves names starting with ".wh." for deleted files.'
    );
  });

  it('errors the stream with the reader’s refusal for data damaged mid-stream, never ending it', async () => {
    const tarBytes = await tarStreamBuffer([
      { name: 'DATA', type: 'directory' },
      ...basicData(),
      { name: 'DATA/big', content: Buffer.alloc(64 * 1024, 7) }
    ]);
    const path = await writeRpz(folder, 'damaged.rpz', {
      dataTar: tarBytes.subarray(0, tarBytes.length - 3000)
    });
    const job = reader.rootfsTar(path);
    const error = await failure(digest(job.output));
    expect(error).toBeInstanceOf(RpzError);
    expect(error).toMatchObject({ code: 'truncated' });
    expect(await failure(job.result)).toBe(error);
  });
});

describe('PackageReader.extract', () => {
  it('writes the tree in a reader process and returns the summary', async () => {
    const path = await writeRpz(folder, 'basic.rpz', { data: basicData() });
    const root = join(folder.dir, 'root');
    mkdirSync(root);
    const progress: StreamProgress[] = [];
    const summary = await reader.extract(path, root, {
      onProgress: p => progress.push(p)
    });
    expect(readFileSync(join(root, 'home/ana/in.txt'), 'utf8')).toBe(
      'a,b\n1,2\n'
    );
    expect(
      lstatSync(join(root, 'etc/alternatives/python')).isSymbolicLink()
    ).toBe(true);
    expect(summary.entries).toBe(progress.at(-1)?.entries);
    expect(summary.owners.others['home/ana/in.txt']).toEqual([1000, 1000]);
  });

  it('keeps a DiskFullError a DiskFullError across the process boundary', async () => {
    // A full disk needs 64 MiB written before extractEntries checks again: the reply is faked.
    process.env.REPROSERVER_READER_SCRIPT = fakeReader(
      "process.send({ id: request.id, ok: false, error: { name: 'DiskFullError', message: 'The disk is full.' } });"
    ).script;
    const error = await failure(
      reader.extract(join(folder.dir, 'big.rpz'), folder.dir)
    );
    expect(error).toBeInstanceOf(DiskFullError);
    expect(error).toMatchObject({ message: 'The disk is full.' });
  });

  it('kills an extraction that stands still, as the tar job', async () => {
    const fake = fakeReader('for (;;) {}');
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const error = await failure(
      reader.extract(join(folder.dir, 'stuck.rpz'), folder.dir)
    );
    expect(error).toMatchObject({ code: 'read-timeout' });
    expect(await waitDead(fake.pid())).toBe(true);
  });
});

describe('PackageReader.rootfsTar limits on the reader process', () => {
  it('kills a reader that makes no progress for the stall timeout', async () => {
    const fake = fakeReader('for (;;) {}');
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const lag = probeEventLoopLag();
    const started = Date.now();
    const job = reader.rootfsTar(join(folder.dir, 'stuck.rpz'));
    const error = await failure(digest(job.output));
    expect(lag.stop()).toBeLessThan(MAX_LAG_MS);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(error).toMatchObject({
      code: 'read-timeout',
      message:
        "Reading the package's data made no progress for 1 s (the stall timeout); it was stopped (stuck.rpz)"
    });
    expect(await waitDead(fake.pid())).toBe(true);
  });

  it('keeps a reader that writes bytes, however slowly its counters move', async () => {
    // 2.5 s of bytes every 200 ms and no progress message, then a success.
    const fake = fakeReader(
      `const out = new (require('net').Socket)({ fd: 3, readable: false, writable: true });
       let n = 0;
       const t = setInterval(() => {
         out.write(Buffer.alloc(10, 1));
         if (++n === 12) {
           clearInterval(t);
           out.end(() => process.send({ id: request.id, ok: true, value: { entries: 0, compressedBytes: 0, compressedTotal: 0, uncompressedBytes: 0, bytesOut: 120 } }));
         }
       }, 200);`
    );
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const job = reader.rootfsTar(join(folder.dir, 'slow.rpz'));
    const bytes: Buffer[] = [];
    for await (const chunk of job.output) {
      bytes.push(chunk as Buffer);
    }
    expect(Buffer.concat(bytes)).toEqual(Buffer.alloc(120, 1));
    await expect(job.result).resolves.toMatchObject({ bytesOut: 120 });
  });

  it('errors the stream when the reader exits after a partial output', async () => {
    const fake = fakeReader(
      `const out = new (require('net').Socket)({ fd: 3, readable: false, writable: true });
       out.end(Buffer.alloc(512), () => process.exit(3));`
    );
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const job = reader.rootfsTar(join(folder.dir, 'crash.rpz'));
    const error = await failure(digest(job.output));
    expect(error).toMatchObject({
      code: 'read-failed',
      message:
        "The package reader stopped unexpectedly (exit code 3) while reading the package's data; it is refused (crash.rpz)"
    });
  });

  it('kills the reader when the build is aborted', async () => {
    const fake = fakeReader('for (;;) {}');
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const controller = new AbortController();
    const job = reader.rootfsTar(join(folder.dir, 'stuck.rpz'), {
      signal: controller.signal
    });
    await new Promise(r => setTimeout(r, 300));
    controller.abort();
    expect(await failure(job.result)).toMatchObject({ code: 'aborted' });
    expect(await waitDead(fake.pid())).toBe(true);
  });

  it('kills the reader when the consumer gives up, and when the reader is closed', async () => {
    const fake = fakeReader('for (;;) {}');
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const first = reader.rootfsTar(join(folder.dir, 'a.rpz'));
    await new Promise(r => setTimeout(r, 300));
    first.output.destroy();
    expect(await failure(first.result)).toBeInstanceOf(StreamJobAbortedError);
    expect(await waitDead(fake.pid())).toBe(true);

    const second = reader.rootfsTar(join(folder.dir, 'b.rpz'));
    await new Promise(r => setTimeout(r, 300));
    reader.close();
    expect(await failure(second.result)).toBeInstanceOf(StreamJobAbortedError);
    expect(await waitDead(fake.pid())).toBe(true);
  });

  it('kills a reader past its memory cap (read-memory)', async () => {
    const fake = fakeReader(
      'const kept = []; for (;;) { kept.push(Buffer.alloc(1 << 20, 1)); }'
    );
    process.env.REPROSERVER_READER_SCRIPT = fake.script;
    const small = new PackageReader({ memoryMib: 64, stallSeconds: 30 });
    try {
      const job = small.rootfsTar(join(folder.dir, 'hungry.rpz'));
      expect(await failure(job.result)).toMatchObject({ code: 'read-memory' });
      expect(await waitDead(fake.pid())).toBe(true);
    } finally {
      small.close();
    }
  });
});

describe('the hostile corpus through the tar job', () => {
  // Cases of the data stream with the default limits: each must end as it does in-process, the
  // refusal as the stream's error (never a clean end), a warning as a warning.
  const cases = HOSTILE_CORPUS.filter(
    c => c.via === 'entries' && c.options === undefined
  );

  it('has data-stream cases to run', () => {
    expect(cases.length).toBeGreaterThan(20);
  });

  it.each(cases.map(c => [c.name, c] as const))('%s', async (name, c) => {
    const path = folder.write(`${name}.rpz`, await c.build());
    const warnings: string[] = [];
    const job = reader.rootfsTar(path, { onWarning: m => warnings.push(m) });
    const outcome = await digest(job.output).then(
      () => null,
      (e: unknown) => e
    );
    if ('code' in c.expect) {
      expect(outcome).toMatchObject({ code: c.expect.code });
    } else {
      expect(outcome).toBeNull();
      if ('warning' in c.expect) {
        expect(warnings.join('\n')).toMatch(c.expect.warning);
      }
    }
  });
});
