/** What tests ask /proc about processes: whether one still runs, which ones match. */
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after the command's name: [state, ppid, …]. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Whether `pid` is a process that has not ended (a zombie has). */
export function running(pid: number): boolean {
  try {
    return statFields(pid)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The parent of `pid`. */
export function parentOf(pid: number): number {
  return Number(statFields(pid)[1]);
}

/**
 * The running processes whose command line (arguments joined by NUL) passes `matches`, and, when
 * `parent` is given, whose parent it is.
 */
export function processesWhere(
  matches: (cmdline: string) => boolean,
  parent?: number
): number[] {
  return readdirSync('/proc')
    .filter(name => /^\d+$/.test(name))
    .map(Number)
    .filter(pid => {
      try {
        return (
          running(pid) &&
          (parent === undefined || parentOf(pid) === parent) &&
          matches(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
        );
      } catch {
        return false; // gone meanwhile
      }
    });
}
