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
import { parseSacctJob, parseScontrolJob, type JobState } from './job-state';

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
  env: NodeJS.ProcessEnv = process.env
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: MAX_OUTPUT_BYTES,
        env,
        encoding: 'utf8'
      },
      (error, stdout, stderr) => {
        if (error) {
          const said = String(stderr ?? '')
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

/** The job id of a submitted batch script. */
export async function submit(job: Submission): Promise<string> {
  const out = await slurm(
    'sbatch',
    [
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
      '--export=ALL',
      job.script
    ],
    COMMAND_TIMEOUT_MS,
    jobEnvironment()
  );
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

/**
 * What Slurm says of the job now: the controller's record, else accounting's; undefined when
 * neither knows it (rejects when the cluster does not answer).
 */
export async function jobState(id: string): Promise<JobState | undefined> {
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
  try {
    return parseSacctJob(
      await slurm('sacct', [
        '-X',
        '-n',
        '-P',
        '-j',
        id,
        '-o',
        'State,ExitCode,Reason'
      ])
    );
  } catch {
    return undefined;
  }
}

/**
 * Asks Slurm to stop the job (all its processes), only if it still has its name (ids start again
 * on a cluster whose controller lost its state); a job already ended is no error.
 */
export async function cancelJob(id: string, name: string): Promise<void> {
  await slurm('scancel', [`--name=${name}`, id]).catch(() => undefined);
}

/** The job's name for a run: how its job is told from another that got the same id. */
export function jobName(run: string): string {
  return `reproserver-${run}`;
}
