/**
 * `reproserver inspect` remembers what it read: an unchanged package is answered without being
 * read again; a changed one, one changed just before its read, another program version or other
 * read limits are read again; the cache folder must be the user's own; it stays small.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { join } from 'node:path';
import {
  InspectCache,
  MAX_ENTRIES,
  MAX_ENTRY_BYTES
} from '../../../src/cli/inspect-cache';
import { inspectCommand } from '../../../src/cli/inspect';
import * as reader from '../../../src/rpz/package';
import type { PackageModel } from '../../../src/rpz/model';
import { tempFolder, writeRpz } from '../../helpers/synthetic-rpz';

let folder: ReturnType<typeof tempFolder>;
let cacheDir: string;
const savedCacheDir = process.env.REPROSERVER_CACHE_DIR;
const savedLimits = process.env.REPROSERVER_READ_LIMITS;

beforeEach(() => {
  folder = tempFolder();
  cacheDir = join(folder.dir, 'cache');
  process.env.REPROSERVER_CACHE_DIR = cacheDir;
  delete process.env.REPROSERVER_READ_LIMITS;
});
afterEach(() => {
  jest.restoreAllMocks();
  folder.cleanup();
  process.env.REPROSERVER_CACHE_DIR = savedCacheDir;
  if (savedLimits === undefined) {
    delete process.env.REPROSERVER_READ_LIMITS;
  } else {
    process.env.REPROSERVER_READ_LIMITS = savedLimits;
  }
});

/**
 * The packages these tests write were changed a moment ago, which the cache refuses to remember
 * (coarse timestamps): the clock is moved on by a minute, as if the package had been written then.
 */
function aMinuteLater(): void {
  const now = Date.now();
  jest.spyOn(Date, 'now').mockReturnValue(now + 60_000);
}

async function inspect(...args: string[]): Promise<{
  code: number;
  out: string;
  err: string;
}> {
  let out = '';
  let err = '';
  const code = await inspectCommand(args, {
    stdout: { write: s => ((out += s), true) },
    stderr: { write: s => ((err += s), true) }
  });
  return { code, out, err };
}

const entries = () =>
  existsSync(join(cacheDir, 'inspect'))
    ? readdirSync(join(cacheDir, 'inspect')).filter(n => n.endsWith('.json'))
    : [];

describe('reproserver inspect remembers what it read', () => {
  it('answers an unchanged package again without reading it', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    aMinuteLater();
    const read = jest.spyOn(reader, 'readPackage');
    const first = await inspect(path, '--json');
    expect(first.code).toBe(0);
    expect(read).toHaveBeenCalledTimes(1);
    expect(entries()).toHaveLength(1);
    const again = await inspect(path, '--json');
    expect(again).toEqual(first);
    expect(read).toHaveBeenCalledTimes(1);
    // The summary is made from the same model.
    const summary = await inspect(path);
    expect(summary.out).toContain('Runs (1):');
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('reads a package again once it changed', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    aMinuteLater();
    const before = JSON.parse((await inspect(path, '--json')).out) as {
      sha256: string;
    };
    await writeRpz(folder, 'p.rpz', { layout: 'v2-gzip' });
    const read = jest.spyOn(reader, 'readPackage');
    const after = JSON.parse((await inspect(path, '--json')).out) as {
      sha256: string;
      container: string;
    };
    expect(read).toHaveBeenCalledTimes(1);
    expect(after.sha256).not.toBe(before.sha256);
    expect(after.container).toBe('v2-gzip-tar');
  });

  it('does not remember a package changed just before its read', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    expect((await inspect(path)).code).toBe(0);
    expect(entries()).toEqual([]);
  });

  it('reads afresh and remembers nothing with --no-cache', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    aMinuteLater();
    await inspect(path);
    const read = jest.spyOn(reader, 'readPackage');
    expect((await inspect(path, '--no-cache')).code).toBe(0);
    expect(read).toHaveBeenCalledTimes(1);
    const other = await writeRpz(folder, 'q.rpz');
    await inspect(other, '--no-cache');
    expect(entries()).toHaveLength(1);
  });

  it('does not remember a package it cannot read', async () => {
    const path = folder.write('bad.rpz', Buffer.from('not a package'));
    aMinuteLater();
    expect((await inspect(path)).code).toBe(1);
    expect(entries()).toEqual([]);
  });

  it('reads again under other read limits', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    aMinuteLater();
    await inspect(path);
    process.env.REPROSERVER_READ_LIMITS = 'maxRuns=50';
    const read = jest.spyOn(reader, 'readPackage');
    await inspect(path);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('does not use a cache folder that others can write to', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    aMinuteLater();
    mkdirSync(join(cacheDir, 'inspect'), { recursive: true });
    chmodSync(join(cacheDir, 'inspect'), 0o777);
    await inspect(path);
    expect(entries()).toEqual([]);
  });

  it('reads again past an entry that is not one', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    aMinuteLater();
    await inspect(path);
    const [name] = entries();
    writeFileSync(join(cacheDir, 'inspect', name), '{"key": 1, "mod');
    const read = jest.spyOn(reader, 'readPackage');
    expect((await inspect(path)).code).toBe(0);
    expect(read).toHaveBeenCalledTimes(1);
  });
});

describe('InspectCache', () => {
  const model = (warnings: string[] = []) =>
    ({ format: 2, runs: [], warnings }) as unknown as PackageModel;
  const later = (path: string) => statSync(path).ctimeMs * 1e6 + 60e9;

  it('forgets every entry when the version changes', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    const facts = statSync(path, { bigint: true });
    new InspectCache(join(cacheDir, 'inspect'), '1.0.0', '').remember(
      path,
      facts,
      BigInt(later(path)),
      model()
    );
    expect(
      new InspectCache(join(cacheDir, 'inspect'), '1.0.0', '').lookup(facts)
    ).toEqual(model());
    expect(
      new InspectCache(join(cacheDir, 'inspect'), '1.0.1', '').lookup(facts)
    ).toBeNull();
  });

  it('keeps no entry larger than MAX_ENTRY_BYTES', async () => {
    const path = await writeRpz(folder, 'p.rpz');
    const facts = statSync(path, { bigint: true });
    const cache = new InspectCache(join(cacheDir, 'inspect'), '1', '');
    cache.remember(
      path,
      facts,
      BigInt(later(path)),
      model(['x'.repeat(MAX_ENTRY_BYTES)])
    );
    expect(cache.lookup(facts)).toBeNull();
  });

  it(`keeps the ${MAX_ENTRIES} newest entries`, () => {
    const cache = new InspectCache(join(cacheDir, 'inspect'), '1', '');
    for (let i = 0; i < MAX_ENTRIES + 3; i++) {
      const path = folder.write(`p${i}.rpz`, Buffer.from(`package ${i}`));
      cache.remember(
        path,
        statSync(path, { bigint: true }),
        BigInt(later(path)),
        model()
      );
    }
    expect(entries()).toHaveLength(MAX_ENTRIES);
  });
});
