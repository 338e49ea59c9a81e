/**
 * Whether a path is on a read-only mount, from `/proc/self/mountinfo` (the mount whose mount
 * point is the longest prefix of the path's real location, and its per-mount options). Linux
 * only; anywhere else, or when the table cannot be read, the answer is no.
 */
import { readFile, realpath } from 'node:fs/promises';

/** `\040` and the like: how mountinfo writes spaces, tabs, newlines and backslashes. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8))
  );
}

/** Mount point → whether it is mounted read-only, from the text of a mountinfo file. */
export function readOnlyMounts(mountinfo: string): Map<string, boolean> {
  const mounts = new Map<string, boolean>();
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mount-point options [optional…] - type source super-options
    const fields = line.split(' ');
    if (fields.length < 6) {
      continue;
    }
    // A later line for the same point is a mount over the earlier one: it wins.
    mounts.set(unescape(fields[4]), fields[5].split(',').includes('ro'));
  }
  return mounts;
}

export async function onReadOnlyMount(path: string): Promise<boolean> {
  let real: string;
  let table: string;
  try {
    real = await realpath(path);
    table = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  let best = '';
  let readOnly = false;
  for (const [point, ro] of readOnlyMounts(table)) {
    const contains =
      point === '/' || real === point || real.startsWith(`${point}/`);
    if (contains && point.length >= best.length) {
      best = point;
      readOnly = ro;
    }
  }
  return readOnly;
}
