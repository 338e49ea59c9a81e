/**
 * Where a run on Slurm keeps its files, in the folder the server shares with the nodes:
 * `<shared>/slurm-runs/<run>/` holds the run's tree (`root/`, a copy of the package's cached
 * tree), the batch script, the job's own output, and per step its stdout, stderr, start time,
 * exit code and owners files. The run's name is its id, so a restarted server finds the folder.
 */
import { join } from 'node:path';

/** Runs' folders under the shared folder. */
export function runsFolder(shared: string): string {
  return join(shared, 'slurm-runs');
}

export function runLayout(runDir: string) {
  return {
    root: join(runDir, 'root'),
    script: join(runDir, 'job.sh'),
    /** sbatch's --output: what Slurm and the script itself say. */
    jobOutput: join(runDir, 'job.out'),
    /** When the run's tree was complete (ms): files changed later are the run's. */
    since: join(runDir, 'since'),
    steps: join(runDir, 'steps')
  };
}

export function stepFiles(runDir: string, position: number) {
  const base = join(runDir, 'steps', String(position));
  return {
    stdout: `${base}.out`,
    stderr: `${base}.err`,
    /** Written when the step starts: its time (ms). */
    start: `${base}.start`,
    /** Written (renamed into place) when the step ended: its exit code. */
    exit: `${base}.exit`,
    owners: `${base}.owners`,
    report: `${base}.report`,
    recordedOwners: join(runDir, 'recorded.owners')
  };
}

/** Job arrays' folders (Slurm's output file of each task) under the shared folder: `array.ts`. */
export function arraysFolder(shared: string): string {
  return join(shared, 'slurm-arrays');
}
