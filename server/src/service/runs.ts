/**
 * Runs as the API sees them: created from a package and edits, queued, executed on a backend,
 * every event appended to the run's log on disk, records updated as events happen.
 *
 * The facade of `runs/`: restart recovery (`recovery.ts`), inputs (`inputs.ts`), outputs
 * (`outputs.ts`), the wire shape (`wire.ts`), backend choice and isolation consent
 * (`backend-choice.ts`), execution (`execution.ts`) and the run's log (`run-log.ts`).
 */
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { DomainError, RetryLaterError, notFound } from '../errors';
import type {
  CreateRunRequest,
  RunRecord as WireRun,
  SaveOutputsResponse
} from '../contract/wire';
import type { WeakIsolationPolicy } from '../backends/exposure';
import { runDefaults } from '../runs/default-limits';
import { FINAL_STATUSES, type RunStatus } from '../runs/events';
import { PlanError, planRun } from '../runs/plan';
import type { PackageReader } from '../rpz/worker';
import type { BlobStore, EventLogs } from '../store';
import type { Records, RunRecord } from '../store/records';
import type { SweepLink } from '../store/sweep-records';
import type { BuildService } from './builds';
import type { PackageService } from './packages';
import { RateLimiter } from './rate-limit';
import { RunQueue } from './run-queue';
import {
  checkIsolation,
  chooseBackend,
  type Backend
} from './runs/backend-choice';
import { removeContainers } from './runs/docker-containers';
import {
  RunExecutor,
  abandonReattachedJob,
  type SandboxNotices
} from './runs/execution';
import { storeInputs } from './runs/inputs';
import { openOutput, saveOutputs } from './runs/outputs';
import { recoverRuns } from './runs/recovery';
import { RunLog } from './runs/run-log';
import { SlurmArrays, heldForArray } from './runs/slurm-arrays';
import { toWire } from './runs/wire';

export interface RunServiceOptions {
  records: Records;
  blobs: BlobStore;
  logs: EventLogs;
  packages: PackageService;
  /** Makes a package's image (the CLI's `--image` names one instead). */
  builds: Pick<BuildService, 'ensure'>;
  workspace: string;
  /** Where the sandbox keeps unpacked packages and per-run trees. */
  stateDir: string;
  dockerSocket: string;
  concurrency: number;
  /** Runs a package may start per minute. */
  runsPerPackagePerMinute: number;
  /** Unpacks packages for the sandbox in reader processes (deadline, memory cap, stall timeout). */
  reader?: PackageReader;
  maxUploadBytes: number;
  /** Runs on a backend isolating less than files + network: started when accepted, or never. */
  weakIsolation?: WeakIsolationPolicy;
  /** Told what unpacking a package for the sandbox noticed (the CLI prints it). */
  sandboxNotices?: SandboxNotices;
  /** Folders of sandbox trees an administrator prepared (`reproserver prepare`), read-only. */
  sharedTrees?: readonly string[];
  /** Runs not ended (queued, building, running) the server takes at most; default 10,000. */
  maxQueuedRuns?: number;
  /** Told when a run this service executed has ended (its metrics are extracted then). */
  onRunEnded?: (id: string) => void;
  /**
   * A server shared by several users (runs have owners): the runs (or sweeps) one user may start
   * per minute, have executing at once, and have not ended. Unused for runs without an owner.
   */
  perUser?: { runsPerMinute: number; maxRunning: number; maxQueued: number };
}

/** The default cap on runs not ended: a few sweeps cannot fill the disk and the records. */
export const DEFAULT_MAX_QUEUED_RUNS = 10_000;

const UNENDED_STATUSES: readonly RunStatus[] = [
  'queued',
  'building',
  'running'
];

export class RunService {
  constructor(private readonly options: RunServiceOptions) {
    this.queue = new RunQueue(options.concurrency, id => this.execute(id), {
      perOwner: options.perUser?.maxRunning
    });
    this._limiter = new RateLimiter(options.runsPerPackagePerMinute, 60_000);
    this._userLimiter = new RateLimiter(
      options.perUser?.runsPerMinute ?? Infinity,
      60_000
    );
    this._docker = new Docker({ socketPath: options.dockerSocket });
    this._log = new RunLog(options.records, options.logs);
    this._executor = new RunExecutor({
      ...options,
      docker: this._docker,
      log: this._log
    });
    this._arrays = new SlurmArrays({
      ...options,
      log: this._log,
      enqueue: id =>
        this.queue.enqueue(
          id,
          this.options.records.getRun(id)?.owner ?? undefined
        )
    });
  }

  readonly queue: RunQueue;

  /**
   * Makes the records agree with the world after a (re)start (`runs/recovery.ts`), then queues
   * the re-attached runs and those still queued, oldest first.
   */
  async start(): Promise<void> {
    const { reattach, queue } = await recoverRuns({
      records: this.options.records,
      log: this._log,
      docker: this._docker,
      stateDir: this.options.stateDir
    });
    for (const [id, container] of reattach) {
      this._reattach.set(id, container);
    }
    // A Slurm sweep's runs not yet submitted wait for their array (`submitSweep`), not here.
    const held = new Set<string>();
    for (const id of queue) {
      const run = this.options.records.getRun(id);
      const sweep = run && this.options.records.sweeps.ofRun(id);
      if (run && sweep && heldForArray(this.options.records, run)) {
        held.add(sweep.sweepId);
      } else {
        this.queue.enqueue(
          id,
          this.options.records.getRun(id)?.owner ?? undefined
        );
      }
    }
    // Those of sweeps still being created are submitted when their creation ends (`sweeps.ts`).
    const creating = new Set(
      this.options.records.sweeps.creating().map(sweep => sweep.id)
    );
    for (const sweepId of held) {
      if (!creating.has(sweepId)) {
        void this.submitSweep(sweepId).catch(error =>
          console.error(
            `reproserver: the runs of sweep ${sweepId} could not be submitted to Slurm`,
            error
          )
        );
      }
    }
  }

  /**
   * Submits the runs of a sweep on Slurm created so far (held: `create`'s `hold`) as job arrays,
   * then queues them to be followed (`runs/slurm-arrays.ts`).
   */
  submitSweep(sweepId: string): Promise<void> {
    return this._arrays.submit(sweepId);
  }

  /** Cancels a sweep's Slurm arrays at once (one `scancel` each), before its runs are. */
  cancelSweepJobs(sweepId: string): Promise<void> {
    return this._arrays.cancel(sweepId);
  }

  /** Stops starting runs (graceful shutdown); running ones are left to the next start. */
  stop(): void {
    this.queue.pause();
  }

  /**
   * Queues a run. A sweep's variant (`variant`) was admitted once for the whole sweep (backend,
   * isolation consent, rate limit: `admit`), so each of its runs is not admitted again. `owner`:
   * the user creating it, on a shared server. `hold`: recorded but not queued, until its sweep's
   * runs go to Slurm as arrays (`submitSweep`).
   */
  async create(
    request: CreateRunRequest,
    variant?: { link: SweepLink; backend: Backend; hold?: boolean },
    owner?: string
  ): Promise<WireRun> {
    const pkg = this.options.packages.get(request.package);
    const backend = variant
      ? variant.backend
      : await this.admit(pkg.sha256, request, 1, owner);
    const { edits, inputs } = await storeInputs(
      request.edits ?? {},
      this.options
    );
    let plan;
    try {
      plan = planRun(pkg.model, edits, runDefaults());
    } catch (error) {
      if (error instanceof PlanError) {
        throw new DomainError(error.code, error.message);
      }
      throw error;
    }
    const run = this.options.records.createRun({
      packageSha256: pkg.sha256,
      edits,
      limits: plan.limits,
      backend,
      inputs,
      sweep: variant?.link,
      owner
    });
    await this._log.append(run.id, {
      type: 'status',
      time: Date.now(),
      status: 'queued'
    });
    // A queued run's log waits without a file descriptor: thousands may wait.
    await this.options.logs.release(run.id);
    if (!(variant?.hold && backend === 'slurm')) {
      this.queue.enqueue(run.id, owner);
    }
    return this.get(run.id);
  }

  /**
   * Whether runs of this package may start as asked: the backend chosen, the isolation accepted,
   * room for `count` more runs under the cap, one start taken from the package's rate limit. A
   * sweep is admitted once, as one start of all its runs. On a shared server (`owner`), the
   * user's own rate limit and cap on runs not ended are checked too.
   */
  async admit(
    packageSha256: string,
    request: Pick<CreateRunRequest, 'backend' | 'acceptWeakIsolation'>,
    count = 1,
    owner?: string
  ): Promise<Backend> {
    const backend = await chooseBackend(
      request.backend ?? 'auto',
      this.options.dockerSocket
    );
    await checkIsolation(
      backend,
      request.acceptWeakIsolation === true,
      this.options.weakIsolation
    );
    this._checkRoom(count);
    if (owner !== undefined) {
      this._checkUserRoom(owner, count);
      this._takeUserStart(owner);
    }
    if (!this._limiter.take(packageSha256)) {
      throw new DomainError(
        'too-many-runs',
        `This package was started ${this.options.runsPerPackagePerMinute} times in the last minute; wait a little.`
      );
    }
    return backend;
  }

  /**
   * The run. `owner` (a shared server's request): only that user's run is found; another user's
   * is "not found" as an unknown id is, so that ids do not tell what exists.
   */
  get(id: string, owner?: string): WireRun {
    return toWire(this.options.records, this._record(id, owner));
  }

  list(packageSha256?: string, owner?: string): WireRun[] {
    return this.options.records
      .listRuns({ packageSha256, owner, limit: 200 })
      .map(run => toWire(this.options.records, run));
  }

  async cancel(id: string, owner?: string): Promise<WireRun> {
    const run = this._record(id, owner);
    if (FINAL_STATUSES.includes(run.status)) {
      throw new DomainError(
        'already-ended',
        `Run ${id} has already ended (${run.status}).`
      );
    }
    const held =
      heldForArray(this.options.records, run) &&
      !this._executor.isExecuting(id);
    if (this.queue.remove(id) || held) {
      // Only a re-attached run waits in the queue with a container; asking the engine about every
      // other run (a sweep's thousand) would cost a request each, and the memory they churn.
      if (this._reattach.delete(id)) {
        await removeContainers(this._docker, id);
      }
      // A Slurm run waiting to be re-attached: its job still runs on the cluster.
      await abandonReattachedJob(run);
      await this._log.finish(
        id,
        {
          status: 'cancelled',
          reason: 'The run was cancelled before it started.'
        },
        !this._executor.isExecuting(id)
      );
    } else {
      await this._executor.abort(id);
    }
    return this.get(id);
  }

  async delete(id: string, owner?: string): Promise<void> {
    const run = this._record(id, owner);
    if (!FINAL_STATUSES.includes(run.status)) {
      await this.cancel(id);
    }
    const { orphanedBlobs } = this.options.records.deleteRun(id);
    await this.options.logs.delete(id);
    for (const sha256 of orphanedBlobs) {
      // A run created meanwhile may have stored the same bytes again.
      if (!this.options.records.isBlobReferenced(sha256)) {
        await this.options.blobs.delete(sha256);
      }
    }
  }

  /** The bytes of one output, streamed from the blob store. */
  async output(
    id: string,
    name: string,
    owner?: string
  ): Promise<{ body: Readable; size: number; name: string }> {
    this._record(id, owner);
    return openOutput(this.options, id, name);
  }

  /**
   * Writes a finished run's outputs into a workspace folder (default `<package>.runs/<run id>/`
   * beside the package). Existing files are never overwritten: they are reported as skipped.
   */
  async save(
    id: string,
    folder?: string,
    owner?: string
  ): Promise<SaveOutputsResponse> {
    const run = this._record(id, owner);
    if (!FINAL_STATUSES.includes(run.status)) {
      throw new DomainError(
        'not-ended',
        `Run ${id} has not ended yet; save its outputs when it has.`
      );
    }
    const pkg = this.options.packages.get(run.packageSha256);
    return saveOutputs(this.options, id, pkg, folder);
  }

  /** Waits until every queued and running run has ended (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async execute(id: string): Promise<void> {
    const run = this._record(id);
    const container = this._reattach.get(id);
    this._reattach.delete(id);
    await this._executor.execute(run, container);
    this.options.onRunEnded?.(id);
  }

  /**
   * Refuses `count` more runs when they would take the runs not ended past the cap; the runs
   * that sweeps still have to create (in the background) count as taken.
   */
  private _checkRoom(count: number): void {
    const { records } = this.options;
    const cap = this.options.maxQueuedRuns ?? DEFAULT_MAX_QUEUED_RUNS;
    const taken =
      records.countRunsInStatuses(UNENDED_STATUSES) +
      records.sweeps.creating().reduce((n, sweep) => n + sweep.missing, 0);
    if (taken + count > cap) {
      throw new DomainError(
        'queue-full',
        `The server has ${taken} runs queued or running and takes at most ${cap}${count > 1 ? `, so not these ${count}` : ''}; wait for some to end or cancel some.`
      );
    }
  }

  /**
   * Refuses `count` more runs of one user past the per-user cap on runs not ended; the runs their
   * sweeps still have to create count as taken.
   */
  private _checkUserRoom(owner: string, count: number): void {
    const { records } = this.options;
    const cap = this.options.perUser?.maxQueued ?? Infinity;
    const taken =
      records.countRunsInStatuses(UNENDED_STATUSES, owner) +
      records.sweeps
        .creating()
        .reduce(
          (n, sweep) => n + (sweep.owner === owner ? sweep.missing : 0),
          0
        );
    if (taken + count > cap) {
      throw new DomainError(
        'user-queue-full',
        `You have ${taken} runs queued or running and this server takes at most ${cap} per user${count > 1 ? `, so not these ${count} more` : ''}; cancel some, or wait for them to end.`
      );
    }
  }

  /** Takes one start from the user's rate limit, or refuses with how long to wait. */
  private _takeUserStart(owner: string): void {
    if (this._userLimiter.take(owner)) {
      return;
    }
    const seconds = Math.max(
      1,
      Math.ceil(this._userLimiter.retryAfterMs(owner) / 1000)
    );
    const limit = this._userLimiter.limit;
    throw new RetryLaterError(
      'rate-limited',
      `You started ${limit} ${limit === 1 ? 'run' : 'runs'} in the last minute, the most this server allows per user; try again in ${seconds} s.`,
      seconds
    );
  }

  private _record(id: string, owner?: string): RunRecord {
    const run = /^[A-Za-z0-9_-]{1,64}$/.test(id)
      ? this.options.records.getRun(id)
      : undefined;
    // Another user's run answers exactly as an unknown one.
    if (!run || (owner !== undefined && run.owner !== owner)) {
      throw notFound(`Run ${id}`);
    }
    return run;
  }

  private readonly _limiter: RateLimiter;
  /** Starts per user (a shared server); a sweep is one start. */
  private readonly _userLimiter: RateLimiter;
  private readonly _docker: Docker;
  private readonly _log: RunLog;
  private readonly _executor: RunExecutor;
  private readonly _arrays: SlurmArrays;
  /** Docker runs found running at start, waiting in the queue to be re-attached. */
  private readonly _reattach = new Map<string, Docker.Container>();
}
