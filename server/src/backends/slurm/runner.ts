/**
 * Executes a run plan as a Slurm batch job: the package's cached tree (unpacked once into the
 * folder the server shares with the nodes) is copied into the run's folder there, and the job runs
 * each step in the sandbox on that copy, with the same command lines the sandbox backend builds
 * (`sandbox/step-argv.ts`, bubblewrap or proot around the helper), written into a batch script
 * (`job-script.ts`). Slurm queues, places and limits the job (`--mem`, `--time`,
 * `--cpus-per-task`); inside it the steps keep the sandbox's rlimits.
 *
 * While the job runs the server follows each step's stdout and stderr files (bounded reads, into
 * the run's log budget) and its exit code file; when a step ends without one, Slurm's record of
 * the job says why (TIMEOUT, OUT_OF_MEMORY, CANCELLED, NODE_FAIL: `job-state.ts`). When the job is
 * done the server collects the outputs from the run's tree exactly as the sandbox backend does
 * (`sandbox/outputs.ts`: never through a link the experiment planted), then removes the folder.
 * Cancel and the run's time limit are `scancel`. A restarted server re-attaches by the job's id
 * (kept where the Docker backend keeps its container's) and the run's folder (named by the run).
 * A sweep's run is a task of a job array (`array.ts`), its folder made and its task submitted
 * before the queue reaches it: it is followed the same way, by the task's id, from the moment
 * Slurm starts the task.
 *
 * Unlike the sandbox backend: no overlay (a copy: the overlay's mount namespace would have to be
 * held by a process on the node), one id per step with identity changes emulated (no mapped
 * range, which needs the server's own namespace), limits by rlimit and Slurm (no cgroup of ours),
 * and every replacement input placed before the job starts.
 *
 * The run's sequence (events, statuses, stops, cleanup) is the shared one of `common/lifecycle.ts`.
 */
import { access, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTree, type PreparedRootfs } from '../../sandbox';
import { stepFailed } from '../common/endings';
import {
  runLifecycle,
  type RunParts,
  type StepExit
} from '../common/lifecycle';
import type { RunBackendOptions, RunResult } from '../common/run-backend';
import { MAX_RUN_DEPTH, MAX_RUN_ENTRIES } from '../sandbox/runner';
import { DiskWatch } from '../sandbox/disk-watch';
import {
  MAX_REPORT_BYTES,
  parseReport,
  relativeOwners,
  type OwnedPath
} from '../sandbox/emulated-ids';
import { hitFileSizeLimit, looksOutOfMemory } from '../sandbox/limits';
import { collectOutputs } from '../sandbox/outputs';
import { changedFiles } from '../sandbox/run-tree';
import {
  activeJobsNamed,
  arrayTask,
  cancelJob,
  jobName,
  jobState,
  submit
} from './commands';
import { FileFollower, readHead, readNumber, readTail } from './follow';
import {
  endedBySlurm,
  isActive,
  killedForMemory,
  type JobState
} from './job-state';
import { arraysFolder, runLayout, stepFiles } from './layout';
import {
  prepareRunFolder,
  readFacts,
  runFolder,
  type RunFacts
} from './run-folder';

export interface SlurmRunOptions extends RunBackendOptions {
  /** The package's root filesystem, from `prepareRootfs` into the shared folder. */
  rootfs: Pick<PreparedRootfs, 'root' | 'info'>;
  /** The folder the server shares with the nodes, at the same path on both. */
  shared: string;
  /** The partition jobs go to; default: the cluster's. */
  partition?: string;
  /** The run's name (its id): its folder and its job's name, found again after a restart. */
  name: string;
  /** Told the job's id as soon as it is submitted (the records keep it). */
  onJob?: (jobId: string) => void;
  /**
   * Follow a job already submitted for this run (its folder made): one an earlier server
   * process followed since `startedAt`, or, without it, an array's task not followed yet (the
   * run starts when the task leaves Slurm's queue).
   */
  reattach?: { jobId: string; startedAt?: number };
  /** The static `rpz-exec` binary on this host (copied into the run's folder for the nodes). */
  helperPath?: string;
  /** Time between two looks at the step's files; default 200 ms. */
  pollMs?: number;
  /** Time between two questions to Slurm about the job; default 1000 ms. */
  statePollMs?: number;
  /** Changed files collected at most; default `MAX_CHANGED_FILES` (run-tree.ts). */
  maxChangedFiles?: number;
}

/** Runs the plan as a job; always resolves (failures are statuses), always removes its folder. */
export function runOnSlurm(options: SlurmRunOptions): Promise<RunResult> {
  return runLifecycle(options, slurmParts(options));
}

/** Job states in which Slurm itself stopped the job's processes. */
const STOPPED_BY_SLURM = new Set([
  'TIMEOUT',
  'DEADLINE',
  'CANCELLED',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'PREEMPTED'
]);

/** Consecutive failed questions to Slurm after which the run ends as an error. */
const MAX_UNANSWERED = 30;
const STDERR_TAIL = 4096;

function slurmParts(options: SlurmRunOptions): RunParts<StepExit> {
  const { plan, onEvent } = options;
  const runDir = runFolder(options.shared, options.name);
  // An array's task has its array's name, and Slurm's output file elsewhere (`run.json`).
  let name = jobName(options.name);
  const layout = runLayout(runDir);
  let jobOutput = layout.jobOutput;
  const copying = new AbortController();
  let jobId = options.reattach?.jobId;
  let facts: RunFacts | undefined;
  let lastJob: JobState | undefined;
  let unanswered = 0;

  /** Asks Slurm about the job; undefined while it does not answer (up to MAX_UNANSWERED). */
  const askSlurm = async (): Promise<JobState | undefined | 'gone'> => {
    try {
      const found = await jobState(jobId!);
      // Another job with the same id (the controller lost its state): ours is gone.
      const job = found?.name && found.name !== name ? undefined : found;
      unanswered = 0;
      lastJob = job ?? lastJob;
      return job ?? 'gone';
    } catch (error) {
      unanswered++;
      if (unanswered >= MAX_UNANSWERED) {
        throw error;
      }
      return undefined;
    }
  };

  /** How the run ends when the job ended without step `position`'s exit code. */
  const lost = async (position: number, job: JobState | undefined) => {
    const tail = await readTail(jobOutput, STDERR_TAIL);
    const memory = job && !isActive(job) && killedForMemory(tail);
    return endedBySlurm(
      plan,
      position,
      jobId!,
      memory ? { ...job, state: 'OUT_OF_MEMORY' } : job
    );
  };

  /** Waits while the job is PENDING in Slurm's queue (or until the run is stopped). */
  const untilStarted = async (): Promise<void> => {
    const statePollMs = options.statePollMs ?? 1000;
    while (!copying.signal.aborted) {
      const job = await askSlurm();
      if (job !== undefined && (job === 'gone' || job.state !== 'PENDING')) {
        return;
      }
      await sleep(statePollMs, undefined, { signal: copying.signal }).catch(
        () => undefined
      );
    }
  };

  /** The job's state once it left the active states (a few seconds at most), else undefined. */
  const settledJob = async (): Promise<JobState | undefined> => {
    for (let attempt = 0; attempt < 25; attempt++) {
      const job = await jobState(jobId!).catch(() => undefined);
      if (job && !isActive(job)) {
        return job;
      }
      await sleep(200);
    }
    return undefined;
  };

  return {
    name: 'The Slurm backend',
    async prepare() {
      if (options.reattach) {
        facts = await readFacts(runDir);
        if (!facts) {
          return {
            ready: false,
            result: {
              status: 'interrupted',
              reason: `The server restarted while Slurm job ${jobId} ran, and the run's folder in ${options.shared} is gone.`
            }
          };
        }
        if (facts.job) {
          name = facts.job.name;
          jobOutput = facts.job.output;
        }
        if (options.reattach.startedAt !== undefined) {
          return {
            ready: true,
            detail: `Slurm job ${jobId} (re-attached after a restart).`,
            startedAt: options.reattach.startedAt
          };
        }
        // An array's task: the run starts when Slurm starts it (or ends it unstarted).
        await untilStarted();
        const task = arrayTask(jobId!);
        return {
          ready: true,
          detail: `Slurm job ${jobId}${task ? ` (task ${task.task} of array ${task.arrayId})` : ''}${options.partition ? ` on partition ${options.partition}` : ''}${facts.detail ? `: ${facts.detail}` : ''}`
        };
      }
      // A run an earlier server began (its folder is there) starts afresh in a folder made
      // again, where a job of that start would write: its id may never have been kept (the
      // server killed as sbatch answered). Every job still under the run's name is stopped first.
      if (await exists(runDir)) {
        await stopJobsOfRun(options.name);
      }
      const folder = await prepareRunFolder(options, copying.signal);
      if (!folder.ready) {
        return folder;
      }
      facts = folder.facts;
      jobId = await submit({
        script: layout.script,
        name,
        partition: options.partition,
        output: layout.jobOutput,
        workdir: runDir,
        memoryMiB: plan.limits.memoryMiB,
        timeMinutes: Math.max(1, Math.ceil(plan.limits.timeoutSeconds / 60)),
        cpus: Math.max(1, Math.ceil(plan.limits.cpus))
      });
      options.onJob?.(jobId);
      return {
        ready: true,
        detail: `Slurm job ${jobId}${options.partition ? ` on partition ${options.partition}` : ''}: ${facts.detail}`
      };
    },
    watch(kill) {
      return new DiskWatch({
        roots: [layout.root],
        limitBytes: plan.limits.diskMiB * 1024 * 1024,
        sinceMs: facts!.since,
        maxEntries: options.rootfs.info.entries + MAX_RUN_ENTRIES,
        maxDepth: MAX_RUN_DEPTH,
        onExceeded: reason => kill({ reason })
      });
    },
    async placeInputs() {
      // All placed before the job was submitted (`refusal` makes sure that is the same).
    },
    async runStep({ position, stdout, stderr, logRoom, stop }) {
      const files = stepFiles(runDir, position);
      const out = new FileFollower(files.stdout, stdout, logRoom + 1);
      const err = new FileFollower(files.stderr, stderr, logRoom + 1);
      const pollMs = options.pollMs ?? 200;
      const statePollMs = options.statePollMs ?? 1000;
      let asked = 0;
      for (;;) {
        const exitCode = await readNumber(files.exit, 255);
        await out.poll();
        await err.poll();
        if (exitCode !== undefined) {
          return { exitCode };
        }
        if (stop.aborted) {
          return { lost: { status: 'cancelled' } };
        }
        if (Date.now() - asked >= statePollMs) {
          asked = Date.now();
          const job = await askSlurm();
          if (job === 'gone' || (job && !isActive(job))) {
            // The files may have been written just before the job ended.
            const last = await readNumber(files.exit, 255);
            await out.poll();
            await err.poll();
            if (last !== undefined) {
              return { exitCode: last };
            }
            return {
              lost: await lost(position, job === 'gone' ? undefined : job)
            };
          }
        }
        await sleep(pollMs, undefined, { signal: stop }).catch(() => undefined);
      }
    },
    async stepFailed(position, { exitCode }) {
      if (exitCode > 128) {
        // Killed by a signal: Slurm's, when it stopped the job (its time limit, a cancel on the
        // cluster, its memory limit), which the step's exit file cannot say.
        const job = await settledJob();
        if (job && STOPPED_BY_SLURM.has(job.state)) {
          return lost(position, job);
        }
      }
      const tail = await readTail(
        stepFiles(runDir, position).stderr,
        STDERR_TAIL
      );
      if (hitFileSizeLimit(exitCode, tail)) {
        return {
          status: 'failed',
          failedStep: position,
          reason: `Step ${position} (${plan.steps[position].id}) failed writing a file larger than the run's disk limit of ${plan.limits.diskMiB} MiB (exit code ${exitCode}); raise limits.diskMiB if it needs more.`
        };
      }
      const jobTail = await readTail(jobOutput, STDERR_TAIL);
      const oom =
        looksOutOfMemory(tail) ||
        killedForMemory(jobTail) ||
        lastJob?.state === 'OUT_OF_MEMORY';
      return stepFailed(plan, position, exitCode, oom);
    },
    async collectOutputs() {
      const stepStarts: { time: number; uid: number; gid: number }[] = [];
      const reported: OwnedPath[] = [];
      for (const [position, step] of plan.steps.entries()) {
        const files = stepFiles(runDir, position);
        const time = await readNumber(files.start, Number.MAX_SAFE_INTEGER);
        if (time === undefined) {
          break;
        }
        stepStarts.push({ time, uid: step.uid, gid: step.gid });
        if (facts!.emulation) {
          reported.push(
            ...parseReport(await readHead(files.report, MAX_REPORT_BYTES))
          );
        }
      }
      const changed = await changedFiles(
        layout.root,
        options.rootfs.root,
        facts!.since,
        { maxFiles: options.maxChangedFiles }
      );
      await collectOutputs(
        layout.root,
        options.rootfs,
        plan,
        changed,
        stepStarts,
        options.sink,
        onEvent,
        undefined,
        facts!.emulation ? relativeOwners(reported, facts!.prefix) : undefined
      );
    },
    interrupt() {
      copying.abort();
      if (jobId) {
        void cancelJob(jobId, name);
      }
    },
    async cleanup() {
      if (jobId) {
        await stopJob(jobId, name);
      }
      await removeTree(runDir).catch(() => undefined);
      await removeTaskOutput(options.shared, facts);
    }
  };
}

/**
 * Removes an array task's output file, then the array's folder once every task's is gone (each
 * was made at submission, so the folder is never empty while a task may still write there).
 */
async function removeTaskOutput(
  shared: string,
  facts: RunFacts | undefined
): Promise<void> {
  const output = facts?.job?.output;
  const folder = output ? dirname(output) : undefined;
  // Only ever a file of an array's folder under the shared folder.
  if (!output || dirname(folder!) !== arraysFolder(shared)) {
    return;
  }
  await rm(output, { force: true }).catch(() => undefined);
  await rmdir(folder!).catch(() => undefined);
}

/** Stops every job of the run still pending or running, found by its name. */
async function stopJobsOfRun(run: string): Promise<void> {
  const name = jobName(run);
  for (const id of await activeJobsNamed(name)) {
    await stopJob(id, name);
  }
}

/** `path` exists (asked without blocking: the shared folder may be a network one). */
async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false
  );
}

/** Cancels the job unless it ended, and waits (a little) until none of its processes runs. */
async function stopJob(jobId: string, name: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const job = await jobState(jobId).catch(() => undefined);
    if (!job || !isActive(job) || (job.name && job.name !== name)) {
      return;
    }
    if (attempt === 0 && job.state !== 'COMPLETING') {
      await cancelJob(jobId, name);
    }
    await sleep(200);
  }
}

/**
 * Ends the job of a run that will not be followed any more (a re-attached run cancelled before
 * the queue resumed it), and removes the run's folder.
 */
export async function abandonJob(
  shared: string,
  run: string,
  jobId: string
): Promise<void> {
  const runDir = runFolder(shared, run);
  const facts = await readFacts(runDir);
  await stopJob(jobId, facts?.job?.name ?? jobName(run));
  await removeTree(runDir).catch(() => undefined);
  await removeTaskOutput(shared, facts);
}
