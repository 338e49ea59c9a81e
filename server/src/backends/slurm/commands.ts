/**
 * Slurm's commands, as this server runs them: `sbatch --parsable`, `scontrol show job -o`,
 * `sacct`, `scancel`, `sinfo`. The command line tools rather than slurmrestd: they are on every
 * submit host, authenticate through MUNGE as the server's user with no token to keep, and answer
 * in formats made for scripts; slurmrestd is often not deployed, and would be one more service
 * with its own authentication. Each call has a deadline and a bounded output; the cluster's
 * configuration comes from the environment (`SLURM_CONF`), as for any Slurm user.
 */
import { execFile } from 'node:child_process';
import { errorMessage } from '../../describe';
import {
  isActive,
  parseArrayTask,
  parseSacctJob,
  parseScontrolJob,
  type JobState
} from './job-state';

/** Seconds a Slurm command may take before the cluster counts as not answering. */
export const COMMAND_TIMEOUT_MS = 20_000;
/** Bytes of a command's output read at most. */
const MAX_OUTPUT_BYTES = 256 * 1024;

export class SlurmCommandError extends Error {}

/** Runs a Slurm command; resolves with its stdout, rejects with its (short) stderr. */
export function slurm(
  command: string,
  args: readonly string[],
  timeoutMs = COMMAND_TIMEOUT_MS,
  env: NodeJS.ProcessEnv = process.env,
  /** Written to the command's stdin (an array's script, given to sbatch that way). */
  input?: string,
  maxBytes = MAX_OUTPUT_BYTES
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: maxBytes,
        env,
        encoding: 'utf8'
      },
      (error, stdout, stderr) => {
        if (error) {
          // scontrol says "Job 12_3 not found" on stdout.
          const said = String(stderr || stdout || '')
            .trim()
            .split('\n')
            .slice(-3)
            .join(' ')
            .slice(0, 500);
          reject(
            new SlurmCommandError(
              `${command} failed: ${said || errorMessage(error)}`
            )
          );
        } else {
          resolve(String(stdout));
        }
      }
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/** What `sbatch` is told about a run's job. */
export interface Submission {
  script: string;
  name: string;
  partition?: string;
  output: string;
  workdir: string;
  memoryMiB: number;
  timeMinutes: number;
  cpus: number;
}

/** What `sbatch` is told about a sweep's array of runs (`array.ts`). */
export interface ArraySubmission extends Omit<Submission, 'script'> {
  /** The array's script, given on sbatch's stdin: Slurm keeps its copy. */
  scriptText: string;
  /** The tasks' indices: "0-199", "0-3,5". */
  tasks: string;
  /** Tasks running at once at most (`%K`). */
  throttle: number;
  /** An array whose tasks must all have ended first (`afterany`). */
  after?: string;
  /** Slurm's comment of the array: the token that finds it again (`findArray`). */
  comment: string;
}

/** The job id of a submitted batch script. */
export async function submit(job: Submission): Promise<string> {
  return parseSubmitted(
    await slurm(
      'sbatch',
      [...sbatchArgs(job), job.script],
      COMMAND_TIMEOUT_MS,
      jobEnvironment()
    )
  );
}

/** The id of a submitted job array: its tasks are `<id>_<index>`. */
export async function submitArray(job: ArraySubmission): Promise<string> {
  return parseSubmitted(
    await slurm(
      'sbatch',
      [
        ...sbatchArgs(job),
        `--array=${job.tasks}%${job.throttle}`,
        `--comment=${job.comment}`,
        ...(job.after ? [`--dependency=afterany:${job.after}`] : [])
      ],
      COMMAND_TIMEOUT_MS,
      jobEnvironment(),
      job.scriptText
    )
  );
}

function sbatchArgs(job: Omit<Submission, 'script'>): string[] {
  return [
    '--parsable',
    `--job-name=${job.name}`,
    ...(job.partition ? [`--partition=${job.partition}`] : []),
    `--output=${job.output}`,
    `--chdir=${job.workdir}`,
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${job.cpus}`,
    `--mem=${job.memoryMiB}M`,
    `--time=${job.timeMinutes}`,
    // A requeued job would run the steps again over what they wrote.
    '--no-requeue',
    // sbatch's own environment, which `jobEnvironment` keeps to a few variables: the server's
    // (tokens, credentials) never reaches the job nor the controller's records. Not NONE: that
    // makes the node load a login environment (`su -`), a second per job here.
    '--export=ALL'
  ];
}

function parseSubmitted(out: string): string {
  // "<id>" or "<id>;<cluster>".
  const id = out.trim().split(';')[0];
  if (!isJobId(id)) {
    throw new SlurmCommandError(
      `sbatch answered "${out.slice(0, 100)}", not a job id`
    );
  }
  return id;
}

/** What a job gets of this process's environment: where commands are, and Slurm's settings. */
export function jobEnvironment(
  env: NodeJS.ProcessEnv = process.env
): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (
      ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'TZ'].includes(name) ||
      /^(SLURM|SBATCH)_/.test(name)
    ) {
      kept[name] = value;
    }
  }
  return kept;
}

export function isJobId(id: string): boolean {
  return /^\d{1,12}$/.test(id);
}

/** A task of a job array, `<array id>_<index>`: its array's id and its index; else undefined. */
export function arrayTask(
  id: string
): { arrayId: string; task: number } | undefined {
  const found = /^(\d{1,12})_(\d{1,7})$/.exec(id);
  return found ? { arrayId: found[1], task: Number(found[2]) } : undefined;
}

let maxArraySizeOnce: Promise<number> | undefined;

/**
 * The cluster's `MaxArraySize` (tasks 0 to MaxArraySize - 1), asked once per process; 1001,
 * Slurm's default, when the answer does not say.
 */
export function maxArraySize(): Promise<number> {
  maxArraySizeOnce ??= slurm('scontrol', ['show', 'config']).then(
    out => {
      const found = /^MaxArraySize\s*=\s*(\d{1,9})\s*$/m.exec(out);
      const value = found ? Number(found[1]) : 1001;
      return value >= 1 ? value : 1001;
    },
    error => {
      maxArraySizeOnce = undefined;
      throw error;
    }
  );
  return maxArraySizeOnce;
}

/**
 * What Slurm says of the job now: the controller's record, else accounting's; undefined when
 * neither knows it (rejects when the cluster does not answer).
 */
export async function jobState(id: string): Promise<JobState | undefined> {
  const task = arrayTask(id);
  if (task) {
    return arrayTaskState(id, task.arrayId, task.task);
  }
  try {
    const found = parseScontrolJob(
      await slurm('scontrol', ['show', 'job', '-o', id])
    );
    if (found) {
      return found;
    }
  } catch (error) {
    if (!/Invalid job id/i.test(errorMessage(error))) {
      throw error;
    }
  }
  // The controller forgot it (MinJobAge): accounting, where the site has it.
  return accountingState(id);
}

/** Bytes of an array's records read at most: 10,000 records (`MAX_TASKS_PER_ARRAY`) of ~1.5 KB. */
const MAX_ARRAY_RECORDS_BYTES = 32 * 1024 * 1024;

/**
 * An array task's state: the controller's record of the task (a pending one answers with its
 * array's pending record), else, when the controller has no record of the task, what its array's
 * records say (`parseArrayTask`: rare, and the only question whose answer grows with the array),
 * else accounting's.
 */
async function arrayTaskState(
  id: string,
  arrayId: string,
  task: number
): Promise<JobState | undefined> {
  try {
    const found = parseArrayTask(
      await slurm('scontrol', ['show', 'job', '-o', id]),
      arrayId,
      task,
      false
    );
    if (found) {
      return found;
    }
  } catch (error) {
    if (!/Invalid job id|not found/i.test(errorMessage(error))) {
      throw error;
    }
  }
  try {
    const found = parseArrayTask(
      await slurm(
        'scontrol',
        ['show', 'job', '-o', arrayId],
        COMMAND_TIMEOUT_MS,
        process.env,
        undefined,
        MAX_ARRAY_RECORDS_BYTES
      ),
      arrayId,
      task
    );
    if (found) {
      return found;
    }
  } catch (error) {
    if (!/Invalid job id|not found/i.test(errorMessage(error))) {
      throw error;
    }
  }
  return accountingState(id);
}

/**
 * What accounting says of a job the controller forgot; undefined where it has no record (or the
 * site no accounting). Not `-X`: the batch script's exit code is its `.batch` step's.
 */
export async function accountingState(
  id: string
): Promise<JobState | undefined> {
  try {
    return parseSacctJob(
      await slurm('sacct', [
        '-n',
        '-P',
        '-j',
        id,
        '-o',
        'JobID,State,ExitCode'
      ]),
      id
    );
  } catch {
    return undefined;
  }
}

/**
 * Asks Slurm to stop the job (all its processes), only if it still has its name (ids start again
 * on a cluster whose controller lost its state); a job already ended is no error. An array's
 * task is looked at first, then cancelled by id alone: Slurm 22.05 given `--name` with a task's
 * id cancels every pending task of the array.
 */
export async function cancelJob(id: string, name: string): Promise<void> {
  if (arrayTask(id)) {
    const job = await jobState(id).catch(() => undefined);
    // Not again once ended (a sweep's cancel already ended the whole array).
    if (job?.name === name && isActive(job)) {
      await slurm('scancel', [id]).catch(() => undefined);
    }
    return;
  }
  await slurm('scancel', [`--name=${name}`, id]).catch(() => undefined);
}

/** The ids of the jobs named `name` that are still pending or running. */
export async function activeJobsNamed(name: string): Promise<string[]> {
  const out = await slurm('squeue', [
    '--noheader',
    `--name=${name}`,
    '--format=%i'
  ]);
  return out
    .split('\n')
    .map(line => line.trim())
    .filter(isJobId);
}

/** The job's name for a run: how its job is told from another that got the same id. */
export function jobName(run: string): string {
  return `reproserver-${run}`;
}

/**
 * Cancels every task of a job array (one `scancel` for a whole sweep's array), only if it still
 * has its name; an array already ended is no error.
 */
export async function cancelArray(
  arrayId: string,
  name: string
): Promise<void> {
  await slurm('scancel', [`--name=${name}`, arrayId]).catch(() => undefined);
}

/**
 * The id of the array named `name` whose comment is `comment`, while the controller keeps it
 * (pending, running, or ended less than `MinJobAge` ago); undefined when it has none. How an
 * array submitted by an `sbatch` whose answer was lost (the server killed, or sbatch timed out
 * after submitting) is found instead of submitted twice.
 */
export async function findArray(
  name: string,
  comment: string
): Promise<string | undefined> {
  const out = await slurm('squeue', [
    '--noheader',
    '--states=all',
    `--name=${name}`,
    '--format=%F|%k'
  ]);
  for (const line of out.split('\n')) {
    const [id, said] = line.trim().split('|');
    if (said === comment && isJobId(id)) {
      return id;
    }
  }
  return undefined;
}

/** The name of a sweep's job arrays: `reproserver-sweep-<sweep id>`. */
export function arrayName(sweep: string): string {
  return `reproserver-sweep-${sweep}`;
}
