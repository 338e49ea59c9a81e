/**
 * The normalized stream of a package's filesystem entries: what the image builder and the sandbox
 * extractor consume. Every entry has a root-relative `path` (`DATA/` stripped, normalized), and
 * hard-link targets are stripped the same way. Symlink targets are kept verbatim (often absolute:
 * they are resolved inside the container, never on the host).
 *
 * Safety rules, enforced before an entry is yielded:
 * - names and hard-link targets must stay inside the root (`unsafe-path` / `unsafe-link`);
 * - a name may appear once (`duplicate-entry`), so what was checked is what gets written;
 * - no entry may sit below an earlier symlink, and no hard link may target a path below one
 *   (`path-through-symlink`). This is the symlink-chain guard: since every symlink is seen before
 *   anything that could go through it (tar order), tracking the symlink paths (in a trie, so the
 *   check is linear in the path's length) and checking each new path's ancestors against them
 *   means no later entry can be written through a link, wherever the link points;
 * - counts, path lengths, depths and the memory kept per entry are capped (`limits.ts`);
 * - a hard link must target an earlier regular file (`unsafe-link`);
 * - devices, FIFOs and unknown types are skipped with a warning.
 * Bodies are streamed (see `tar-parse.ts`); decompression is guarded against gzip bombs.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { RpzError, inPackage } from './errors';
import {
  gunzipGuarded,
  type InflateCounters,
  type InflateLimits
} from './gunzip';
import { sniffContainer } from './detect';
import { DATA_MEMBER } from './layout';
import { addWarning, overLimit, readLimits, type ReadLimits } from './limits';
import { PathTrie, dataPath } from './paths';
import { parseTar, type StreamMember } from './tar-parse';
import { walkTar } from './tar-walk';

interface FsEntryCommon {
  /** Root-relative path without a leading slash, e.g. `usr/bin/ls`. */
  path: string;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Modification time, seconds since the epoch (may be fractional). */
  mtime: number;
}

/** One filesystem entry of a package. */
export type FsEntry =
  | (FsEntryCommon & { type: 'directory' })
  /** Read `body` fully (or not at all) before asking for the next entry. */
  | (FsEntryCommon & { type: 'file'; size: number; body: Readable })
  /** `target` exactly as packed (often absolute). */
  | (FsEntryCommon & { type: 'symlink'; target: string })
  /** `target` is the root-relative path of an earlier `file` entry. */
  | (FsEntryCommon & { type: 'hardlink'; target: string });

/** Live counters for progress bars. */
export interface EntryProgress {
  /** Compressed bytes consumed so far. */
  compressedBytes: number;
  /** Compressed bytes in total (`DATA.tar.gz`, or the whole file when the outer tar is gzip). */
  compressedTotal: number;
  /** Decompressed bytes produced so far. */
  uncompressedBytes: number;
  /** Entries yielded so far. */
  entries: number;
}

export interface ReadEntriesOptions {
  /** Gzip-bomb limits. */
  limits?: InflateLimits;
  /** Called for each warning as it happens (they are also collected in `warnings`). */
  onWarning?: (message: string) => void;
  /** Stops the stream with an `aborted` error. */
  signal?: AbortSignal;
  /** Caps on counts and lengths (see `READ_LIMITS`); the defaults when absent. */
  readLimits?: Partial<ReadLimits>;
}

/** An async iterable of entries, with progress counters and warnings. Iterate it once. */
export interface EntryStream extends AsyncIterable<FsEntry> {
  readonly progress: Readonly<EntryProgress>;
  readonly warnings: readonly string[];
}

type Kind = 'directory' | 'file' | 'symlink' | 'hardlink';

/** Applies the safety rules to raw members, one at a time. */
class Normalizer {
  private readonly seen = new Map<string, Kind>();
  private readonly symlinks = new PathTrie<true>();
  private members = 0;
  private pathBytes = 0;

  constructor(
    private readonly warn: (message: string) => void,
    private readonly limits: ReadLimits = readLimits()
  ) {}

  private throughSymlink(path: string): string | null {
    if (this.symlinks.size === 0) {
      return null;
    }
    return this.symlinks.ancestorWithValue(path)?.[0] ?? null;
  }

  /** Checks the path's depth and counts the bytes kept for it. Throws `limit-exceeded`. */
  private account(member: StreamMember, path: string): void {
    const { maxPathBytes, maxPathDepth } = this.limits;
    let depth = 1;
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
      depth++;
    }
    if (depth > maxPathDepth) {
      const shown =
        member.name.length > 100
          ? `${member.name.slice(0, 100)}…`
          : member.name;
      throw overLimit(
        `components in one path ("${shown}")`,
        'maxPathDepth',
        maxPathDepth,
        shown
      );
    }
    this.pathBytes += path.length;
    if (this.pathBytes > maxPathBytes) {
      throw overLimit(
        'bytes of entry paths in its data',
        'maxPathBytes',
        maxPathBytes
      );
    }
  }

  /** The entry for `member`, or null when it is skipped. Throws RpzError. */
  accept(member: StreamMember): FsEntry | null {
    // Every member counts, skipped ones too: each costs a header's work.
    if (++this.members > this.limits.maxEntries) {
      throw overLimit(
        'entries in its data',
        'maxEntries',
        this.limits.maxEntries
      );
    }
    const path = dataPath(member.name);
    if (path === null) {
      this.warn(
        `The data holds ${member.name}, which is outside DATA/; it is skipped.`
      );
      return null;
    }
    if (path === '') {
      return null; // the root directory itself
    }
    if (
      member.kind === 'chardev' ||
      member.kind === 'blockdev' ||
      member.kind === 'fifo' ||
      member.kind === 'unknown'
    ) {
      const what =
        member.kind === 'unknown'
          ? `an entry of unknown type "${member.typeflag}"`
          : `a ${member.kind}`;
      this.warn(`${member.name} is ${what}; it is skipped.`);
      return null;
    }
    this.account(member, path);
    if (this.seen.has(path)) {
      throw new RpzError(
        'duplicate-entry',
        `The package has two entries for ${member.name}.`,
        member.name
      );
    }
    const via = this.throughSymlink(path);
    if (via !== null) {
      throw new RpzError(
        'path-through-symlink',
        `The package has an entry ${member.name} below the symlink DATA/${via}, which could write outside the root.`,
        member.name
      );
    }
    const common: FsEntryCommon = {
      path,
      mode: member.mode,
      uid: member.uid,
      gid: member.gid,
      uname: member.uname,
      gname: member.gname,
      mtime: member.mtime
    };
    let entry: FsEntry;
    switch (member.kind) {
      case 'directory':
        entry = { ...common, type: 'directory' };
        break;
      case 'symlink':
        if (member.linkname === '') {
          throw new RpzError(
            'corrupt-tar',
            `The symlink ${member.name} has an empty target.`,
            member.name
          );
        }
        this.symlinks.set(path, true);
        entry = { ...common, type: 'symlink', target: member.linkname };
        break;
      case 'hardlink': {
        const target = dataPath(member.linkname, true);
        if (
          target === null ||
          target === '' ||
          this.seen.get(target) !== 'file'
        ) {
          throw new RpzError(
            'unsafe-link',
            `The hard link ${member.name} points to ${member.linkname}, which is not an earlier file of the package.`,
            member.name
          );
        }
        entry = { ...common, type: 'hardlink', target };
        break;
      }
      default:
        entry = {
          ...common,
          type: 'file',
          size: member.size,
          body: member.body ?? Readable.from([])
        };
    }
    this.seen.set(path, member.kind === 'hardlink' ? 'file' : entry.type);
    return entry;
  }
}

async function* members(
  path: string,
  mapError: (error: unknown) => Error,
  counters: InflateCounters,
  progress: EntryProgress,
  limits: InflateLimits | undefined,
  caps: ReadLimits
): AsyncGenerator<StreamMember> {
  const file = await open(path, 'r');
  let dataRange: { offset: number; size: number } | null = null;
  let encoding;
  let fileSize;
  try {
    fileSize = (await file.stat()).size;
    encoding = await sniffContainer(file, fileSize);
    if (encoding === 'tar') {
      for await (const member of walkTar(file, fileSize, caps)) {
        if (member.name === DATA_MEMBER) {
          dataRange = { offset: member.dataOffset, size: member.size };
          break;
        }
      }
    }
  } finally {
    await file.close();
  }
  const big = { highWaterMark: 1024 * 1024 };
  if (dataRange !== null) {
    // v2, plain outer tar: stream only DATA.tar.gz.
    progress.compressedTotal = dataRange.size;
    const source =
      dataRange.size === 0
        ? Readable.from([])
        : createReadStream(path, {
            ...big,
            start: dataRange.offset,
            end: dataRange.offset + dataRange.size - 1
          });
    yield* parseTar(gunzipGuarded(source, DATA_MEMBER, limits, counters), {
      mapError,
      limits: caps
    });
    return;
  }
  progress.compressedTotal = fileSize;
  const outer =
    encoding === 'gzip'
      ? gunzipGuarded(
          createReadStream(path, big),
          'the package',
          limits,
          counters
        )
      : (createReadStream(path, big) as AsyncIterable<Buffer>);
  let sawData = false;
  for await (const member of parseTar(outer, { mapError, limits: caps })) {
    if (member.name === DATA_MEMBER && member.kind === 'file') {
      // v2 with a gzip outer tar: the inner archive is streamed from inside the outer one. Its
      // compressed size is not tracked separately; the outer counters show progress.
      sawData = true;
      const inner = member.body ?? Readable.from([]);
      yield* parseTar(
        gunzipGuarded(inner, DATA_MEMBER, limits, {
          compressedBytes: 0,
          uncompressedBytes: 0
        }),
        { mapError, limits: caps }
      );
    } else if (
      member.name === 'DATA' ||
      member.name.startsWith('DATA/') ||
      member.name.startsWith('/') ||
      member.name.startsWith('../')
    ) {
      sawData = true; // v1: data members sit in the outer tar
      yield member;
    }
  }
  if (!sawData) {
    throw new RpzError(
      'missing-data',
      'The package has no DATA.tar.gz and no DATA/ members.',
      DATA_MEMBER
    );
  }
}

/**
 * Streams the filesystem entries of the package at `path`. Errors are `RpzError`s whose message
 * names the package. See the module comment for the safety rules.
 */
export function readEntries(
  path: string,
  options: ReadEntriesOptions = {}
): EntryStream {
  const label = basename(path);
  const warnings: string[] = [];
  const progress: EntryProgress = {
    compressedBytes: 0,
    compressedTotal: 0,
    uncompressedBytes: 0,
    entries: 0
  };
  const counters: InflateCounters = {
    compressedBytes: 0,
    uncompressedBytes: 0
  };
  const caps = readLimits(options.readLimits);
  // A package can hold millions of skipped devices: keep (and report) the first ones only.
  const warn = (message: string): void => {
    const before = warnings.length;
    addWarning(warnings, message, caps.maxWarnings);
    for (const kept of warnings.slice(before)) {
      options.onWarning?.(kept);
    }
  };
  let started = false;
  // Errors surfacing from a body stream get the package name too.
  const mapError = (error: unknown): Error => inPackage(error, label);
  async function* iterate(): AsyncGenerator<FsEntry> {
    const normalizer = new Normalizer(warn, caps);
    try {
      for await (const member of members(
        path,
        mapError,
        counters,
        progress,
        options.limits,
        caps
      )) {
        progress.compressedBytes = counters.compressedBytes;
        progress.uncompressedBytes = counters.uncompressedBytes;
        if (options.signal?.aborted) {
          throw new RpzError('aborted', 'Reading the package was aborted.');
        }
        const entry = normalizer.accept(member);
        if (entry !== null) {
          progress.entries++;
          yield entry;
        }
      }
      progress.compressedBytes = counters.compressedBytes;
      progress.uncompressedBytes = counters.uncompressedBytes;
    } catch (error) {
      throw inPackage(error, label);
    }
  }
  return {
    progress,
    warnings,
    [Symbol.asyncIterator]() {
      if (started) {
        throw new Error('An EntryStream can be iterated only once.');
      }
      started = true;
      return iterate();
    }
  };
}

/** Totals from a full pass over the entries (bodies skipped, not kept). */
export interface EntryTotals {
  entries: number;
  /** Sum of regular file sizes. */
  bytes: number;
}

/** Counts entries and file bytes with one pass; for exact progress bars before extracting. */
export async function scanEntries(
  path: string,
  options: ReadEntriesOptions = {}
): Promise<EntryTotals> {
  const totals: EntryTotals = { entries: 0, bytes: 0 };
  for await (const entry of readEntries(path, options)) {
    totals.entries++;
    if (entry.type === 'file') {
      totals.bytes += entry.size;
    }
  }
  return totals;
}
