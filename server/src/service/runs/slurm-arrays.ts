/**
 * A sweep on the Slurm backend goes to the cluster as job arrays (`backends/slurm/array.ts`), not
 * as a job per run. Its runs are created as usual (records, logs, the sweep's links) but held out
 * of the queue; once the sweep's runs are all created, this makes each run's folder in the shared
 * folder, submits the arrays, keeps each run's task id (`<array>_<i>`) where a single job's id is
 * kept, and queues the runs: the queue then follows each task as it follows a re-attached job
 * (`execution.ts`), so a variant is recorded, ended and extracted like any run. K, the tasks
 * running at once, is the server's concurrency limit.
 */
import {
  arrayGroups,
  arrayPlace,
  forgetSubmission,
  type ArrayPlace,
  slurmLimits,
  submitRunArray,
  submittedArray,
  type SlurmLimits
} from '../../backends/slurm/array';
import {
  arrayName,
  arrayTask,
  cancelArray,
  maxArraySize
} from '../../backends/slurm/commands';
import { slurmConfig } from '../../backends/slurm/detect';
import { abandonJob } from '../../backends/slurm/runner';
import { prepareRunFolder, runFolder } from '../../backends/slurm/run-folder';
import { errorMessage } from '../../describe';
import { runDefaults } from '../../runs/default-limits';
import { FINAL_STATUSES } from '../../runs/events';
import { planRun, type RunPlan } from '../../runs/plan';
import type { PackageReader } from '../../rpz/worker';
import { prepareRootfs, removeTree } from '../../sandbox';
import type { BlobStore } from '../../store';
import type { Records, RunRecord } from '../../store/records';
import type { PackageService } from '../packages';
import { openInput } from './inputs';
import type { RunLog } from './run-log';

/** Run folders made at once while an array is prepared (each a `cp -a` of the package's tree). */
const FOLDERS_AT_ONCE = 4;

export interface SlurmArraysOptions {
  records: Records;
  blobs: BlobStore;
  packages: Pick<PackageService, 'get' | 'pathOf'>;
  reader?: PackageReader;
  log: RunLog;
  /** Tasks of the sweep running at once (`%K`). */
  concurrency: number;
  /** Queues a run whose task was submitted: the queue follows it. */
  enqueue: (id: string) => void;
}

/** A run of a Slurm sweep created but not submitted yet: not in the queue, no job id. */
export function heldForArray(records: Records, run: RunRecord): boolean {
  return (
    run.backend === 'slurm' &&
    run.status === 'queued' &&
    !run.containerId &&
    records.sweeps.ofRun(run.id) !== undefined
  );
}

interface Task {
  run: RunRecord;
  plan: RunPlan;
  limits: SlurmLimits;
}

export class SlurmArrays {
  constructor(private readonly options: SlurmArraysOptions) {}

  /**
   * Submits the sweep's held runs as arrays and queues them; one submission at a time (a
   * restarted server and the sweep's creation may both ask).
   */
  submit(sweepId: string): Promise<void> {
    const next = this._submitting.then(() => this._submit(sweepId));
    this._submitting = next.catch(() => undefined);
    return next;
  }

  /** Cancels the sweep's arrays, one `scancel` each; its runs are then cancelled as usual. */
  async cancel(sweepId: string): Promise<void> {
    const { records } = this.options;
    const arrays = new Set<string>();
    for (const variant of records.sweeps.variants(sweepId)) {
      const run = variant.runId ? records.getRun(variant.runId) : undefined;
      const task = run?.containerId ? arrayTask(run.containerId) : undefined;
      if (run && task && !FINAL_STATUSES.includes(run.status)) {
        arrays.add(task.arrayId);
      }
    }
    for (const id of arrays) {
      await cancelArray(id, arrayName(sweepId));
    }
  }

  private async _submit(sweepId: string): Promise<void> {
    const { records } = this.options;
    const held = records.sweeps
      .variants(sweepId)
      .map(v => (v.runId ? records.getRun(v.runId) : undefined))
      .filter((run): run is RunRecord => !!run && heldForArray(records, run));
    if (held.length === 0) {
      return;
    }
    const config = slurmConfig();
    if (!config) {
      await this._failAll(
        held,
        'The Slurm backend has no shared folder configured: set REPROSERVER_SLURM_SHARED and restart the server.'
      );
      return;
    }
    const adopted = await this._adoptSubmitted(sweepId, held, config.shared);
    const rest = held.filter(run => !adopted.has(run.id));
    if (rest.length === 0) {
      return;
    }
    await this._submitHeld(sweepId, rest, config);
  }

  /**
   * The held runs whose array was submitted by a server that stopped before it kept their task
   * ids (or whose sbatch answer was lost): found through the submission record in their array's
   * folder and Slurm's queue, then followed as if just submitted. Tasks of runs that ended
   * meanwhile (cancelled) are abandoned. Answers the runs adopted.
   */
  private async _adoptSubmitted(
    sweepId: string,
    held: RunRecord[],
    shared: string
  ): Promise<Set<string>> {
    const adopted = new Set<string>();
    for (const run of held) {
      if (adopted.has(run.id)) {
        continue;
      }
      const place = arrayPlace(shared, run.id);
      let found;
      try {
        found = await submittedArray(place, arrayName(sweepId));
      } catch {
        // The cluster does not answer: submitting says so.
        return adopted;
      }
      if (found) {
        const followed = await this._follow(
          shared,
          place,
          found.arrayId,
          found.runs
        );
        followed.forEach(id => adopted.add(id));
      }
    }
    return adopted;
  }

  /**
   * The runs of a submitted array, task `i` being `runs[i]` (null: left out): each still held
   * keeps its task id and is queued (followed from then on); each ended meanwhile (cancelled)
   * has its task abandoned; the others are followed already. Answers the runs queued.
   */
  private async _follow(
    shared: string,
    place: ArrayPlace,
    arrayId: string,
    runs: readonly (string | null | undefined)[]
  ): Promise<string[]> {
    const { records } = this.options;
    const follow: string[] = [];
    const abandon: [string, string][] = [];
    for (const [index, id] of runs.entries()) {
      const run = id ? records.getRun(id) : undefined;
      const jobId = `${arrayId}_${index}`;
      if (!run) {
        continue;
      }
      if (this._ended(run.id)) {
        abandon.push([run.id, jobId]);
      } else if (heldForArray(records, run)) {
        records.setContainerId(run.id, jobId);
        follow.push(run.id);
      }
    }
    // Before the tasks are followed: the last to end removes the array's folder, if empty.
    await forgetSubmission(place);
    follow.forEach(id => this.options.enqueue(id));
    for (const [run, jobId] of abandon) {
      void abandonJob(shared, run, jobId);
    }
    return follow;
  }

  private async _submitHeld(
    sweepId: string,
    held: RunRecord[],
    config: { shared: string; partition?: string }
  ): Promise<void> {
    const { packages } = this.options;
    const pkg = packages.get(held[0].packageSha256);
    let rootfs;
    try {
      rootfs = await prepareRootfs(await packages.pathOf(pkg.sha256), {
        stateDir: config.shared,
        sha256: pkg.sha256,
        reader: this.options.reader
      });
    } catch (error) {
      await this._failAll(
        held,
        `The package could not be unpacked into the shared folder: ${errorMessage(error)}`
      );
      return;
    }
    const tasks: Task[] = [];
    for (const run of held) {
      const plan = planRun(pkg.model, run.edits, runDefaults());
      tasks.push({ run, plan, limits: slurmLimits(plan.limits) });
    }
    let maxSize: number;
    try {
      maxSize = await maxArraySize();
    } catch (error) {
      await this._failAll(
        held,
        `The cluster does not answer: ${errorMessage(error)}`
      );
      return;
    }
    let after: string | undefined;
    for (const group of arrayGroups(tasks, maxSize)) {
      after = await this._submitGroup(sweepId, group, config, rootfs, after);
    }
  }

  /**
   * Makes the group's run folders, submits them as one array after `after`, and queues them;
   * answers the array's id (undefined when none was submitted).
   */
  private async _submitGroup(
    sweepId: string,
    group: Task[],
    config: { shared: string; partition?: string },
    rootfs: Awaited<ReturnType<typeof prepareRootfs>>,
    after: string | undefined
  ): Promise<string | undefined> {
    const place = arrayPlace(config.shared, group[0].run.id);
    const name = arrayName(sweepId);
    const never = new AbortController().signal;
    // Each run's folder, its task index its place in the group; a refused run ends here.
    const ready: boolean[] = [];
    for (let at = 0; at < group.length; at += FOLDERS_AT_ONCE) {
      await Promise.all(
        group.slice(at, at + FOLDERS_AT_ONCE).map(async (task, offset) => {
          const index = at + offset;
          try {
            const folder = await prepareRunFolder(
              {
                plan: task.plan,
                rootfs,
                shared: config.shared,
                name: task.run.id,
                openInput: input => openInput(this.options.blobs, input)
              },
              never,
              { name, output: place.output(index) }
            );
            if (!folder.ready) {
              await this._fail(
                task.run,
                folder.result.reason ?? 'It cannot run on Slurm.'
              );
            }
            ready[index] = folder.ready;
          } catch (error) {
            await this._fail(
              task.run,
              `The run's folder could not be made in the shared folder: ${errorMessage(error)}`
            );
            ready[index] = false;
          }
        })
      );
    }
    // Runs cancelled while their folders were made are left out; the others keep their index.
    const runDirs = group.map((task, index) =>
      ready[index] && !this._ended(task.run.id)
        ? runFolder(config.shared, task.run.id)
        : undefined
    );
    if (runDirs.every(dir => dir === undefined)) {
      await this._removeFolders(group, place.folder);
      return after;
    }
    let arrayId: string;
    try {
      arrayId = await submitRunArray({
        place,
        runs: group.map((task, index) =>
          runDirs[index] ? task.run.id : undefined
        ),
        runDirs,
        name,
        partition: config.partition,
        limits: group[0].limits,
        throttle: this.options.concurrency,
        after
      });
    } catch (error) {
      for (const [index, task] of group.entries()) {
        if (runDirs[index]) {
          await this._fail(
            task.run,
            `Slurm refused the sweep's job array: ${errorMessage(error)}`
          );
        }
      }
      await this._removeFolders(group, place.folder);
      return after;
    }
    await this._follow(
      config.shared,
      place,
      arrayId,
      group.map((task, index) => (runDirs[index] ? task.run.id : undefined))
    );
    return arrayId;
  }

  private _ended(id: string): boolean {
    const run = this.options.records.getRun(id);
    return !run || FINAL_STATUSES.includes(run.status);
  }

  private async _fail(run: RunRecord, reason: string): Promise<void> {
    if (!this._ended(run.id)) {
      await this.options.log.finish(run.id, { status: 'error', reason }, true);
    }
  }

  private async _failAll(runs: RunRecord[], reason: string): Promise<void> {
    for (const run of runs) {
      await this._fail(run, reason);
    }
  }

  private async _removeFolders(
    group: Task[],
    arrayFolder: string
  ): Promise<void> {
    const shared = slurmConfig()?.shared;
    if (shared) {
      for (const task of group) {
        await removeTree(runFolder(shared, task.run.id)).catch(() => undefined);
      }
    }
    await removeTree(arrayFolder).catch(() => undefined);
  }

  private _submitting: Promise<void> = Promise.resolve();
}
