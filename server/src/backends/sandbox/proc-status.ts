/**
 * The host's processes as `/proc/<pid>/status` describes them, for the sandbox's sweeps of what a
 * run left behind (proot has no process namespace: its processes are found here).
 */
import { readdir, readFile } from 'node:fs/promises';

/** What a sweep needs of one process's status. */
export interface ProcessStatus {
  pid: number;
  /** `PPid`: its parent. */
  ppid: number;
  /** `TracerPid`: the process tracing it (proot), 0 when none. */
  tracerPid: number;
  /** Real, effective, saved and filesystem user ids. */
  uids: number[];
  /** A zombie is done: it only waits to be reaped. */
  zombie: boolean;
}

/** Every process's status, read at once; processes that end meanwhile are left out. */
export async function processStatuses(): Promise<ProcessStatus[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const statuses = await Promise.all(
    names
      .filter(name => /^\d+$/.test(name))
      .map(async name => {
        const text = await readFile(`/proc/${name}/status`, 'utf8').catch(
          () => ''
        );
        const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(text);
        if (!uids) {
          return undefined;
        }
        return {
          pid: Number(name),
          ppid: Number(/^PPid:\s+(\d+)$/m.exec(text)?.[1] ?? 0),
          tracerPid: Number(/^TracerPid:\s+(\d+)$/m.exec(text)?.[1] ?? 0),
          uids: uids.slice(1).map(Number),
          zombie: /^State:\s+Z/m.test(text)
        };
      })
  );
  return statuses.filter((s): s is ProcessStatus => s !== undefined);
}
