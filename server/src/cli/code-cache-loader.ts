/**
 * Loads the bundled command line's own files (jupyterlab_reproserver/server/bin/, see
 * scripts/bundle-server.mjs) with V8's code cache taken *after* the command ran.
 *
 * Node's module compile cache (`compile-cache.ts`) keeps the code V8 compiled when it first read a
 * file: little more than each module's top level, since V8 compiles a function only when it is
 * first called. A command's time goes into the functions it calls (the YAML parser, the tar
 * reader), which every run compiled again. A cache made when the command ends holds those too: a
 * first `inspect` of a small package took about 15 ms less (bench/cli/startup.mjs).
 *
 * One cache entry per file and per command, since each command calls different functions; the
 * key is this Node.js (version, architecture, V8 flags are checked by V8 itself) and the file's
 * identity as `stat` gives it (inode, size, modification time to the nanosecond): V8 checks only
 * the length of the source, so a file reinstalled with the same length must not reuse it. The
 * folder follows the rule of every cache of the command line (`cache-dir.ts`): used only when
 * private, since what it holds is run. `NODE_DISABLE_COMPILE_CACHE=1` turns it off, as it does
 * Node's. Whatever goes wrong with the cache, the file is compiled from its source.
 *
 * It loads only `node:fs`, `node:module`, `node:path` and `node:vm`: it runs before anything else.
 */
import {
  closeSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** A CommonJS module as the bundled code sees it. */
interface LoadedModule {
  id: string;
  filename: string;
  exports: unknown;
  loaded: boolean;
}

/** A file compiled without a usable cache entry: its entry is written when the command ends. */
interface ToSave {
  file: string;
  script: Script;
  entry: string;
  key: string;
}

/** What happened to each file's cache entry, for tests and the bench. */
export type CacheUse = 'used' | 'made' | 'off';

/** Files whose `require` of a sibling goes through the loader: the bundle's own chunks. */
const OWN_FILE = /^\.\/reproserver-[\w-]+\.js$/;

/** An entry larger than this is not written (the bundle's largest is about 400 KB). */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

export class CodeCacheLoader {
  private readonly modules = new Map<string, LoadedModule>();
  private readonly toSave: ToSave[] = [];
  /** Each file loaded, and whether its cache entry was used, made (on `save`) or off. */
  readonly uses = new Map<string, CacheUse>();

  /**
   * @param cacheDir a private folder (checked by the caller), or null for no cache
   * @param command the command run (an entry per command), a word of letters and dashes
   */
  constructor(
    private readonly cacheDir: string | null,
    private readonly command: string
  ) {}

  /** Runs `file` (a CommonJS file of the bundle) once, and returns its exports. */
  load(file: string): unknown {
    const known = this.modules.get(file);
    if (known) {
      return known.exports;
    }
    const source = readFileSync(file, 'utf8');
    const key = this.keyOf(file);
    const entry =
      this.cacheDir === null || key === null
        ? null
        : join(this.cacheDir, `${basename(file)}.${this.command}.v8`);
    const cachedData =
      entry === null ? undefined : readEntry(entry, key as string);
    const script = new Script(wrap(source), { filename: file, cachedData });
    if (entry === null) {
      this.uses.set(file, 'off');
    } else if (cachedData !== undefined && !script.cachedDataRejected) {
      this.uses.set(file, 'used');
    } else {
      this.toSave.push({ file, script, entry, key: key as string });
    }
    const module: LoadedModule = {
      id: file,
      filename: file,
      exports: {},
      loaded: false
    };
    // Set before it runs, so that a cycle of requires gets the exports made so far, as in Node.
    this.modules.set(file, module);
    const run = script.runInThisContext() as (
      exports: unknown,
      require: NodeJS.Require,
      module: LoadedModule,
      filename: string,
      dirname: string
    ) => void;
    run.call(
      module.exports,
      module.exports,
      this.requireFor(file),
      module,
      file,
      dirname(file)
    );
    module.loaded = true;
    return module.exports;
  }

  /**
   * Writes the entries of the files compiled from source, with all the code compiled since: call
   * it when the command ends. Never throws.
   */
  save(): void {
    for (const { file, script, entry, key } of this.toSave.splice(0)) {
      try {
        const data = script.createCachedData();
        if (data.length <= MAX_ENTRY_BYTES && writeEntry(entry, key, data)) {
          this.uses.set(file, 'made');
        }
      } catch {
        // a cache not written is a cache not used
      }
    }
  }

  /** `require` for `file`: the bundle's own chunks through the loader, the rest through Node. */
  private requireFor(file: string): NodeJS.Require {
    const nodeRequire = createRequire(file);
    const base = dirname(file);
    const require = ((id: string) =>
      OWN_FILE.test(id)
        ? this.load(join(base, id))
        : nodeRequire(id)) as NodeJS.Require;
    require.resolve = nodeRequire.resolve;
    require.cache = nodeRequire.cache;
    require.main = nodeRequire.main;
    return require;
  }

  /** What must not change for an entry to stand for `file`; null when it cannot be known. */
  private keyOf(file: string): string | null {
    try {
      const facts = statSync(file, { bigint: true });
      return JSON.stringify([
        process.version,
        process.arch,
        this.command,
        file,
        String(facts.ino),
        String(facts.size),
        String(facts.mtimeNs)
      ]);
    } catch {
      return null;
    }
  }
}

/** The source as the body of the function CommonJS runs it in (a leading `#!` line removed). */
function wrap(source: string): string {
  const body = source.startsWith('#!') ? `//${source}` : source;
  return `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
}

/** The cached data of an entry whose first line is `key`, or undefined. */
function readEntry(entry: string, key: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(entry);
  } catch {
    return undefined;
  }
  const newline = bytes.indexOf(10);
  if (newline < 0 || bytes.toString('utf8', 0, newline) !== key) {
    return undefined;
  }
  return bytes.subarray(newline + 1);
}

/**
 * Writes an entry whole: a temporary file of this process, then renamed over the old one, so that
 * a command running at the same time reads the old entry or the new one. Says whether it did.
 */
function writeEntry(entry: string, key: string, data: Buffer): boolean {
  const temporary = `${entry}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      const bytes = Buffer.concat([Buffer.from(`${key}\n`), data]);
      for (let at = 0; at < bytes.length;) {
        at += writeSync(fd, bytes, at);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, entry);
    return true;
  } catch {
    rmSync(temporary, { force: true });
    return false;
  }
}
