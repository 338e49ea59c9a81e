/**
 * Recorded owners of a package's entries. Ownership cannot be restored without privileges (files
 * belong to whoever extracts), so the extractor records it for the backend to report and emulate:
 * the most common owner, and the paths whose owner differs.
 */

/** Recorded owners of the package's entries: one common owner, and the paths that differ. */
export interface Owners {
  /** `[uid, gid]` most entries have. */
  common: [number, number];
  /** Root-relative path → `[uid, gid]`, for entries whose owner is not `common`. */
  others: Record<string, [number, number]>;
}

/** Counts owners entry by entry (a string key and an array push each), then summarizes. */
export class OwnerTally {
  /** `uid:gid` → the paths that have it, in entry order. */
  private readonly paths = new Map<string, string[]>();

  add(path: string, uid: number, gid: number): void {
    const key = `${uid}:${gid}`;
    const list = this.paths.get(key);
    if (list === undefined) {
      this.paths.set(key, [path]);
    } else {
      list.push(path);
    }
  }

  /** The most common owner (the first seen, on a tie; root when there were no entries). */
  summary(): Owners {
    let best = '0:0';
    let bestCount = -1;
    for (const [owner, list] of this.paths) {
      if (list.length > bestCount) {
        best = owner;
        bestCount = list.length;
      }
    }
    const others: Record<string, [number, number]> = {};
    for (const [owner, list] of this.paths) {
      if (owner !== best) {
        const [uid, gid] = owner.split(':').map(Number);
        for (const path of list) {
          others[path] = [uid, gid];
        }
      }
    }
    const [uid, gid] = best.split(':').map(Number);
    return { common: [uid, gid], others };
  }
}
