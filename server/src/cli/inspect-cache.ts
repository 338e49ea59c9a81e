/**
 * `reproserver inspect`'s memory of the packages it has read, so that asking again about the same
 * file answers at once instead of hashing and parsing it again (seconds for a package of
 * gigabytes; most of the start-up time for a small one).
 *
 * An entry is keyed by the file's identity, as `stat` gives it: device and inode (the entry's
 * name), size, and modification and change times to the nanosecond, plus this program's version
 * and the reader's limits (`REPROSERVER_READ_LIMITS`), which both shape the model. Writing to the
 * file changes its change time, and nothing short of resetting the clock sets that back. A file
 * changed within a clock tick of its read would keep its times on a filesystem with coarse ones:
 * as git does with its index, a file changed in the last few seconds before the read is not
 * remembered, nor one whose identity moved while it was being read.
 *
 * The cache is a folder of the user's own (mode 0700; one owned by someone else, or open to
 * others, is not used), of at most `MAX_ENTRIES` small JSON files written whole (temporary file,
 * then rename). It is an optimisation only: whatever goes wrong with it, the package is read.
 * Failed reads are never remembered.
 *
 * This module is on the fast path of a repeated `inspect`: it loads nothing but `node:fs` and
 * `node:path` (no hashing library: entries are named after the inode, and the key is compared
 * inside), and works synchronously: a one-shot command has no one else to serve, and Node's
 * promise-based file system module alone would weigh a good part of the start-up.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type BigIntStats
} from 'node:fs';
import { join } from 'node:path';
import type { PackageModel } from '../rpz/model';
import { cacheBaseDir, ensurePrivateDir, isPrivateDir } from './cache-dir';

/** Entries kept at most; the oldest written go first. */
export const MAX_ENTRIES = 64;
/** An entry larger than this (a package listing a huge number of files) is not kept. */
export const MAX_ENTRY_BYTES = 1024 * 1024;
/** A file changed less than this long before its read is not remembered (coarse timestamps). */
export const RECENT_CHANGE_NS = 3_000_000_000n;

/** What must be equal for an entry to stand for a read. */
interface EntryKey {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  version: string;
  limits: string;
}

interface Entry {
  key: EntryKey;
  model: PackageModel;
}

/** Where the cache lives: `REPROSERVER_CACHE_DIR`, else the XDG cache folder. */
export function inspectCacheDir(env: NodeJS.ProcessEnv): string {
  return join(cacheBaseDir(env), 'inspect');
}

export class InspectCache {
  constructor(
    private readonly dir: string,
    /** The program's version and the reader's limits: a change of either forgets every entry. */
    private readonly version: string,
    private readonly limits: string
  ) {}

  /** The model remembered for the file these facts describe, or null. */
  lookup(facts: BigIntStats): PackageModel | null {
    try {
      if (!this.isPrivate()) {
        return null;
      }
      const entry = readSmallJson(join(this.dir, entryName(facts)));
      return entry !== null && sameKey(entry.key, this.keyOf(facts))
        ? entry.model
        : null;
    } catch {
      return null;
    }
  }

  /**
   * Remembers `model`, read from the file whose facts were `before` (stat'ed before the read),
   * when the file is still the same and was not changed just before the read began.
   */
  remember(
    path: string,
    before: BigIntStats,
    readStartedNs: bigint,
    model: PackageModel
  ): void {
    try {
      const after = statSync(path, { bigint: true });
      const key = this.keyOf(before);
      const changedNs =
        before.ctimeNs > before.mtimeNs ? before.ctimeNs : before.mtimeNs;
      if (
        !sameKey(key, this.keyOf(after)) ||
        readStartedNs - changedNs < RECENT_CHANGE_NS
      ) {
        return;
      }
      const text = JSON.stringify({ key, model } satisfies Entry);
      if (Buffer.byteLength(text) > MAX_ENTRY_BYTES) {
        return;
      }
      if (!ensurePrivateDir(this.dir)) {
        return;
      }
      const name = entryName(before);
      const temporary = join(this.dir, `.${name}.${process.pid}.tmp`);
      writeFileSync(temporary, text, { flag: 'wx', mode: 0o600 });
      renameSync(temporary, join(this.dir, name));
      this.prune();
    } catch {
      // A cache that cannot be written only costs the next read its speed.
    }
  }

  private keyOf(facts: BigIntStats): EntryKey {
    return {
      dev: String(facts.dev),
      ino: String(facts.ino),
      size: String(facts.size),
      mtimeNs: String(facts.mtimeNs),
      ctimeNs: String(facts.ctimeNs),
      version: this.version,
      limits: this.limits
    };
  }

  /** The folder is a real folder of this user's, closed to others (else it is not used). */
  private isPrivate(): boolean {
    return isPrivateDir(this.dir);
  }

  /** Keeps the `MAX_ENTRIES` newest entries. */
  private prune(): void {
    const names = readdirSync(this.dir).filter(n => n.endsWith('.json'));
    if (names.length <= MAX_ENTRIES) {
      return;
    }
    const dated = names.map(name => ({
      name,
      written:
        lstatSync(join(this.dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0
    }));
    dated.sort((a, b) => b.written - a.written);
    for (const { name } of dated.slice(MAX_ENTRIES)) {
      rmSync(join(this.dir, name), { force: true });
    }
  }
}

function entryName(facts: BigIntStats): string {
  return `${facts.dev}-${facts.ino}.json`;
}

function sameKey(a: EntryKey, b: EntryKey): boolean {
  return (Object.keys(b) as (keyof EntryKey)[]).every(k => a?.[k] === b[k]);
}

/** An entry file's content, if it is a regular file of a sane size holding an entry. */
function readSmallJson(path: string): Entry | null {
  let fd: number;
  try {
    // Non-blocking: should a FIFO stand there, opening it must not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const facts = fstatSync(fd);
    if (!facts.isFile() || facts.size > MAX_ENTRY_BYTES) {
      return null;
    }
    const parsed = JSON.parse(readFileSync(fd, 'utf8')) as Entry | null;
    return typeof parsed?.key === 'object' &&
      typeof parsed.model === 'object' &&
      parsed.model !== null
      ? parsed
      : null;
  } finally {
    closeSync(fd);
  }
}
