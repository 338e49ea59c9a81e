/**
 * Executing one run: what it needs first (its image, or its unpacked package), then its backend,
 * each event kept in the records and appended to the run's log; cancelled by aborting it.
 */
import type Docker from 'dockerode';
import { helperPath } from '../../backends/docker/helper-path';
import { runOnDocker } from '../../backends/docker/runner';
import { runOnSandbox } from '../../backends/sandbox/runner';
import { arrayTask } from '../../backends/slurm/commands';
import { slurmConfig } from '../../backends/slurm/detect';
import { abandonJob, runOnSlurm } from '../../backends/slurm/runner';
import { errorMessage } from '../../describe';
import { runDefaults } from '../../runs/default-limits';
import { FINAL_STATUSES, type RunEvent } from '../../runs/events';
import { planRun, type InputPlacement } from '../../runs/plan';
import { LoggedEvents } from '../../runs/replay';
import {
  applyRunEvent,
  outputOf,
  startSummary,
  stepRecord,
  type RunSummary
} from '../../runs/summary';
import type { PackageReader } from '../../rpz/worker';
import { prepareRootfs, type PreparedRootfs } from '../../sandbox';
import type { BlobStore, EventLogs } from '../../store';
import type { Records, RunRecord } from '../../store/records';
import { BlobSink } from '../blob-sink';
import type { BuildService } from '../builds';
import type { PackageService } from '../packages';
import { runLabels } from './docker-containers';
import { openInput } from './inputs';
import type { RunLog } from './run-log';

/** What unpacking a package for the sandbox noticed: its warnings, and the tree it made. */
export interface SandboxNotices {
  warning?: (message: string) => void;
  prepared?: (rootfs: PreparedRootfs) => void;
}

export interface RunExecutorOptions {
  records: Records;
  blobs: BlobStore;
  logs: EventLogs;
  packages: PackageService;
  builds: Pick<BuildService, 'ensure'>;
  stateDir: string;
  reader?: PackageReader;
  docker: Docker;
  log: RunLog;
  sandboxNotices?: SandboxNotices;
  /** Folders of trees an administrator prepared (read-only), used before the state folder's. */
  sharedTrees?: readonly string[];
}

export class RunExecutor {
  constructor(private readonly options: RunExecutorOptions) {}

  /** Whether the run is executing in this process (its end is then written by `execute`). */
  isExecuting(id: string): boolean {
    return this._aborts.has(id);
  }

  /** Aborts an executing run and waits until it has ended. */
  async abort(id: string): Promise<void> {
    this._aborts.get(id)?.abort();
    await this._ended.get(id);
  }

  /**
   * Executes a queued run, or re-attaches to the container of one an earlier server started (or
   * to its Slurm job: `reattachesToJob`). Never throws: a failure ends the run as `error`.
   */
  async execute(run: RunRecord, container?: Docker.Container): Promise<void> {
    const { id } = run;
    if (run.status !== 'queued' && !container && !reattachesToJob(run)) {
      return;
    }
    const abort = new AbortController();
    this._aborts.set(id, abort);
    let resolveEnded!: () => void;
    this._ended.set(id, new Promise(resolve => (resolveEnded = resolve)));
    try {
      await this._execute(run, abort.signal, container);
    } catch (error) {
      await this.options.log.finish(
        id,
        {
          status: 'error',
          reason: `The server failed to run it: ${errorMessage(error)}`
        },
        false
      );
    } finally {
      await this.options.log.close(id);
      this._aborts.delete(id);
      resolveEnded();
      this._ended.delete(id);
    }
  }

  private async _execute(
    run: RunRecord,
    signal: AbortSignal,
    container: Docker.Container | undefined
  ): Promise<void> {
    const { id } = run;
    const { records, log, packages } = this.options;
    // What the events add up to (`runs/summary.ts`); the records follow it.
    const reattaching = container !== undefined || reattachesToJob(run);
    const progress = {
      summary: startSummary(
        run.status,
        reattaching ? run.steps : [],
        [],
        reattaching ? run.missingOutputs : []
      )
    };
    const pkg = packages.get(run.packageSha256);
    const plan = planRun(pkg.model, run.edits, runDefaults());
    // A re-attached run's backend replays what its steps wrote: pass on only what is new.
    const record = (event: RunEvent): void =>
      this._onRunEvent(id, event, progress);
    const onEvent = reattaching
      ? (await LoggedEvents.read(this.options.logs, id)).filter(record)
      : record;
    const common = {
      plan,
      sink: new BlobSink(this.options.blobs),
      signal,
      openInput: (input: InputPlacement) =>
        openInput(this.options.blobs, input),
      onEvent
    };
    const docker = {
      docker: this.options.docker,
      helperPath: helperPath(),
      labels: runLabels(id)
    };
    if (run.backend === 'slurm') {
      await this._executeOnSlurm(run, plan, common, progress);
      return;
    }
    if (container) {
      await runOnDocker({
        ...common,
        ...docker,
        image: run.image ?? '',
        reattach: { container, startedAt: run.startedAt ?? Date.now() }
      });
      return;
    }
    await this._markBuilding(id, plan, progress);
    if (run.backend === 'sandbox') {
      const rootfs = await this._prepare(
        id,
        signal,
        'The package could not be unpacked',
        async () =>
          prepareRootfs(await packages.pathOf(pkg.sha256), {
            stateDir: this.options.stateDir,
            sharedTrees: this.options.sharedTrees,
            sha256: pkg.sha256,
            reader: this.options.reader,
            onWarning: this.options.sandboxNotices?.warning
          })
      );
      if (!rootfs) {
        return;
      }
      this.options.sandboxNotices?.prepared?.(rootfs);
      records.setExecution(id, { backend: 'sandbox' });
      await runOnSandbox({
        ...common,
        rootfs,
        stateDir: this.options.stateDir
      });
      return;
    }
    const image = await this._prepare(
      id,
      signal,
      'The image could not be made',
      () =>
        this.options.builds.ensure(
          pkg.sha256,
          build =>
            void log.append(id, { type: 'build', time: Date.now(), build })
        )
    );
    if (!image) {
      return;
    }
    records.setExecution(id, { backend: 'docker', image });
    await runOnDocker({ ...common, ...docker, image });
  }

  /** The run is being prepared (image built, package unpacked): recorded, logged, summed up. */
  private async _markBuilding(
    id: string,
    plan: ReturnType<typeof planRun>,
    progress: { summary: RunSummary }
  ): Promise<void> {
    this.options.records.updateStatus(id, 'building');
    await this.options.log.append(id, {
      type: 'status',
      time: Date.now(),
      status: 'building'
    });
    progress.summary = {
      ...progress.summary,
      steps: startSummary('building', plan.steps).steps
    };
    this.options.records.setSteps(id, progress.summary.steps.map(stepRecord));
  }

  /**
   * A run as a Slurm job (`backends/slurm/`): the package unpacked once into the shared folder,
   * the job's id kept where a Docker run keeps its container's, so that a restarted server
   * re-attaches to it (a run recorded `running` with a job id).
   */
  private async _executeOnSlurm(
    run: RunRecord,
    plan: ReturnType<typeof planRun>,
    common: Omit<
      Parameters<typeof runOnSlurm>[0],
      'rootfs' | 'shared' | 'name'
    >,
    progress: { summary: RunSummary }
  ): Promise<void> {
    const { id } = run;
    const { records, log, packages } = this.options;
    const config = slurmConfig();
    if (!config) {
      await log.finish(
        id,
        {
          status: 'error',
          reason:
            'The Slurm backend has no shared folder configured: set REPROSERVER_SLURM_SHARED and restart the server.'
        },
        false
      );
      return;
    }
    const pkg = packages.get(run.packageSha256);
    const reattach = reattachesToJob(run);
    // A sweep's run submitted in an array (`slurm-arrays.ts`): its task is followed from here.
    const task = followsArrayTask(run);
    if (task) {
      progress.summary = {
        ...progress.summary,
        steps: startSummary('queued', plan.steps).steps
      };
      records.setSteps(id, progress.summary.steps.map(stepRecord));
    } else if (!reattach) {
      await this._markBuilding(id, plan, progress);
    }
    const rootfs = await this._prepare(
      id,
      common.signal!,
      'The package could not be unpacked into the shared folder',
      async () =>
        prepareRootfs(await packages.pathOf(pkg.sha256), {
          stateDir: config.shared,
          sha256: pkg.sha256,
          reader: this.options.reader,
          onWarning: this.options.sandboxNotices?.warning
        })
    );
    if (!rootfs) {
      return;
    }
    records.setExecution(id, { backend: 'slurm' });
    await runOnSlurm({
      ...common,
      rootfs,
      shared: config.shared,
      partition: config.partition,
      name: id,
      onJob: jobId => records.setContainerId(id, jobId),
      reattach: reattach
        ? { jobId: run.containerId!, startedAt: run.startedAt ?? Date.now() }
        : task
          ? { jobId: run.containerId! }
          : undefined
    });
    records.setContainerId(id, null);
  }

  /**
   * Gets what a run needs before it can start (its image, its unpacked package). Ends the run when
   * that fails (with `what` and the reason) or when it was cancelled meanwhile; undefined then.
   */
  private async _prepare<T>(
    id: string,
    signal: AbortSignal,
    what: string,
    work: () => Promise<T>
  ): Promise<T | undefined> {
    const { log } = this.options;
    let value: T;
    try {
      value = await work();
    } catch (error) {
      const reason = errorMessage(error);
      await log.finish(
        id,
        { status: 'error', reason: `${what}: ${reason}` },
        false
      );
      return undefined;
    }
    if (signal.aborted) {
      await log.finish(
        id,
        { status: 'cancelled', reason: 'The run was cancelled.' },
        false
      );
      return undefined;
    }
    return value;
  }

  /**
   * Keeps the records in step with the events and appends each to the log. A run's records say
   * it ended only once its `end` event is in the log (with the log's size): a client that sees
   * the final status reads the whole log.
   */
  private _onRunEvent(
    id: string,
    event: RunEvent,
    progress: { summary: RunSummary }
  ): void {
    const { records, log } = this.options;
    const summary = applyRunEvent(progress.summary, event);
    progress.summary = summary;
    switch (event.type) {
      case 'status':
        // A final status is recorded with the `end` event that follows it.
        if (!FINAL_STATUSES.includes(event.status)) {
          records.updateStatus(id, event.status);
        }
        break;
      case 'step-end':
        records.setSteps(id, summary.steps.map(stepRecord));
        break;
      case 'output':
        records.addOutput(id, outputOf(event));
        break;
      case 'output-missing':
        records.setMissingOutputs(id, summary.missing);
        break;
      case 'end':
        void log.append(id, event).then(() =>
          records.updateStatus(id, event.status, {
            reason: summary.end?.reason ?? undefined,
            failedStep: summary.end?.failedStep ?? undefined
          })
        );
        return;
    }
    void log.append(id, event);
  }

  private readonly _aborts = new Map<string, AbortController>();
  private readonly _ended = new Map<string, Promise<void>>();
}

/** A Slurm run an earlier server left running with its job submitted: re-attached to the job. */
export function reattachesToJob(run: RunRecord): boolean {
  return (
    run.backend === 'slurm' && run.status === 'running' && !!run.containerId
  );
}

/** A sweep's run submitted as an array's task, not followed yet (`slurm-arrays.ts`). */
export function followsArrayTask(run: RunRecord): boolean {
  return (
    run.backend === 'slurm' &&
    run.status === 'queued' &&
    !!run.containerId &&
    arrayTask(run.containerId) !== undefined
  );
}

/**
 * Ends the Slurm job of a run cancelled before the queue resumed it: re-attached after a restart,
 * or an array's task not followed yet (`backends/slurm`).
 */
export async function abandonReattachedJob(run: RunRecord): Promise<void> {
  const config = slurmConfig();
  if (config && (reattachesToJob(run) || followsArrayTask(run))) {
    await abandonJob(config.shared, run.id, run.containerId!);
  }
}
