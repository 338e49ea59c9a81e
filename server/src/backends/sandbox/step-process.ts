/**
 * One sandbox step as a process on this host: its command line (`step-command.ts`) spawned in a
 * process group of its own (by the spawner, `spawner.ts`), its output into the run's log, the
 * supervisor's report of emulated owners read; and how a running step is killed with everything
 * it started.
 */
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { StepPlan } from '../../runs/plan';
import type { SandboxMechanism } from './detect';
import { MAX_REPORT_BYTES, REPORT_FD, parseReport } from './emulated-ids';
import { killProot } from './proot-tracees';
import { spawnFar, type FarChild } from './spawner';
import { stepCommand, type StepContext } from './step-command';

/**
 * Kills a running step with everything it started: bubblewrap's process group (its pid namespace
 * goes with it), or proot with every process it traces (there is no pid namespace to end them).
 */
export async function stopStep(
  child: FarChild | undefined,
  mechanism: SandboxMechanism | undefined
): Promise<void> {
  if (!child || child.exitCode !== null) {
    return;
  }
  if (mechanism === 'proot') {
    await killProot(child.pid);
    return;
  }
  child.killAll();
}

const STDERR_TAIL = 4096;

/** Runs one step to its end; resolves with its exit code (128 + N when killed by signal N). */
export async function runStepProcess(
  context: StepContext,
  step: StepPlan,
  stdout: Writable,
  stderr: Writable,
  onSpawn: (child: FarChild) => void
): Promise<{ exitCode: number; stderrTail: string }> {
  const { file, argv, env } = await stepCommand(context, step);
  const child = await spawnFar(file, argv.slice(1), {
    // The supervisor of emulated ids reports on REPORT_FD (`emulated-ids.ts`).
    stdio: context.emulation
      ? ['ignore', 'pipe', 'pipe', 'pipe']
      : ['ignore', 'pipe', 'pipe'],
    env,
    detached: true
  });
  onSpawn(child);
  const report: Buffer[] = [];
  let reportBytes = 0;
  const reportPipe = context.emulation
    ? (child.stdio[REPORT_FD] as NodeJS.ReadableStream | null)
    : null;
  reportPipe?.on('data', (chunk: Buffer) => {
    if (reportBytes + chunk.length <= MAX_REPORT_BYTES) {
      report.push(chunk);
      reportBytes += chunk.length;
    }
  });
  const reportDone = reportPipe
    ? new Promise<void>(resolve => {
        reportPipe.once('end', resolve);
        reportPipe.once('error', () => resolve());
        reportPipe.once('close', () => resolve());
      })
    : Promise.resolve();
  let tail = Buffer.alloc(0);
  const keepTail = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > STDERR_TAIL) {
        tail = tail.subarray(tail.length - STDERR_TAIL);
      }
      callback();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => keepTail.write(chunk));
  const closed = new Promise<[number | null, NodeJS.Signals | null]>(
    resolve => {
      child.once('close', (code, signalName) => resolve([code, signalName]));
    }
  );
  await Promise.all([
    pipeline(child.stdout!, stdout),
    pipeline(child.stderr!, stderr)
  ]).catch(() => undefined);
  const [code, signalName] = await closed;
  await reportDone;
  if (context.emulation) {
    context.emulation.reported.push(...parseReport(Buffer.concat(report)));
  }
  const exitCode = code ?? 128 + (signalName ? signalNumber(signalName) : 9);
  return { exitCode, stderrTail: tail.toString('utf8') };
}

function signalNumber(name: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGILL: 4,
    SIGABRT: 6,
    SIGBUS: 7,
    SIGFPE: 8,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15
  };
  return numbers[name] ?? 9;
}
