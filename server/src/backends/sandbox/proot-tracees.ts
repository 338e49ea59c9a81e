/**
 * Stopping a proot step for good. proot has no process namespace: a step's process that called
 * `setsid` leaves the step's process group, and when proot is killed its tracees are let go,
 * untraced, and see the host's files as they are. So before proot itself is killed, it is stopped
 * (its tracees then stop at their next system call, and a new child is traced from birth) and
 * every process it traces (`TracerPid` in `/proc/<pid>/status`) is killed, until none is left.
 */
import { processStatuses } from './proc-status';

/** At most this many passes over `/proc` (each pass kills what the previous one missed). */
const PASSES = 20;

/** Kills proot (`pid`), its process group and every process it traces. */
export async function killProot(pid: number): Promise<void> {
  signal(pid, 'SIGSTOP');
  for (let pass = 0; pass < PASSES; pass++) {
    const tracees = await traceesOf(pid);
    if (tracees.length === 0) {
      break;
    }
    for (const tracee of tracees) {
      signal(tracee, 'SIGKILL');
    }
  }
  signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
}

/** Processes whose tracer is `pid`. */
export async function traceesOf(pid: number): Promise<number[]> {
  // A killed tracee stays a zombie until its tracer, stopped, reaps it: it is done.
  return (await processStatuses())
    .filter(status => status.tracerPid === pid && !status.zombie)
    .map(status => status.pid);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
