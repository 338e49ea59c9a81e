/**
 * Sweeps as the API and the CLI see them: a spec is checked and expanded whole (`sweeps/`), its
 * input files stored once, the sweep recorded (with the blobs of those files), then each
 * variant's run created through `RunService.create` (the normal queue, concurrency limit, image
 * and unpacked tree of the package).
 *
 * The first few runs are created before `create` answers; the others in the background, a batch
 * at a time with the event loop free in between (10,000 runs take seconds; the API answers
 * meanwhile). A sweep's progress is read from its runs' records, and so is its creation's: a
 * restarted server creates the runs of the variants that have none (`start`). A variant has at
 * most one run: its row's key (sweep, position) is inserted with the run, in one transaction.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type {
  SweepAxis,
  SweepRecord,
  SweepSpec,
  SweepSummary
} from '../contract/schemas/sweeps';
import { errorMessage } from '../describe';
import { DomainError, notFound } from '../errors';
import type { InputSource, RunEdits } from '../runs/edits';
import { FINAL_STATUSES } from '../runs/events';
import { SWEEP_BOUNDS } from '../sweeps/bounds';
import { countVariants } from '../sweeps/count';
import { expandSweep, type Variant } from '../sweeps/expand';
import { BlobTooLargeError, newRunId, type BlobStore } from '../store';
import type { Records } from '../store/records';
import { SweepChanges } from '../store/sweep-changes';
import type { SweepRow } from '../store/sweep-records';
import type { Backend } from './runs/backend-choice';
import type { PackageService } from './packages';
import type { RunService } from './runs';
import { storeWorkspaceFile } from './runs/inputs';
import { resolveFiles } from './sweeps/files';
import { sweepHead, sweepSummary, sweepToWire, wireRows } from './sweeps/wire';

export interface SweepServiceOptions {
  records: Records;
  blobs: BlobStore;
  packages: Pick<PackageService, 'get'>;
  runs: Pick<RunService, 'admit' | 'create' | 'cancel'> &
    Partial<Pick<RunService, 'submitSweep' | 'cancelSweepJobs'>>;
  workspace: string;
  maxUploadBytes: number;
  /**
   * Where input files come from: workspace paths (the API, checked), or host files (the CLI,
   * whose user names them on their own machine).
   */
  inputFiles?: 'workspace' | 'host';
  /** Runs created before `create` answers; the others are created in the background. */
  firstBatch?: number;
}

/** Runs created between two turns of the event loop. */
const BATCH = 25;
/** Rows of a sweep read between two turns of the event loop (`read`): a few ms of work. */
const ROWS_AT_ONCE = 500;
/** Runs cancelled together when a sweep is cancelled. */
const CANCELS_AT_ONCE = 16;

export class SweepService {
  constructor(private readonly options: SweepServiceOptions) {
    this._changes = new SweepChanges(options.records.db);
  }

  /**
   * Checks, expands and records the sweep, creates the first runs, and answers; the other runs
   * are created in the background. Nothing is recorded unless every variant is a valid run and
   * the queue has room for them all; a cancel stops the creation.
   */
  async create(request: SweepSpec, owner?: string): Promise<SweepRecord> {
    const pkg = this.options.packages.get(request.package);
    if (request.axes.length === 0 || request.axes.length > SWEEP_BOUNDS.axes) {
      // Refused (by the count) before any glob is walked.
      countVariants(request);
    }
    const spec: SweepSpec = {
      ...request,
      combine: request.combine ?? 'grid',
      axes: await Promise.all(request.axes.map(axis => this.resolveAxis(axis)))
    };
    const variants = this.expand(spec);
    // One start of the user's rate limit; every variant counts against their runs not ended.
    const backend = await this.options.runs.admit(
      pkg.sha256,
      request,
      variants.length,
      owner
    );
    const stored = await this.storeInputs(variants);
    const sweep = this.options.records.sweeps.create({
      id: newRunId(),
      packageSha256: pkg.sha256,
      spec,
      storedInputs: Object.fromEntries(
        [...stored].map(([key, source]) => [key, sha256Of(source)])
      ),
      combine: spec.combine!,
      variants: variants.length,
      backend,
      owner
    });
    const first = this.options.firstBatch ?? BATCH;
    try {
      await this.createRuns(sweep, variants.slice(0, first), false);
    } catch (error) {
      // Not a sweep asked for: the runs created so far go too.
      this.options.records.sweeps.cancel(sweep.id);
      await this.cancelRuns(sweep.id).catch(() => undefined);
      throw error;
    }
    // The rest in the background (and, on Slurm, the arrays once all are created).
    this.createInBackground(sweep, variants.slice(first));
    return this.get(sweep.id);
  }

  /**
   * Goes on creating the runs of the sweeps an earlier server was still creating (the variants
   * without a run), in the background.
   */
  start(): void {
    for (const { id } of this.options.records.sweeps.creating()) {
      const sweep = this.options.records.sweeps.get(id)!;
      let variants: Variant[];
      try {
        variants = this.expand(sweep.spec as SweepSpec);
      } catch (error) {
        // The package or its model changed under the sweep: no run of it can be made now.
        void this.stopCreating(sweep.id, error);
        continue;
      }
      const created = this.options.records.sweeps.createdPositions(id);
      this.createInBackground(
        sweep,
        variants.filter(v => !created.has(v.position))
      );
    }
  }

  /** Stops creating runs (the server stops); resolves once no run is being created. */
  async stop(): Promise<void> {
    this._stopping = true;
    await Promise.all(this._creations.values());
  }

  /** Resolves when no sweep has runs left to create in this process (tests, the CLI). */
  async created(): Promise<void> {
    while (this._creations.size > 0) {
      await Promise.all(this._creations.values());
    }
  }

  private expand(spec: SweepSpec): Variant[] {
    const pkg = this.options.packages.get(spec.package);
    const host = this.options.inputFiles === 'host';
    return expandSweep(spec, pkg.model, {
      inputSource: path =>
        host ? { kind: 'file', path } : { kind: 'workspace', path }
    }).variants;
  }

  private createInBackground(sweep: SweepRow, variants: Variant[]): void {
    if (variants.length === 0 && sweep.backend !== 'slurm') {
      return;
    }
    const creation = this.createRuns(sweep, variants, true)
      .then(() => this.submitArrays(sweep))
      .catch(error => this.stopCreating(sweep.id, error))
      .finally(() => this._creations.delete(sweep.id));
    this._creations.set(sweep.id, creation);
  }

  /**
   * Creates the variants' runs in order, each with the sweep's stored inputs, until the sweep is
   * cancelled or the server stops. `yielding`: a turn of the event loop every BATCH runs.
   */
  private async createRuns(
    sweep: SweepRow,
    variants: Variant[],
    yielding: boolean
  ): Promise<void> {
    const stored = new Map(
      Object.entries(sweep.storedInputs).map(([key, sha256]) => [
        key,
        { kind: 'blob', sha256 } as InputSource
      ])
    );
    const request = sweep.spec as SweepSpec;
    for (let i = 0; i < variants.length; i++) {
      if (yielding && i % BATCH === 0 && i > 0) {
        await yieldToEventLoop();
      }
      if (this._stopping || this.cancelled(sweep.id)) {
        return;
      }
      const variant = variants[i];
      const run = await this.options.runs.create(
        {
          package: sweep.packageSha256,
          edits: withStoredInputs(variant.edits, stored),
          backend: sweep.backend as Backend,
          acceptWeakIsolation: request.acceptWeakIsolation
        },
        {
          backend: sweep.backend as Backend,
          // On Slurm, held until the sweep's runs are all created, then submitted as arrays.
          hold: sweep.backend === 'slurm',
          link: {
            sweepId: sweep.id,
            variant: variant.id,
            position: variant.position,
            values: variant.values
          }
        },
        sweep.owner ?? undefined
      );
      if (this.cancelled(sweep.id)) {
        // Cancelled while this run was being created: the cancel may not have seen it.
        await this.cancelRun(run.id);
        return;
      }
    }
  }

  /**
   * A sweep on Slurm: its runs, all created, go to the cluster as job arrays (`runs/
   * slurm-arrays.ts`); a sweep cancelled meanwhile or a server stopping submits nothing (a
   * restarted server submits what is left).
   */
  private async submitArrays(sweep: SweepRow): Promise<void> {
    if (
      sweep.backend === 'slurm' &&
      !this._stopping &&
      !this.cancelled(sweep.id)
    ) {
      await this.options.runs.submitSweep?.(sweep.id);
    }
  }

  /** A creation that failed: the sweep is cancelled (its runs so far too), and the log says why. */
  private async stopCreating(id: string, error: unknown): Promise<void> {
    console.error(
      `reproserver: the runs of sweep ${id} could not all be created (${errorMessage(error)}); it is cancelled.`
    );
    this.options.records.sweeps.cancel(id);
    await this.cancelRuns(id).catch(() => undefined);
  }

  /** The sweep; `owner` (a shared server): only that user's, another's is not found. */
  get(id: string, owner?: string): SweepRecord {
    const sweep = this._row(id, owner);
    return sweepToWire(
      this.options.records,
      sweep,
      this.options.records.sweeps.variants(id),
      { revision: this._changes.revision(), counts: this._changes.counts(id) }
    );
  }

  /**
   * The sweep as `GET /api/sweeps/{id}` answers it, without holding the event loop however many
   * rows it has: with `since` (the `revision` of an earlier answer, from this process), only the
   * rows created or changed after it; else every row, read ROWS_AT_ONCE at a time with a turn of
   * the event loop in between (10,000 rows: ~80 ms of work, in slices of a few ms).
   */
  async read(id: string, owner?: string, since?: string): Promise<SweepRecord> {
    const sweep = this._row(id, owner);
    const records = this.options.records;
    // Read before the rows: a row changed while they are read is answered again next time.
    const revision = this._changes.revision();
    const counts = this._changes.counts(id);
    const changed =
      since === undefined ? undefined : this._changes.since(id, since);
    if (changed) {
      return sweepToWire(records, sweep, changed, {
        revision,
        counts,
        incremental: true
      });
    }
    const record = sweepHead(records, sweep, { revision, counts });
    let page = records.sweeps.variantsFrom(id, 0, ROWS_AT_ONCE);
    record.variants.push(...wireRows(records, record.metrics, page));
    while (page.length === ROWS_AT_ONCE) {
      await yieldToEventLoop();
      const from = page[page.length - 1].position + 1;
      page = records.sweeps.variantsFrom(id, from, ROWS_AT_ONCE);
      record.variants.push(...wireRows(records, record.metrics, page));
    }
    return record;
  }

  /** Newest first, without their variants' rows. */
  list(packageSha256?: string, owner?: string): SweepSummary[] {
    return this.options.records.sweeps
      .list({ packageSha256, owner, limit: 100 })
      .map(sweep =>
        sweepSummary(
          this.options.records,
          sweep,
          this._changes.counts(sweep.id)
        )
      );
  }

  /**
   * Stops a creation still going on, then cancels every run of the sweep that has not ended (the
   * queued ones first, so that none starts meanwhile).
   */
  async cancel(id: string, owner?: string): Promise<SweepRecord> {
    const sweep = this._row(id, owner);
    const newlyCancelled = this.options.records.sweeps.cancel(id);
    // Stops after the run being created, if any: every run of the sweep is then in the records.
    await this._creations.get(id);
    // On Slurm, its arrays cancelled whole first: one scancel each, not one per run.
    if (sweep.backend === 'slurm') {
      await this.options.runs.cancelSweepJobs?.(id);
    }
    const cancelled = await this.cancelRuns(id);
    if (!newlyCancelled && cancelled === 0) {
      throw new DomainError(
        'already-ended',
        `Sweep ${sweep.id} has already ended.`
      );
    }
    return this.get(id);
  }

  /** Cancels the sweep's runs not ended, the last queued first; answers how many. */
  private async cancelRuns(id: string): Promise<number> {
    const unended = this.options.records.sweeps
      .variants(id)
      .filter(v => v.runId !== null && !isFinal(v.status))
      .reverse();
    // A few at a time: each ends its run's log (written and synced), disk waits that overlap.
    for (let at = 0; at < unended.length; at += CANCELS_AT_ONCE) {
      await Promise.all(
        unended
          .slice(at, at + CANCELS_AT_ONCE)
          .map(variant => this.cancelRun(variant.runId!))
      );
    }
    return unended.length;
  }

  private cancelled(id: string): boolean {
    return this.options.records.sweeps.isCancelled(id);
  }

  /** Cancels one run of a sweep, unless it ended meanwhile. */
  private async cancelRun(id: string): Promise<void> {
    try {
      await this.options.runs.cancel(id);
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'already-ended')) {
        throw error;
      }
    }
  }

  /** A glob or folder axis, as the files it names (in the workspace only). */
  private async resolveAxis(axis: SweepAxis): Promise<SweepAxis> {
    if (axis.values.kind !== 'glob') {
      return axis;
    }
    if (this.options.inputFiles === 'host') {
      throw new DomainError(
        'bad-sweep',
        'Globs are resolved by the client here: give the files.'
      );
    }
    return {
      field: axis.field,
      values: {
        kind: 'files',
        paths: await resolveFiles(axis.values.pattern, {
          workspace: this.options.workspace
        })
      }
    };
  }

  /**
   * Stores every distinct input file of the variants once (a file in many variants is hashed
   * once), and answers each one's blob by its source.
   */
  private async storeInputs(
    variants: Variant[]
  ): Promise<Map<string, InputSource>> {
    const stored = new Map<string, InputSource>();
    for (const variant of variants) {
      for (const { name, source } of variant.edits.inputs ?? []) {
        const key = sourceKey(source);
        if (stored.has(key) || source.kind === 'blob') {
          continue;
        }
        const { sha256 } =
          source.kind === 'workspace'
            ? await storeWorkspaceFile(name, source.path, this.options)
            : await this.storeHostFile(name, source.path);
        stored.set(key, { kind: 'blob', sha256 });
      }
    }
    return stored;
  }

  private async storeHostFile(
    name: string,
    path: string
  ): Promise<{ sha256: string }> {
    if (this.options.inputFiles !== 'host') {
      throw new DomainError(
        'bad-input',
        `The input "${name}" must come from the workspace or an upload.`
      );
    }
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      throw new DomainError(
        'not-a-file',
        `The file for input "${name}" cannot be read: ${path}`
      );
    }
    try {
      return await this.options.blobs.put(createReadStream(path), {
        maxBytes: this.options.maxUploadBytes
      });
    } catch (error) {
      if (error instanceof BlobTooLargeError) {
        throw new DomainError('too-large', error.message);
      }
      throw error;
    }
  }

  /** Which rows changed since a revision: what a poll (`get(id, owner, since)`) answers. */
  private readonly _changes: SweepChanges;
  private readonly _creations = new Map<string, Promise<void>>();
  private _stopping = false;

  private _row(id: string, owner?: string): SweepRow {
    const sweep = /^[A-Za-z0-9_-]{1,64}$/.test(id)
      ? this.options.records.sweeps.get(id)
      : undefined;
    if (!sweep || (owner !== undefined && sweep.owner !== owner)) {
      throw notFound(`Sweep ${id}`);
    }
    return sweep;
  }
}

const isFinal = (status: string | null): boolean =>
  status === null || (FINAL_STATUSES as readonly string[]).includes(status);

function sha256Of(source: InputSource): string {
  if (source.kind !== 'blob') {
    throw new Error('Stored inputs are blobs.');
  }
  return source.sha256;
}

function sourceKey(source: InputSource): string {
  return source.kind === 'blob'
    ? `blob:${source.sha256}`
    : `${source.kind}:${source.path}`;
}

function withStoredInputs(
  edits: RunEdits,
  stored: Map<string, InputSource>
): RunEdits {
  if (!edits.inputs) {
    return edits;
  }
  return {
    ...edits,
    inputs: edits.inputs.map(({ name, source }) => ({
      name,
      source: stored.get(sourceKey(source)) ?? source
    }))
  };
}
