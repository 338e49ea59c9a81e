import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { codeCacheDir } from '../../../src/cli/bundle-start';
import {
  CodeCacheLoader,
  type CacheUse
} from '../../../src/cli/code-cache-loader';

// The bundle's loader on a small bundle of its own: CommonJS as Node runs it, and a code cache
// that is used only for the very file and command it was made for. Whether V8 used an entry can
// only be seen in a process of its own: within one, V8 answers a second compile of the same
// source from its own memory, whatever entry it is given. So each command is a Node.js process
// running the loader (compiled here by esbuild) as the bundle's entry would.

let base: string;
let bin: string;
let cache: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'code-cache-'));
  bin = join(base, 'bin');
  cache = join(base, 'cache');
  mkdirSync(bin);
  mkdirSync(cache, { mode: 0o700 });
  // main → a → b → a (a cycle), and a built-in module.
  writeFileSync(
    join(bin, 'reproserver-main.js'),
    [
      '#!/usr/bin/env node',
      "const a = require('./reproserver-a.js');",
      "const { basename } = require('node:path');",
      'module.exports = { total: a.total(), name: basename(__filename), dir: __dirname };'
    ].join('\n')
  );
  writeFileSync(
    join(bin, 'reproserver-a.js'),
    [
      'exports.ready = false;',
      "const b = require('./reproserver-b.js');",
      'exports.total = () => b.value + 1;',
      'exports.ready = true;'
    ].join('\n')
  );
  writeFileSync(
    join(bin, 'reproserver-b.js'),
    [
      "const a = require('./reproserver-a.js');",
      'exports.sawReadyA = a.ready;',
      'exports.value = 41;'
    ].join('\n')
  );
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

const main = () => join(bin, 'reproserver-main.js');

/** The loader as plain CommonJS, for the processes below. */
function compiledLoader(): string {
  const file = join(base, 'loader.js');
  const source = readFileSync(
    join(__dirname, '../../../src/cli/code-cache-loader.ts'),
    'utf8'
  );
  writeFileSync(
    file,
    transformSync(source, { loader: 'ts', format: 'cjs', platform: 'node' })
      .code
  );
  return file;
}

/** One command in a process of its own: main's exports, and each file's use of the cache. */
function command(name: string): {
  exports: { total: number };
  uses: Record<string, CacheUse>;
} {
  const script = `
    const { CodeCacheLoader } = require(${JSON.stringify(compiledLoader())});
    const loader = new CodeCacheLoader(${JSON.stringify(cache)}, ${JSON.stringify(name)});
    const exports = loader.load(${JSON.stringify(main())});
    loader.save();
    const uses = {};
    for (const [file, use] of loader.uses) uses[require('node:path').basename(file)] = use;
    console.log(JSON.stringify({ exports, uses }));`;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8'
  });
  expect(child.stderr).toBe('');
  return JSON.parse(child.stdout);
}

describe('CodeCacheLoader', () => {
  it('runs CommonJS files as Node does: exports, cycles, built-ins, once each', () => {
    const loader = new CodeCacheLoader(cache, 'inspect');
    expect(loader.load(main())).toEqual({
      total: 42,
      name: 'reproserver-main.js',
      dir: bin
    });
    // b saw a half-made (a cycle), and ran once although required twice.
    const b = loader.load(join(bin, 'reproserver-b.js')) as {
      sawReadyA: boolean;
    };
    expect(b.sawReadyA).toBe(false);
    expect(loader.load(join(bin, 'reproserver-b.js'))).toBe(b);
  });

  it('makes an entry per file when the command ends, and the next run uses them', () => {
    const first = command('inspect');
    expect(first.exports.total).toBe(42);
    expect(first.uses).toEqual({
      'reproserver-main.js': 'made',
      'reproserver-a.js': 'made',
      'reproserver-b.js': 'made'
    });
    expect(readdirSync(cache).sort()).toEqual([
      'reproserver-a.js.inspect.v8',
      'reproserver-b.js.inspect.v8',
      'reproserver-main.js.inspect.v8'
    ]);
    const second = command('inspect');
    expect(second.exports.total).toBe(42);
    expect(second.uses).toEqual({
      'reproserver-main.js': 'used',
      'reproserver-a.js': 'used',
      'reproserver-b.js': 'used'
    });
  });

  it('keeps one entry per command', () => {
    command('inspect');
    expect(command('other').uses['reproserver-main.js']).toBe('made');
    expect(command('other').uses['reproserver-main.js']).toBe('used');
  });

  it('compiles a file changed since its entry was made, even to the same length', () => {
    command('inspect');
    // V8 itself would take the old entry: it checks the source's length, not its text.
    const b = join(bin, 'reproserver-b.js');
    writeFileSync(b, readFileSync(b, 'utf8').replace('41', '99'));
    utimesSync(b, new Date(2001, 1, 1), new Date(2001, 1, 1));
    const second = command('inspect');
    expect(second.exports.total).toBe(100);
    expect(second.uses['reproserver-b.js']).toBe('made');
    expect(second.uses['reproserver-main.js']).toBe('used');
    expect(command('inspect').uses['reproserver-b.js']).toBe('used');
  });

  it('compiles from source when an entry is damaged, and replaces it', () => {
    command('inspect');
    const entry = join(cache, 'reproserver-a.js.inspect.v8');
    const bytes = readFileSync(entry);
    const newline = bytes.indexOf(10);
    // The right key line, then garbage.
    writeFileSync(
      entry,
      Buffer.concat([
        bytes.subarray(0, newline + 1),
        Buffer.alloc(bytes.length - newline - 1, 7)
      ])
    );
    const second = command('inspect');
    expect(second.exports.total).toBe(42);
    expect(second.uses['reproserver-a.js']).toBe('made');
    expect(command('inspect').uses['reproserver-a.js']).toBe('used');
  });

  it('writes nothing without a folder', () => {
    const loader = new CodeCacheLoader(null, 'inspect');
    expect(loader.load(main())).toMatchObject({ total: 42 });
    loader.save();
    expect([...loader.uses.values()]).toEqual(['off', 'off', 'off']);
    expect(readdirSync(cache)).toEqual([]);
  });
});

describe('codeCacheDir', () => {
  it('is code-v8 in the cache folder, made private', () => {
    const directory = codeCacheDir({ REPROSERVER_CACHE_DIR: cache });
    expect(directory).toBe(join(cache, 'code-v8'));
  });

  it('is off with NODE_DISABLE_COMPILE_CACHE, as Node’s own cache', () => {
    expect(
      codeCacheDir({
        REPROSERVER_CACHE_DIR: cache,
        NODE_DISABLE_COMPILE_CACHE: '1'
      })
    ).toBeNull();
  });

  it('is not used when others may write to it: what it holds is run', () => {
    mkdirSync(join(cache, 'code-v8'));
    chmodSync(join(cache, 'code-v8'), 0o777);
    expect(codeCacheDir({ REPROSERVER_CACHE_DIR: cache })).toBeNull();
  });
});
