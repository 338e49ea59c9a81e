/**
 * Runs every case of the hostile corpus against the reader, each in a worker thread with a
 * deadline. A worker because a reader that hangs may never yield to the event loop (a synchronous
 * loop, a promise chain that never waits on I/O, a backtracking regular expression): an in-process
 * timer would never fire, while `worker.terminate()` stops any of them. So a hang fails its case.
 *
 * The worker cannot load TypeScript, so the reader is bundled once with esbuild (node:sqlite is
 * built into Node.js: nothing to keep external).
 */
import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { HOSTILE_CORPUS, type HostileCase } from '../../helpers/hostile-corpus';
import { tempFolder } from '../../helpers/synthetic-rpz';

/** Per-case deadline: generous for a loaded 2-core machine; the slowest case takes about 1 s. */
const DEADLINE_MS = 10_000;

type Outcome =
  | { kind: 'error'; name: string; code: string; message: string }
  | { kind: 'ok'; warnings: string[] }
  | { kind: 'hang' };

/** The worker: reads the package as the case says and posts the outcome as plain data. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const rpz = require(workerData.bundle);
(async () => {
  const { path, via, options } = workerData;
  try {
    if (via === 'package') {
      const model = await rpz.readPackage(path, options);
      parentPort.postMessage({ kind: 'ok', warnings: model.warnings });
      return;
    }
    for await (const entry of rpz.readEntries(path, options)) {
      if (entry.type === 'file') {
        for await (const chunk of entry.body) {
          void chunk;
        }
      }
    }
    parentPort.postMessage({ kind: 'ok', warnings: [] });
  } catch (error) {
    parentPort.postMessage({
      kind: 'error',
      name: String(error && error.name),
      code: String(error && error.code),
      message: String(error && error.message)
    });
  }
})();
`;

let bundleDir: string;
let bundle: string;

beforeAll(() => {
  bundleDir = mkdtempSync(join(tmpdir(), 'rpz-hostile-'));
  bundle = join(bundleDir, 'reader.js');
  buildSync({
    // HOSTILE_READER_ENTRY runs the corpus against another copy of the reader (an older one, to
    // see which cases it fails).
    entryPoints: [
      process.env.HOSTILE_READER_ENTRY ??
        join(__dirname, '../../../src/rpz/index.ts')
    ],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    // Where a reader outside this tree (HOSTILE_READER_ENTRY) finds yaml and the rest.
    nodePaths: [dirname(dirname(require.resolve('yaml/package.json')))],
    outfile: bundle,
    logLevel: 'error'
  });
});

afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

async function readInWorker(path: string, c: HostileCase): Promise<Outcome> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { bundle, path, via: c.via, options: c.options }
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<Outcome>((resolve, reject) => {
      timer = setTimeout(() => resolve({ kind: 'hang' }), DEADLINE_MS);
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', code =>
        reject(
          new Error(`the reader's worker exited (${code}) without an outcome`)
        )
      );
    });
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}

let folder: ReturnType<typeof tempFolder>;
beforeEach(() => {
  folder = tempFolder();
});
afterEach(() => folder.cleanup());

describe('hostile corpus', () => {
  it('has at least 60 cases with unique kebab-case names', () => {
    expect(HOSTILE_CORPUS.length).toBeGreaterThanOrEqual(60);
    const names = HOSTILE_CORPUS.map(c => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
  });

  it.each(HOSTILE_CORPUS.map(c => [c.name, c] as const))(
    '%s',
    async (_name, c) => {
      const bytes = await c.build();
      expect(bytes.length).toBeLessThan(2 * 1024 * 1024);
      const outcome = await readInWorker(folder.write('p.rpz', bytes), c);
      if (outcome.kind === 'hang') {
        throw new Error(
          `${c.name}: the reader did not finish within ${DEADLINE_MS} ms`
        );
      }
      if ('code' in c.expect) {
        expect(outcome).toMatchObject({
          kind: 'error',
          name: 'RpzError',
          code: c.expect.code
        });
        const { message } = outcome as { message: string };
        if (typeof c.expect.message === 'string') {
          expect(message).toBe(`${c.expect.message} (p.rpz)`);
        } else if (c.expect.message !== undefined) {
          expect(message).toMatch(c.expect.message);
        }
        return;
      }
      if (outcome.kind === 'error') {
        throw new Error(`${outcome.code}: ${outcome.message}`);
      }
      if ('warning' in c.expect) {
        expect(outcome.warnings).toContainEqual(
          expect.stringMatching(c.expect.warning)
        );
      }
    },
    DEADLINE_MS + 5000
  );
});
