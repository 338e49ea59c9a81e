/**
 * Executing one run: what it needs first (its image, or its unpacked package), then its backend,
 * each event kept in the records and appended to the run's log; cancelled by aborting it.
 */
import type Docker from 'dockerode';
import { helperPath } from '../../backends/docker/helper-path';
import { runOnDocker } from '../../backends/docker/runner';
import { runOnSandbox } from '../../backends/sandbox/runner';
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
   * Executes a queued run, or re-attaches to the container of one an earlier server started.
   * Never throws: a failure ends the run as `error`.
   */
  async execute(run: RunRecord, container?: Docker.Container): Promise<void> {
    const { id } = run;
    if (run.status !== 'queued' && !container) {
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
    const progress = {
      summary: startSummary(
        run.status,
        container ? run.steps : [],
        [],
        container ? run.missingOutputs : []
      )
    };
    const pkg = packages.get(run.packageSha256);
    const plan = planRun(pkg.model, run.edits, runDefaults());
    // A re-attached run's backend replays what its steps wrote: pass on only what is new.
    const record = (event: RunEvent): void =>
      this._onRunEvent(id, event, progress);
    const onEvent = container
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
    if (container) {
      await runOnDocker({
        ...common,
        ...docker,
        image: run.image ?? '',
        reattach: { container, startedAt: run.startedAt ?? Date.now() }
      });
      return;
    }
    records.updateStatus(id, 'building');
    await log.append(id, {
      type: 'status',
      time: Date.now(),
      status: 'building'
    });
    progress.summary = {
      ...progress.summary,
      steps: startSummary('building', plan.steps).steps
    };
    records.setSteps(id, progress.summary.steps.map(stepRecord));
    if (run.backend === 'sandbox') {
      const rootfs = await this._prepare(
        id,
        signal,
        'The package could not be unpacked',
        async () =>
          prepareRootfs(await packages.pathOf(pkg.sha256), {
            stateDir: this.options.stateDir,
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
