/**
 * What Slurm says of a job, parsed strictly from its commands' output, and what that means for
 * the run (pure). The controller's record (`scontrol show job -o`) is read first; a site with
 * accounting (slurmdbd) also answers through `sacct` once the controller has forgotten the job,
 * read so that it says the same state, exit code and reason as the controller did.
 */
import type { RunPlan } from '../../runs/plan';
import type { RunResult } from '../common/run-backend';

export interface JobState {
  /** Slurm's state name: RUNNING, COMPLETED, TIMEOUT, OUT_OF_MEMORY, CANCELLED, NODE_FAIL… */
  state: string;
  /** Slurm's reason for it ("None" when it has none). */
  reason: string;
  /** The job's name, when the answer says it (`scontrol`): a run's job is `reproserver-<run>`. */
  name?: string;
  /** The batch script's exit code, and the signal that ended it (0: none). */
  exitCode: number;
  signal: number;
}

/** States in which the job may still run steps or write files. */
const ACTIVE = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESIZING',
  'SIGNALING',
  'STAGE_OUT'
]);

export function isActive(job: JobState): boolean {
  return ACTIVE.has(job.state);
}

const WORD = /^[A-Za-z_]{1,40}$/;

/** The fields of one `scontrol show job -o` line; undefined when it is not one. */
export function parseScontrolJob(text: string): JobState | undefined {
  const field = (name: string): string | undefined =>
    new RegExp(`(?:^|\\s)${name}=(\\S{1,200})`).exec(text)?.[1];
  const state = field('JobState');
  const exit = /^(\d{1,3}):(\d{1,3})$/.exec(field('ExitCode') ?? '');
  if (!state || !WORD.test(state) || !exit) {
    return undefined;
  }
  const name = field('JobName');
  return {
    state,
    ...(name ? { name } : {}),
    reason: field('Reason') ?? 'None',
    exitCode: Number(exit[1]),
    signal: Number(exit[2])
  };
}

/**
 * The reason the controller gives a job that ended in `state` (Slurm's `job_complete`): sacct
 * has no field for it (its Reason is the last reason the job waited, "Resources" or "None").
 */
function endReason(state: string, exitCode: number): string {
  switch (state) {
    case 'TIMEOUT':
      return 'TimeLimit';
    case 'OUT_OF_MEMORY':
      return 'OutOfMemory';
    case 'FAILED':
      return exitCode !== 0 ? 'NonZeroExitCode' : 'None';
    default:
      return 'None';
  }
}

/**
 * Job `id`'s records in `sacct -n -P -j ID -o JobID,State,ExitCode` (the job's line, then a line
 * per step): its state from the job's line, and the batch script's exit code from its `.batch`
 * step's line, as the controller's ExitCode says it (the job's line says 0:0 for a job killed at
 * its time limit, whose script ended by signal 15); undefined when there is no record of it.
 */
export function parseSacctJob(text: string, id: string): JobState | undefined {
  let job: string[] | undefined;
  let batch: string[] | undefined;
  for (const line of text.split('\n').slice(0, 1000)) {
    const fields = line.trim().split('|');
    if (fields[0] === id) {
      job ??= fields;
    } else if (fields[0] === `${id}.batch`) {
      batch ??= fields;
    }
  }
  if (!job) {
    return undefined;
  }
  // "CANCELLED by 0": the state is its first word.
  const state = (job[1] ?? '').split(' ')[0];
  const exit = /^(\d{1,3}):(\d{1,3})$/.exec((batch ?? job)[2] ?? '');
  if (!WORD.test(state) || !exit) {
    return undefined;
  }
  const exitCode = Number(exit[1]);
  return {
    state,
    reason: endReason(state, exitCode),
    exitCode,
    signal: Number(exit[2])
  };
}

/** "Slurm job 12 ended TIMEOUT (reason: …)": Slurm's own words, for the run's message. */
export function slurmSays(jobId: string, job: JobState): string {
  const reason =
    job.reason && job.reason !== 'None' ? `, reason ${job.reason}` : '';
  return `Slurm job ${jobId} ended ${job.state}${reason}`;
}

/**
 * How a run ends when its job ended while step `position` ran (or before it started) without the
 * step's exit code: Slurm's state says why, in Slurm's words.
 */
export function endedBySlurm(
  plan: RunPlan,
  position: number,
  jobId: string,
  job: JobState | undefined
): RunResult {
  if (!job) {
    return {
      status: 'error',
      failedStep: position,
      reason: `Slurm no longer knows job ${jobId}, and step ${position} left no exit code; see the job's output file in the shared folder.`
    };
  }
  const says = slurmSays(jobId, job);
  switch (job.state) {
    case 'TIMEOUT':
    case 'DEADLINE':
      return {
        status: 'timed-out',
        failedStep: position,
        reason: `The run exceeded its time limit of ${plan.limits.timeoutSeconds} s (${says}).`
      };
    case 'OUT_OF_MEMORY':
      return {
        status: 'out-of-memory',
        failedStep: position,
        reason: `Step ${position} (${plan.steps[position].id}) ran out of memory (limit ${plan.limits.memoryMiB} MiB; ${says}).`
      };
    case 'CANCELLED':
      return {
        status: 'cancelled',
        failedStep: position,
        reason: `The run was cancelled on the cluster (${says}).`
      };
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
    case 'PREEMPTED':
      return {
        status: 'error',
        failedStep: position,
        reason: `The cluster stopped the run: ${says}; run it again.`
      };
    default:
      return {
        status: 'error',
        failedStep: position,
        reason: `Step ${position} left no exit code: ${says}; see the job's output file in the shared folder.`
      };
  }
}

/**
 * Whether the job's own output says Slurm killed it for its memory (`JobAcctGatherParams=
 * OverMemoryKill` without cgroups ends such a job FAILED, saying so only there).
 */
export function killedForMemory(jobOutputTail: string): boolean {
  return /Exceeded job memory limit|exceeded memory limit|oom-kill/i.test(
    jobOutputTail
  );
}

/** Slurm's NO_VAL-1 task id: the record of an array's pending tasks cancelled together. */
const CANCELLED_REMAINDER = 4294967294;

/** Whether `text`, an `ArrayTaskId` ("3", "1,3-5", "4-199%4"), holds task `task`. */
function holdsTask(text: string, task: number): boolean {
  return text
    .replace(/%\d+$/, '')
    .split(',')
    .slice(0, 10_000)
    .some(part => {
      const range = /^(\d{1,10})(?:-(\d{1,10})(?::(\d{1,10}))?)?$/.exec(part);
      if (!range) {
        return false;
      }
      const first = Number(range[1]);
      const last = range[2] === undefined ? first : Number(range[2]);
      const step = Number(range[3] ?? 1) || 1;
      return task >= first && task <= last && (task - first) % step === 0;
    });
}

/**
 * What the controller's records of array `arrayId` (`scontrol show job -o ARRAY`, a line per
 * record) say of its task `task`: the task's own record, else the record of the tasks still
 * pending together, else (a pending task cancelled on its own leaves no record, and pending tasks
 * cancelled with their array a record of their own) CANCELLED while the array is known. Undefined
 * when no record is of this array.
 */
export function parseArrayTask(
  text: string,
  arrayId: string,
  task: number,
  /** Take a task of a known array without a record as cancelled (the array's whole records). */
  orCancelled = true
): JobState | undefined {
  let remainder: JobState | undefined;
  let known = false;
  for (const line of text.split('\n').slice(0, 20_000)) {
    const array = /(?:^|\s)ArrayJobId=(\d{1,12})(?:\s|$)/.exec(line)?.[1];
    const tasks = /(?:^|\s)ArrayTaskId=(\S{1,200})/.exec(line)?.[1];
    const job = parseScontrolJob(line);
    if (array !== arrayId || tasks === undefined || !job) {
      continue;
    }
    known = true;
    if (/^\d{1,10}$/.test(tasks) && Number(tasks) === CANCELLED_REMAINDER) {
      remainder = job;
    } else if (holdsTask(tasks, task)) {
      return job;
    }
  }
  if (remainder) {
    return remainder;
  }
  return known && orCancelled
    ? { state: 'CANCELLED', reason: 'None', exitCode: 0, signal: 0 }
    : undefined;
}
