/**
 * A sweep's runs as Slurm job arrays: each run's folder is made as for a job of its own
 * (`run-folder.ts`), then one `sbatch --array=0-(N-1)%K` runs them all, task i running the batch
 * script of the i-th run (the array's script maps `SLURM_ARRAY_TASK_ID` to it). Each run keeps its
 * own record and is then followed as a re-attached job is (`runner.ts`), by its task's id
 * `<array>_<i>`: the task's output file is in the array's folder, and the run's `run.json` says so.
 *
 * One array holds runs with the same Slurm limits (`--mem`, `--time`, `--cpus-per-task` are the
 * array's), in the sweep's order, at most the cluster's `MaxArraySize`; a sweep that needs more
 * arrays chains them (`--dependency=afterany:` the previous one), so that K, the number of tasks
 * running at once, holds for the whole sweep.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunLimits } from '../../runs/edits';
import { findArray, submitArray } from './commands';
import { readHead } from './follow';
import { shellQuote } from './job-script';
import { arraysFolder, runLayout } from './layout';

/** Runs' ids an array holds at most whatever the cluster allows: a bound on one sbatch call. */
export const MAX_TASKS_PER_ARRAY = 10_000;

/** What `sbatch` takes from a run's limits: the same for every task of one array. */
export interface SlurmLimits {
  memoryMiB: number;
  timeMinutes: number;
  cpus: number;
}

export function slurmLimits(
  limits: Pick<RunLimits, 'memoryMiB' | 'timeoutSeconds' | 'cpus'>
): SlurmLimits {
  return {
    memoryMiB: limits.memoryMiB,
    timeMinutes: Math.max(1, Math.ceil(limits.timeoutSeconds / 60)),
    cpus: Math.max(1, Math.ceil(limits.cpus))
  };
}

/**
 * The arrays for runs in order: consecutive runs with the same Slurm limits go together, at most
 * `maxSize` per array (pure).
 */
export function arrayGroups<T extends { limits: SlurmLimits }>(
  runs: readonly T[],
  maxSize: number
): T[][] {
  const size = Math.max(1, Math.min(maxSize, MAX_TASKS_PER_ARRAY));
  const groups: T[][] = [];
  const key = (l: SlurmLimits) => `${l.memoryMiB}/${l.timeMinutes}/${l.cpus}`;
  // Same limits together, keeping the sweep's order within each.
  const byLimits = new Map<string, T[]>();
  for (const run of runs) {
    const list = byLimits.get(key(run.limits)) ?? [];
    list.push(run);
    byLimits.set(key(run.limits), list);
  }
  for (const list of byLimits.values()) {
    for (let at = 0; at < list.length; at += size) {
      groups.push(list.slice(at, at + size));
    }
  }
  return groups;
}

/**
 * The array's batch script (pure): task i runs the batch script of the i-th run's folder (a
 * run left out, undefined, has no task). Run folders are the server's own names; quoted anyway.
 */
export function arrayScript(runDirs: readonly (string | undefined)[]): string {
  return [
    '#!/bin/bash',
    '# A ReproServer sweep (backends/slurm/array.ts): task i runs the i-th run of the array.',
    'case "${SLURM_ARRAY_TASK_ID:-}" in',
    ...runDirs.flatMap((dir, index) =>
      dir === undefined
        ? []
        : [`  ${index}) exec /bin/bash ${shellQuote(runLayout(dir).script)} ;;`]
    ),
    '  *) echo "reproserver: no run for task ${SLURM_ARRAY_TASK_ID:-}" >&2; exit 1 ;;',
    'esac',
    ''
  ].join('\n');
}

/** The indices of the runs not left out, as sbatch's `--array` list: "0-3,5,7-9" (pure). */
export function taskList(runDirs: readonly (string | undefined)[]): string {
  const parts: string[] = [];
  let start = -1;
  for (let index = 0; index <= runDirs.length; index++) {
    const present = index < runDirs.length && runDirs[index] !== undefined;
    if (present && start === -1) {
      start = index;
    } else if (!present && start !== -1) {
      parts.push(start === index - 1 ? `${start}` : `${start}-${index - 1}`);
      start = -1;
    }
  }
  return parts.join(',');
}

/** An array about to be submitted: its folder, and each task's output file there. */
export interface ArrayPlace {
  folder: string;
  output: (task: number) => string;
}

/** Where the array whose first run is `first` keeps its tasks' output files. */
export function arrayPlace(shared: string, first: string): ArrayPlace {
  const folder = join(arraysFolder(shared), first);
  return { folder, output: task => join(folder, `${task}.out`) };
}

/**
 * What an array was submitted with, written in its folder before `sbatch` runs: the comment that
 * finds it in Slurm, and the run of each task (null: left out).
 */
export interface Submission {
  comment: string;
  runs: (string | null)[];
}

const SUBMISSION = 'submission.json';
/** Bytes of a submission record read at most (10,000 run ids and their quotes fit). */
const MAX_SUBMISSION_BYTES = 1024 * 1024;

/**
 * Submits the runs whose folders are ready (`runDirs`, in task order; undefined: left out) as
 * one array; answers its id. Each task's output file is made first: the array's folder is
 * removed only once the last run removed its own (`runner.ts`). The submission is recorded
 * first, so that an array whose `sbatch` answer is lost (the server killed while it ran, or
 * sbatch timing out after submitting) is found again (`submittedArray`), never submitted twice.
 */
export async function submitRunArray(options: {
  place: ArrayPlace;
  /** The run of each task, in task order (undefined: left out); `runDirs` are their folders. */
  runs: readonly (string | undefined)[];
  runDirs: readonly (string | undefined)[];
  name: string;
  partition?: string;
  limits: SlurmLimits;
  throttle: number;
  after?: string;
}): Promise<string> {
  const { place, runDirs } = options;
  await mkdir(place.folder, { recursive: true, mode: 0o700 });
  for (let task = 0; task < runDirs.length; task++) {
    if (runDirs[task] !== undefined) {
      await writeFile(place.output(task), '', { mode: 0o600 });
    }
  }
  const submission: Submission = {
    comment: `reproserver-${randomUUID()}`,
    runs: options.runs.map(run => run ?? null)
  };
  const record = join(place.folder, SUBMISSION);
  await writeFile(`${record}.tmp`, JSON.stringify(submission), { mode: 0o600 });
  await rename(`${record}.tmp`, record);
  try {
    return await submitArray({
      scriptText: arrayScript(runDirs),
      name: options.name,
      partition: options.partition,
      output: join(place.folder, '%a.out'),
      workdir: place.folder,
      ...options.limits,
      tasks: taskList(runDirs),
      throttle: Math.max(1, Math.floor(options.throttle)),
      after: options.after,
      comment: submission.comment
    });
  } catch (error) {
    // sbatch may have submitted before it failed (a timeout): then the array runs, and is ours.
    const found = await findArray(options.name, submission.comment).catch(
      () => undefined
    );
    if (found === undefined) {
      throw error;
    }
    return found;
  }
}

/**
 * The array submitted from `place` and still known to Slurm, with the run of each task; undefined
 * when none was (or Slurm no longer keeps it). Rejects when the cluster does not answer.
 */
export async function submittedArray(
  place: ArrayPlace,
  name: string
): Promise<{ arrayId: string; runs: (string | null)[] } | undefined> {
  const submission = await readSubmission(join(place.folder, SUBMISSION));
  if (!submission) {
    return undefined;
  }
  const arrayId = await findArray(name, submission.comment);
  return arrayId === undefined ? undefined : { arrayId, runs: submission.runs };
}

/**
 * Removes the submission record once the runs keep their task ids: the array's folder is then
 * left to its tasks' output files, and removed with the last of them.
 */
export async function forgetSubmission(place: ArrayPlace): Promise<void> {
  await rm(join(place.folder, SUBMISSION), { force: true }).catch(
    () => undefined
  );
}

/** A submission record, or undefined when missing or not one (ours, but bounded all the same). */
async function readSubmission(path: string): Promise<Submission | undefined> {
  try {
    const text = await readHead(path, MAX_SUBMISSION_BYTES + 1);
    if (text.length > MAX_SUBMISSION_BYTES) {
      return undefined;
    }
    const value = JSON.parse(text.toString('utf8')) as Partial<Submission>;
    if (
      typeof value.comment === 'string' &&
      /^reproserver-[\w-]{1,64}$/.test(value.comment) &&
      Array.isArray(value.runs) &&
      value.runs.length <= MAX_TASKS_PER_ARRAY &&
      value.runs.every(run => run === null || typeof run === 'string')
    ) {
      return { comment: value.comment, runs: value.runs };
    }
  } catch {
    // missing, or not a record of ours
  }
  return undefined;
}
