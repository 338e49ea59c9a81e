/**
 * The run's disk limit in the sandbox, where no filesystem quota can be had without privileges:
 * the run's writable tree (the overlay's upper folder, or the run's copy) is measured again and
 * again while steps run, and the run is stopped when it holds more than the limit.
 *
 * Each sweep is bounded and never follows a link the experiment planted, even while it renames and
 * relinks things under our feet: every folder is opened with O_DIRECTORY|O_NOFOLLOW and its
 * entries are reached through that open folder (`/proc/self/fd/N/name`, which the kernel resolves
 * from the folder itself, not from a path), and only `lstat`ed. A sweep visits at most
 * `maxEntries` entries and holds at most `maxDepth` folders open; a tree larger or deeper than that
 * stops the run too (many small files are a way of filling a disk). Sweeps follow each other at
 * `intervalMs`, or ten times the last sweep's duration when that is longer, so measuring never
 * takes more than about a tenth of a core. Between two sweeps a run can write past the limit by
 * what it writes in that time; RLIMIT_FSIZE (at the same limit) bounds each file meanwhile.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import { formatBytes } from '../../describe';

export interface TreeMeasure {
  /** Bytes allocated (blocks) by the entries counted. */
  bytes: number;
  /** Entries counted (made or changed by the run). */
  entries: number;
  /** Entries visited, counted or not. */
  visited: number;
  /** Set when the sweep stopped early: the tree has more entries, or deeper folders, than allowed. */
  tooLarge?: 'entries' | 'depth';
}

export interface MeasureOptions {
  /** Stop after visiting this many entries. */
  maxEntries: number;
  /** Stop at folders nested deeper than this below the root. */
  maxDepth: number;
  /**
   * Count only entries whose inode changed at or after this time (ms since the epoch): for a run's
   * copy, where the package's own files are not the run's use. Default: count everything.
   */
  sinceMs?: number;
}

/** Entries `lstat`ed at once. */
const LSTAT_BATCH = 64;

const DIRECTORY_FLAGS =
  constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Measures the tree at `root` (a folder the host made, not one the experiment can replace). */
export async function measureTree(
  root: string,
  options: MeasureOptions
): Promise<TreeMeasure> {
  const measure: TreeMeasure = { bytes: 0, entries: 0, visited: 0 };
  const seenLinks = new Set<number>();
  const visit = async (folder: FileHandle, depth: number): Promise<void> => {
    const base = `/proc/self/fd/${folder.fd}`;
    const subfolders: string[] = [];
    const count = async (names: string[]): Promise<void> => {
      const infos = await Promise.all(
        names.map(name => lstat(`${base}/${name}`).catch(() => null))
      );
      infos.forEach((info, i) => {
        if (info === null) {
          return; // gone meanwhile
        }
        const counted =
          options.sinceMs === undefined || info.ctimeMs >= options.sinceMs;
        if (counted && !(info.nlink > 1 && seenLinks.has(info.ino))) {
          if (info.nlink > 1) {
            seenLinks.add(info.ino);
          }
          measure.entries++;
          measure.bytes += info.blocks * 512;
        }
        if (info.isDirectory()) {
          subfolders.push(names[i]);
        }
      });
    };
    const names = await readdir(base);
    for (let start = 0; start < names.length; start += LSTAT_BATCH) {
      const batch = names.slice(start, start + LSTAT_BATCH);
      measure.visited += batch.length;
      if (measure.visited > options.maxEntries) {
        measure.tooLarge = 'entries';
        return;
      }
      await count(batch);
    }
    if (subfolders.length > 0 && depth >= options.maxDepth) {
      measure.tooLarge = 'depth';
      return;
    }
    for (const name of subfolders) {
      const child = await open(`${base}/${name}`, DIRECTORY_FLAGS).catch(
        () => null // replaced by a link or a file, or removed: not ours to follow
      );
      if (child === null) {
        continue;
      }
      try {
        await visit(child, depth + 1);
      } finally {
        await child.close();
      }
      if (measure.tooLarge) {
        return;
      }
    }
  };
  const top = await open(root, DIRECTORY_FLAGS);
  try {
    await visit(top, 0);
  } finally {
    await top.close();
  }
  return measure;
}

/** Measures several trees as one: their sums, within one bound of entries. */
export async function measureTrees(
  roots: readonly string[],
  options: MeasureOptions
): Promise<TreeMeasure> {
  const total: TreeMeasure = { bytes: 0, entries: 0, visited: 0 };
  for (const root of roots) {
    let measure: TreeMeasure;
    try {
      measure = await measureTree(root, {
        ...options,
        maxEntries: options.maxEntries - total.visited
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        continue; // not made yet: nothing in it
      }
      throw error;
    }
    total.bytes += measure.bytes;
    total.entries += measure.entries;
    total.visited += measure.visited;
    if (measure.tooLarge) {
      total.tooLarge = measure.tooLarge;
      break;
    }
  }
  return total;
}

export interface DiskWatchOptions extends MeasureOptions {
  /** The run's writable trees on the host (its tree, and any folder bound into the sandbox). */
  roots: readonly string[];
  /** The run's disk limit, bytes. */
  limitBytes: number;
  /** Least time between two sweeps. Default 1000 ms. */
  intervalMs?: number;
  /** Called once, with a sentence for the user, when the run is over its limit. */
  onExceeded: (reason: string) => void;
}

/** Sweeps a run's writable tree until stopped or until the run is over its limit. */
export class DiskWatch {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** The last complete measure, for tests and for the run's record. */
  last: TreeMeasure | undefined;

  constructor(private readonly options: DiskWatchOptions) {
    this.schedule(options.intervalMs ?? 1000);
  }

  /** Stops sweeping; resolves when no sweep is running any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) {
      return;
    }
    this.timer = setTimeout(() => {
      this.sweeping = this.sweep();
    }, delayMs);
  }

  private async sweep(): Promise<void> {
    const started = performance.now();
    const { roots, onExceeded } = this.options;
    let measure: TreeMeasure;
    try {
      measure = await measureTrees(roots, this.options);
    } catch {
      // A tree is not there (yet, or any more: the run is ending): measure again later.
      this.schedule(this.options.intervalMs ?? 1000);
      return;
    }
    if (this.stopped) {
      return;
    }
    this.last = measure;
    const over = overLimit(measure, this.options);
    if (over !== null) {
      this.stopped = true;
      onExceeded(over);
      return;
    }
    const took = performance.now() - started;
    this.schedule(Math.max(this.options.intervalMs ?? 1000, took * 10));
  }
}

/** The sentence that says why a measured tree is over its limits, or null when it is not. */
export function overLimit(
  measure: TreeMeasure,
  options: Pick<DiskWatchOptions, 'limitBytes' | 'maxEntries' | 'maxDepth'>
): string | null {
  if (measure.tooLarge === 'entries') {
    return `The run's tree grew past ${options.maxEntries.toLocaleString('en')} files and folders, more than the sandbox measures; it was stopped.`;
  }
  if (measure.tooLarge === 'depth') {
    return `The run made folders nested more than ${options.maxDepth} deep, deeper than the sandbox measures; it was stopped.`;
  }
  if (measure.bytes > options.limitBytes) {
    return `The run used more than its disk limit of ${formatBytes(options.limitBytes)} (${formatBytes(measure.bytes)} written); raise limits.diskMiB if it needs more.`;
  }
  return null;
}
