/**
 * The pieces that keep the reader bounded, tested directly: the YAML depth bound, the path trie,
 * the trace's private scratch folder and the limits object.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { READ_LIMITS, readPackage } from '../../../src/rpz';
import { loadConfig } from '../../../src/config';
import { parseReadLimits } from '../../../src/rpz/limits';
import { PathTrie } from '../../../src/rpz/paths';
import { yamlDepthBound } from '../../../src/rpz/yaml-depth';
import {
  BASIC_CONFIG,
  buildRpz,
  tempFolder,
  traceBytes
} from '../../helpers/synthetic-rpz';

let folder: ReturnType<typeof tempFolder>;
beforeEach(() => {
  folder = tempFolder();
});
afterEach(() => folder.cleanup());

describe('yamlDepthBound', () => {
  it('bounds a real config well under the limit, and is at least the true depth', () => {
    expect(yamlDepthBound(BASIC_CONFIG, 1000)).toBeLessThan(20);
    expect(yamlDepthBound('[[[[x]]]]', 1000)).toBeGreaterThanOrEqual(4);
    expect(yamlDepthBound('- - - - - x', 1000)).toBeGreaterThanOrEqual(5);
    // map a > seq > map b > seq > map c > seq > map d > seq
    expect(
      yamlDepthBound('a:\n- b:\n  - c:\n    - d:\n      - e\n', 1000)
    ).toBeGreaterThanOrEqual(8);
  });

  it('does not count brackets in quotes, comments or block scalars', () => {
    const deep = '['.repeat(200);
    expect(
      yamlDepthBound(
        `a: "${deep}"\nb: '${deep}'\n# ${deep}\nc: |\n  ${deep}\n  - - - - - - -\n`,
        1000
      )
    ).toBeLessThan(10);
  });

  it('stops counting past the cap', () => {
    expect(yamlDepthBound('['.repeat(1_000_000), 64)).toBe(65);
  });
});

describe('PathTrie', () => {
  it('finds the shortest proper ancestor with a value', () => {
    const trie = new PathTrie<string>();
    trie.set('usr/lib', 'link');
    expect(trie.ancestorWithValue('usr/lib/x/y')).toEqual(['usr/lib', 'link']);
    expect(trie.ancestorWithValue('usr/lib')).toBeNull();
    expect(trie.ancestorWithValue('usr/libx/y')).toBeNull();
    expect(trie.ancestorWithValue('usr')).toBeNull();
    expect(trie.size).toBe(1);
  });
});

describe('the trace scratch folder', () => {
  it('decompresses the trace inside scratchDir, never in the system temporary folder', async () => {
    const path = folder.write(
      'p.rpz',
      await buildRpz({
        trace: null,
        extra: [
          { name: 'METADATA/trace.sqlite3.gz', content: gzipSync(traceBytes()) }
        ]
      })
    );
    const scratch = join(folder.dir, 'state', 'scratch');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = join(folder.dir, 'no-such-folder');
    try {
      const model = await readPackage(path, { scratchDir: scratch });
      expect(model.trace.status).toBe('ok');
    } finally {
      process.env.TMPDIR = saved;
    }
    expect(statSync(scratch).mode & 0o777).toBe(0o700);
    expect(readdirSync(scratch)).toEqual([]); // the private copy is gone
  });

  it('fails with the disk error when the scratch folder cannot be made', async () => {
    const path = folder.write('p.rpz', await buildRpz());
    const notAFolder = folder.write('file', Buffer.from('x'));
    await expect(
      readPackage(path, {
        scratchDir: join(notAFolder, 'scratch'),
        traceInMemoryBytes: 0
      })
    ).rejects.toMatchObject({ code: 'unreadable' });
    expect(existsSync(join(notAFolder, 'scratch'))).toBe(false);
  });

  it('summarises a small plain trace from memory, with no scratch folder made', async () => {
    const path = folder.write('p.rpz', await buildRpz());
    const scratch = join(folder.dir, 'unused-scratch');
    const model = await readPackage(path, { scratchDir: scratch });
    expect(model.trace.status).toBe('ok');
    expect(existsSync(scratch)).toBe(false);
    // The same model as from a scratch copy.
    expect(
      await readPackage(path, { scratchDir: scratch, traceInMemoryBytes: 0 })
    ).toEqual(model);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('copies a trace larger than the in-memory bound, or over maxTraceBytes says so', async () => {
    const trace = traceBytes();
    const path = folder.write('p.rpz', await buildRpz());
    const scratch = join(folder.dir, 'scratch-big');
    const inMemory = await readPackage(path, { scratchDir: scratch });
    const copied = await readPackage(path, {
      scratchDir: scratch,
      traceInMemoryBytes: trace.length - 1
    });
    expect(copied).toEqual(inMemory);
    expect(readdirSync(scratch)).toEqual([]);
    const over = await readPackage(path, {
      scratchDir: scratch,
      readLimits: { maxTraceBytes: trace.length - 1 }
    });
    expect(over.trace).toEqual({
      status: 'unreadable',
      reason: `METADATA/trace.sqlite3 is ${trace.length} bytes, over the limit maxTraceBytes (${trace.length - 1})`
    });
  });
});

describe('READ_LIMITS', () => {
  it('is frozen, and every limit is a positive whole number', () => {
    expect(Object.isFrozen(READ_LIMITS)).toBe(true);
    for (const value of Object.values(READ_LIMITS)) {
      expect(Number.isSafeInteger(value) && value > 0).toBe(true);
    }
  });
});

describe('REPROSERVER_READ_LIMITS', () => {
  afterEach(() => {
    delete process.env.REPROSERVER_READ_LIMITS;
  });

  it('parses name=value pairs and refuses unknown names and bad values in one sentence', () => {
    expect(parseReadLimits('maxRuns=3, maxEntries=20000000,')).toEqual({
      maxRuns: 3,
      maxEntries: 20_000_000
    });
    expect(() => parseReadLimits('maxRun=3')).toThrow(
      /"maxRun" is not a limit; the limits are maxEntries, /
    );
    for (const value of ['0', '-1', '1.5', '1e3', '', 'x']) {
      expect(() => parseReadLimits(`maxRuns=${value}`)).toThrow(
        'REPROSERVER_READ_LIMITS: the value of maxRuns must be a whole number of at least 1'
      );
    }
  });

  it('changes the defaults every reader applies, and the server refuses to start on a mistake', async () => {
    const path = folder.write(
      'two-runs.rpz',
      await buildRpz({
        config: BASIC_CONFIG.replace(
          /^runs:\n/m,
          'runs:\n- {argv: [b], binary: /b, workingdir: /, uid: 0, gid: 0}\n'
        )
      })
    );
    const model = await readPackage(path);
    expect(model.runs.length).toBeGreaterThanOrEqual(2);
    process.env.REPROSERVER_READ_LIMITS = 'maxRuns=1';
    await expect(readPackage(path)).rejects.toMatchObject({
      code: 'limit-exceeded',
      message: expect.stringContaining('(limit maxRuns)')
    });
    expect(() =>
      loadConfig({}, { REPROSERVER_READ_LIMITS: 'maxRuns=none' })
    ).toThrow('the value of maxRuns must be a whole number');
    expect(READ_LIMITS.maxRuns).toBe(10_000);
  });
});
