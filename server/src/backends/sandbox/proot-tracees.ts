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

/**
 * Kills the step started as `pid`: proot, or what runs proot (the ids supervisor), with the
 * untraced processes below it (the tracers), their process group and every process they trace.
 */
export async function killProot(pid: number): Promise<void> {
  const tracers = await untracedTree(pid);
  for (const tracer of tracers) {
    signal(tracer, 'SIGSTOP');
  }
  for (let pass = 0; pass < PASSES; pass++) {
    const tracees = await traceesOf(tracers);
    if (tracees.length === 0) {
      break;
    }
    for (const tracee of tracees) {
      signal(tracee, 'SIGKILL');
    }
  }
  signal(-pid, 'SIGKILL');
  for (const tracer of tracers) {
    signal(tracer, 'SIGKILL');
  }
}

/** Processes traced by `pid` (or by any of `pid`). */
export async function traceesOf(pid: number | number[]): Promise<number[]> {
  const tracers = new Set(Array.isArray(pid) ? pid : [pid]);
  // A killed tracee stays a zombie until its tracer, stopped, reaps it: it is done.
  return (await processStatuses())
    .filter(status => tracers.has(status.tracerPid) && !status.zombie)
    .map(status => status.pid);
}

/**
 * `pid` and its descendants that nobody traces: the launchers between the server and the
 * experiment (the ids supervisor, proot). Tracees are not walked into: proot's are found by
 * their tracer.
 */
async function untracedTree(pid: number): Promise<number[]> {
  const statuses = await processStatuses();
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    for (const status of statuses) {
      if (status.ppid === found[i] && status.tracerPid === 0) {
        found.push(status.pid);
      }
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
