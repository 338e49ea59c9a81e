/**
 * Runs as the API sees them: created from a package and edits, queued, executed on a backend,
 * every event appended to the run's log on disk, records updated as events happen.
 */
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { DomainError, notFound } from '../errors';
import type {
  CreateRunRequest,
  RunRecord as WireRun,
  SaveOutputsResponse
} from '../contract/wire';
import { helperPath } from '../backends/docker/helper-path';
import { pingDocker } from '../backends/docker/ping';
import { runOnDocker, startedByOlderVersion } from '../backends/docker/runner';
import { sandboxIsolation } from '../backends/detect';
import {
  consentSentence,
  needsConsent,
  type WeakIsolationPolicy
} from '../backends/exposure';
import { detectSandbox } from '../backends/sandbox/detect';
import { runOnSandbox } from '../backends/sandbox/runner';
import { runDefaults } from '../runs/default-limits';
import type { InputSource, RunEdits } from '../runs/edits';
import { FINAL_STATUSES, type RunEvent, type RunStatus } from '../runs/events';
import { PlanError, planRun, type InputPlacement } from '../runs/plan';
import { LoggedEvents } from '../runs/replay';
import {
  applyRunEvent,
  outputOf,
  startSummary,
  stepRecord,
  type RunSummary
} from '../runs/summary';
import type { PackageReader } from '../rpz/worker';
import { prepareRootfs } from '../sandbox';
import {
  BlobTooLargeError,
  isSha256,
  type BlobStore,
  type EventLogs
} from '../store';
import type { InputRecord, Records, RunRecord } from '../store/records';
import {
  checkRelativePath,
  ensureFolder,
  resolveExisting,
  toWorkspacePath
} from '../workspace/paths';
import { BlobSink } from './blob-sink';
import type { BuildService } from './builds';
import type { PackageService } from './packages';
import { RateLimiter } from './rate-limit';
import { RunQueue } from './run-queue';
import { errorMessage } from '../describe';

export interface RunServiceOptions {
  records: Records;
  blobs: BlobStore;
  logs: EventLogs;
  packages: PackageService;
  builds: BuildService;
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
}

const ACTIVE_STATUSES: readonly RunStatus[] = ['building', 'running'];

export class RunService {
  constructor(private readonly options: RunServiceOptions) {
    this.queue = new RunQueue(options.concurrency, id => this.execute(id));
    this._limiter = new RateLimiter(options.runsPerPackagePerMinute, 60_000);
    this._docker = new Docker({ socketPath: options.dockerSocket });
  }

  readonly queue: RunQueue;

  /**
   * Makes the records agree with the world after a (re)start. A Docker run whose container is
   * still there is re-attached: its steps went on without us, and it goes on from where they
   * are (a finished container has its outputs collected). A run that was still preparing (its
   * image, its unpacked files) starts again. Any other run that was executing cannot be
   * recovered (the sandbox's processes stop with the server): it is marked interrupted. Queued
   * runs are queued again, after the re-attached ones, oldest first.
   */
  async start(): Promise<void> {
    const { records } = this.options;
    for (const run of records.listRunsInStatuses(ACTIVE_STATUSES)) {
      const container =
        run.backend === 'docker' ? await this._containerOf(run.id) : undefined;
      if (container) {
        if (await startedByOlderVersion(container).catch(() => false)) {
          // It writes into a host folder removed below: stopped first; ends as interrupted.
          await container.kill().catch(() => undefined);
        }
        this._reattach.set(run.id, container);
      } else if (run.status === 'building') {
        records.updateStatus(run.id, 'queued');
        await this._append(run.id, {
          type: 'status',
          time: Date.now(),
          status: 'queued',
          detail: 'The server restarted while this run was being prepared.'
        });
      } else {
        await this._finish(run.id, {
          status: 'interrupted',
          reason:
            run.backend === 'docker'
              ? 'The server stopped while this run was executing, and its container is gone. Its log up to then is kept.'
              : 'The server stopped while this run was executing in the sandbox, whose processes stop with it. Its log up to then is kept.'
        });
      }
    }
    await this._removeOldStepFolders();
    for (const id of this._reattach.keys()) {
      this.queue.enqueue(id);
    }
    for (const run of records.listRunsInStatuses(['queued'])) {
      this.queue.enqueue(run.id);
    }
  }

  /** Stops starting runs (graceful shutdown); running ones are left to the next start. */
  stop(): void {
    this.queue.pause();
  }

  async create(request: CreateRunRequest): Promise<WireRun> {
    const pkg = this.options.packages.get(request.package);
    const requested = request.backend ?? 'auto';
    if (!['auto', 'docker', 'sandbox'].includes(requested)) {
      throw new DomainError(
        'bad-backend',
        `Unknown backend "${requested}": use auto, docker or sandbox.`
      );
    }
    const backend = await this._chooseBackend(requested);
    await this._checkIsolation(backend, request.acceptWeakIsolation === true);
    if (!this._limiter.take(pkg.sha256)) {
      throw new DomainError(
        'too-many-runs',
        `This package was started ${this.options.runsPerPackagePerMinute} times in the last minute; wait a little.`
      );
    }
    const { edits, inputs } = await this._storeInputs(request.edits ?? {});
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
      inputs
    });
    await this._append(run.id, {
      type: 'status',
      time: Date.now(),
      status: 'queued'
    });
    this.queue.enqueue(run.id);
    return this.get(run.id);
  }

  get(id: string): WireRun {
    return this._toWire(this._record(id));
  }

  list(packageSha256?: string): WireRun[] {
    return this.options.records
      .listRuns({ packageSha256, limit: 200 })
      .map(run => this._toWire(run));
  }

  async cancel(id: string): Promise<WireRun> {
    const run = this._record(id);
    if (FINAL_STATUSES.includes(run.status)) {
      throw new DomainError(
        'already-ended',
        `Run ${id} has already ended (${run.status}).`
      );
    }
    if (this.queue.remove(id)) {
      this._reattach.delete(id);
      await this._removeContainers(id);
      await this._finish(id, {
        status: 'cancelled',
        reason: 'The run was cancelled before it started.'
      });
    } else {
      this._aborts.get(id)?.abort();
      await this._ended.get(id);
    }
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    const run = this._record(id);
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
    name: string
  ): Promise<{ body: Readable; size: number; name: string }> {
    this._record(id);
    // Changed files are named by their absolute path; declared outputs never start with a slash.
    const output = this.options.records.getOutput(
      id,
      name.startsWith('/') ? 'changed' : 'declared',
      name
    );
    if (!output) {
      throw notFound(`The output "${name}" of run ${id}`);
    }
    return {
      body: await this.options.blobs.get(output.sha256),
      size: output.size,
      name: output.name
    };
  }

  /**
   * Writes a finished run's outputs into a workspace folder (default `<package>.runs/<run id>/`
   * beside the package). Existing files are never overwritten: they are reported as skipped.
   */
  async save(id: string, folder?: string): Promise<SaveOutputsResponse> {
    const run = this._record(id);
    if (!FINAL_STATUSES.includes(run.status)) {
      throw new DomainError(
        'not-ended',
        `Run ${id} has not ended yet; save its outputs when it has.`
      );
    }
    const pkg = this.options.packages.get(run.packageSha256);
    const stem = pkg.name.replace(/\.rpz$/i, '');
    const beside =
      pkg.source.kind === 'workspace' ? posix.dirname(pkg.source.path) : '.';
    const target =
      folder !== undefined
        ? checkRelativePath(folder, 'folder')
        : posix.join(beside, `${stem}.runs`, id);
    const root = await ensureFolder(this.options.workspace, target);
    const files: string[] = [];
    const skipped: string[] = [];
    for (const output of this.options.records.listOutputs(id)) {
      const relative =
        output.kind === 'declared'
          ? output.name.replace(/[/\\\0]/g, '_').replace(/^\.\.?$/, '_$&')
          : posix.join('changed', posix.normalize('/' + output.path).slice(1));
      const folderOfFile = await ensureFolder(
        this.options.workspace,
        posix.join(target, posix.dirname(relative))
      );
      const file = join(folderOfFile, posix.basename(relative));
      let handle;
      try {
        handle = await open(file, 'wx', 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          skipped.push(await toWorkspacePath(this.options.workspace, file));
          continue;
        }
        throw error;
      }
      await pipeline(
        await this.options.blobs.get(output.sha256),
        handle.createWriteStream()
      );
      files.push(await toWorkspacePath(this.options.workspace, file));
    }
    return {
      folder: await toWorkspacePath(this.options.workspace, root),
      files,
      skipped
    };
  }

  /** Waits until every queued and running run has ended (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async execute(id: string): Promise<void> {
    const run = this._record(id);
    const container = this._reattach.get(id);
    this._reattach.delete(id);
    if (run.status !== 'queued' && !container) {
      return;
    }
    const abort = new AbortController();
    this._aborts.set(id, abort);
    let resolveEnded!: () => void;
    this._ended.set(id, new Promise(resolve => (resolveEnded = resolve)));
    const { records } = this.options;
    // What the events add up to (`runs/summary.ts`); the records follow it.
    const progress = {
      summary: startSummary(
        run.status,
        container ? run.steps : [],
        [],
        container ? run.missingOutputs : []
      )
    };
    try {
      const pkg = this.options.packages.get(run.packageSha256);
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
        signal: abort.signal,
        openInput: (input: InputPlacement) => this._openInput(input),
        onEvent
      };
      const docker = {
        docker: this._docker,
        helperPath: helperPath(),
        labels: { 'org.reproserver.run': id }
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
      await this._append(id, {
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
          abort.signal,
          'The package could not be unpacked',
          async () =>
            prepareRootfs(await this.options.packages.pathOf(pkg.sha256), {
              stateDir: this.options.stateDir,
              sha256: pkg.sha256,
              reader: this.options.reader
            })
        );
        if (!rootfs) {
          return;
        }
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
        abort.signal,
        'The image could not be made',
        () =>
          this.options.builds.ensure(
            pkg.sha256,
            build =>
              void this._append(id, { type: 'build', time: Date.now(), build })
          )
      );
      if (!image) {
        return;
      }
      records.setExecution(id, { backend: 'docker', image });
      await runOnDocker({ ...common, ...docker, image });
    } catch (error) {
      await this._finish(id, {
        status: 'error',
        reason: `The server failed to run it: ${errorMessage(error)}`
      });
    } finally {
      await this._appends.get(id);
      await this.options.logs.close(id);
      this._aborts.delete(id);
      this._appends.delete(id);
      resolveEnded();
      this._ended.delete(id);
    }
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
    let value: T;
    try {
      value = await work();
    } catch (error) {
      const reason = errorMessage(error);
      await this._finish(id, { status: 'error', reason: `${what}: ${reason}` });
      return undefined;
    }
    if (signal.aborted) {
      await this._finish(id, {
        status: 'cancelled',
        reason: 'The run was cancelled.'
      });
      return undefined;
    }
    return value;
  }

  /** Keeps the records in step with the events, then appends each to the log. */
  private _onRunEvent(
    id: string,
    event: RunEvent,
    progress: { summary: RunSummary }
  ): void {
    const { records } = this.options;
    const summary = applyRunEvent(progress.summary, event);
    progress.summary = summary;
    switch (event.type) {
      case 'status':
        records.updateStatus(id, event.status);
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
        records.updateStatus(id, event.status, {
          reason: summary.end?.reason ?? undefined,
          failedStep: summary.end?.failedStep ?? undefined
        });
        break;
    }
    void this._append(id, event);
  }

  private async _finish(
    id: string,
    end: { status: RunStatus; reason?: string; failedStep?: number }
  ): Promise<void> {
    this.options.records.updateStatus(id, end.status, {
      reason: end.reason,
      failedStep: end.failedStep
    });
    await this._append(id, {
      type: 'status',
      time: Date.now(),
      status: end.status
    });
    await this._append(id, { type: 'end', time: Date.now(), ...end });
    if (!this._aborts.has(id)) {
      await this.options.logs.close(id);
    }
  }

  /** Appends in order; the records keep the log's size so clients know where it ends. */
  private _append(id: string, event: RunEvent): Promise<void> {
    const previous = this._appends.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => this.options.logs.append(id, event))
      .then(size => this.options.records.setLogSize(id, size))
      .catch(error =>
        console.error(
          `reproserver: cannot append to the log of run ${id}`,
          error
        )
      );
    this._appends.set(id, next);
    return next;
  }

  /** Replacement inputs from the workspace are stored as blobs at once: the run is reproducible. */
  private async _storeInputs(
    edits: RunEdits
  ): Promise<{ edits: RunEdits; inputs: InputRecord[] }> {
    const inputs: InputRecord[] = [];
    const stored: { name: string; source: InputSource }[] = [];
    for (const input of edits.inputs ?? []) {
      let sha256: string;
      let size: number;
      if (input.source.kind === 'workspace') {
        const real = await resolveExisting(
          this.options.workspace,
          input.source.path,
          'input file'
        );
        if (!(await stat(real)).isFile()) {
          throw new DomainError(
            'not-a-file',
            `The input "${input.name}" is not a file: ${input.source.path}`
          );
        }
        try {
          ({ sha256, size } = await this.options.blobs.put(
            createReadStream(real),
            {
              maxBytes: this.options.maxUploadBytes
            }
          ));
        } catch (error) {
          if (error instanceof BlobTooLargeError) {
            throw new DomainError('too-large', error.message);
          }
          throw error;
        }
      } else if (input.source.kind === 'blob') {
        const info = isSha256(input.source.sha256)
          ? await this.options.blobs.stat(input.source.sha256)
          : undefined;
        if (!info) {
          throw new DomainError(
            'unknown-upload',
            `No uploaded file has the sha256 ${input.source.sha256}.`
          );
        }
        ({ sha256, size } = info);
      } else {
        throw new DomainError(
          'bad-input',
          `The input "${input.name}" must come from the workspace or an upload.`
        );
      }
      inputs.push({ name: input.name, sha256, size });
      stored.push({ name: input.name, source: { kind: 'blob', sha256 } });
    }
    return {
      edits: stored.length > 0 ? { ...edits, inputs: stored } : edits,
      inputs
    };
  }

  private async _openInput(
    input: InputPlacement
  ): Promise<{ body: Readable; size: number }> {
    if (input.source.kind !== 'blob') {
      throw new Error(`The input "${input.name}" was not stored.`);
    }
    const info = await this.options.blobs.stat(input.source.sha256);
    if (!info) {
      throw new Error(`The stored input "${input.name}" is gone.`);
    }
    return {
      body: await this.options.blobs.get(input.source.sha256),
      size: info.size
    };
  }

  /** `auto`: Docker when a daemon answers, else the sandbox; a named backend must work here. */
  private async _chooseBackend(
    requested: string
  ): Promise<'docker' | 'sandbox'> {
    const docker = await pingDocker(this.options.dockerSocket);
    if (docker.ok && requested !== 'sandbox') {
      return 'docker';
    }
    const dockerReason = docker.ok ? 'not chosen' : docker.reason;
    if (requested === 'docker') {
      throw new DomainError(
        'backend-unavailable',
        `Docker is unavailable: ${dockerReason}.`
      );
    }
    const sandbox = await detectSandbox();
    if (!sandbox.available) {
      throw new DomainError(
        'backend-unavailable',
        requested === 'auto'
          ? `No backend can run experiments here. Docker: ${dockerReason}. ${sandbox.detail}`
          : sandbox.detail
      );
    }
    return 'sandbox';
  }

  /**
   * A run on a backend that isolates less than files + network starts only when the user
   * accepted it, and never on a server configured to refuse such runs.
   */
  private async _checkIsolation(
    backend: 'docker' | 'sandbox',
    accepted: boolean
  ): Promise<void> {
    if (backend !== 'sandbox') {
      return;
    }
    const isolation = await sandboxIsolation(await detectSandbox());
    if (!needsConsent(isolation)) {
      return;
    }
    const sentence = consentSentence(backend, isolation);
    if ((this.options.weakIsolation ?? 'ask') === 'refuse') {
      throw new DomainError(
        'weak-isolation-refused',
        `${sentence} This server refuses such runs (--weak-isolation refuse): ask its administrator for Docker, or for a sandbox with Landlock or user namespaces.`
      );
    }
    if (!accepted) {
      throw new DomainError(
        'weak-isolation-consent',
        `${sentence} Run it only if you trust this package, and say so: the panel asks, \`reproserver run --allow-weak-isolation\`, or "acceptWeakIsolation": true in the request.`
      );
    }
  }

  /**
   * The host folder where an earlier version of the server had Docker runs write their steps'
   * logs and exit codes (this one keeps them inside the container). Removed at start, once the
   * containers that could write in it are stopped: without following links (`rm` unlinks a link
   * instead of entering it), and never stopping the start when a file will not go.
   */
  private async _removeOldStepFolders(): Promise<void> {
    const folder = join(this.options.stateDir, 'docker-steps');
    try {
      await rm(folder, { recursive: true, force: true });
    } catch (error) {
      console.error(
        `reproserver: cannot remove ${folder}, left by an earlier version (${errorMessage(error)}); remove it by hand.`
      );
    }
  }

  /** The container of a Docker run, if the engine still has it (running or not). */
  private async _containerOf(
    runId: string
  ): Promise<Docker.Container | undefined> {
    try {
      const [info] = await this._docker.listContainers({
        all: true,
        filters: { label: [`org.reproserver.run=${runId}`] }
      });
      return info ? this._docker.getContainer(info.Id) : undefined;
    } catch {
      return undefined;
    }
  }

  private async _removeContainers(runId: string): Promise<void> {
    try {
      const containers = await this._docker.listContainers({
        all: true,
        filters: { label: [`org.reproserver.run=${runId}`] }
      });
      for (const info of containers) {
        await this._docker.getContainer(info.Id).remove({ force: true });
      }
    } catch {
      // No engine: nothing of this run can be running there either.
    }
  }

  private _record(id: string): RunRecord {
    const run = /^[A-Za-z0-9_-]{1,64}$/.test(id)
      ? this.options.records.getRun(id)
      : undefined;
    if (!run) {
      throw notFound(`Run ${id}`);
    }
    return run;
  }

  private _toWire(run: RunRecord): WireRun {
    const pkg = this.options.records.getPackage(run.packageSha256);
    const iso = (t: number | null): string | null =>
      t === null ? null : new Date(t).toISOString();
    return {
      id: run.id,
      package: run.packageSha256,
      packageName: pkg?.name ?? run.packageSha256,
      status: run.status,
      backend:
        run.backend === 'docker' || run.backend === 'sandbox'
          ? run.backend
          : null,
      image: run.image,
      createdAt: new Date(run.createdAt).toISOString(),
      startedAt: iso(run.startedAt),
      endedAt: iso(run.endedAt),
      edits: run.edits,
      limits: run.limits,
      steps: run.steps,
      outputs: this.options.records
        .listOutputs(run.id)
        .map(({ name, path, kind, size, sha256 }) => ({
          name,
          path,
          kind,
          size,
          sha256
        })),
      missingOutputs: run.missingOutputs,
      failedStep: run.failedStep,
      reason: run.reason,
      eventsSize: run.logSize
    };
  }

  private readonly _limiter: RateLimiter;
  private readonly _docker: Docker;
  private readonly _aborts = new Map<string, AbortController>();
  private readonly _ended = new Map<string, Promise<void>>();
  private readonly _appends = new Map<string, Promise<void>>();
  /** Docker runs found running at start, waiting in the queue to be re-attached. */
  private readonly _reattach = new Map<string, Docker.Container>();
}
