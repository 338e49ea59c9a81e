/**
 * Sweeps as the API and the CLI see them: a spec is checked and expanded whole (`sweeps/`), its
 * input files stored once, the sweep recorded, then each variant's run created through
 * `RunService.create` (the normal queue, concurrency limit, image and unpacked tree of the
 * package). A sweep's progress is read from its runs' records, so a restarted server has nothing
 * to recover beyond the runs themselves.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type {
  SweepAxis,
  SweepRecord,
  SweepSpec,
  SweepSummary
} from '../contract/schemas/sweeps';
import { DomainError, notFound } from '../errors';
import type { InputSource, RunEdits } from '../runs/edits';
import { FINAL_STATUSES } from '../runs/events';
import { SWEEP_BOUNDS } from '../sweeps/bounds';
import { countVariants } from '../sweeps/count';
import { expandSweep, type Variant } from '../sweeps/expand';
import { BlobTooLargeError, newRunId, type BlobStore } from '../store';
import type { Records } from '../store/records';
import type { SweepRow } from '../store/sweep-records';
import type { PackageService } from './packages';
import type { RunService } from './runs';
import { storeWorkspaceFile } from './runs/inputs';
import { resolveWorkspaceFiles } from './sweeps/files';
import { sweepSummary, sweepToWire } from './sweeps/wire';

export interface SweepServiceOptions {
  records: Records;
  blobs: BlobStore;
  packages: Pick<PackageService, 'get'>;
  runs: Pick<RunService, 'admit' | 'create' | 'cancel'>;
  workspace: string;
  maxUploadBytes: number;
  /**
   * Where input files come from: workspace paths (the API, checked), or host files (the CLI,
   * whose user names them on their own machine).
   */
  inputFiles?: 'workspace' | 'host';
}

export class SweepService {
  constructor(private readonly options: SweepServiceOptions) {}

  /**
   * Checks, expands and records the sweep, then creates each variant's run, in order. Nothing is
   * created unless every variant is a valid run; a cancel during the creation stops it.
   */
  async create(request: SweepSpec): Promise<SweepRecord> {
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
    const host = this.options.inputFiles === 'host';
    const { variants } = expandSweep(spec, pkg.model, {
      inputSource: path =>
        host ? { kind: 'file', path } : { kind: 'workspace', path }
    });
    const backend = await this.options.runs.admit(pkg.sha256, request);
    const stored = await this.storeInputs(variants);
    const sweep = this.options.records.sweeps.create({
      id: newRunId(),
      packageSha256: pkg.sha256,
      spec,
      combine: spec.combine!,
      variants: variants.length,
      backend
    });
    try {
      for (const variant of variants) {
        if (this.cancelled(sweep.id)) {
          break;
        }
        const run = await this.options.runs.create(
          {
            package: pkg.sha256,
            edits: withStoredInputs(variant.edits, stored),
            backend,
            acceptWeakIsolation: request.acceptWeakIsolation
          },
          {
            backend,
            link: {
              sweepId: sweep.id,
              variant: variant.id,
              position: variant.position,
              values: variant.values
            }
          }
        );
        if (this.cancelled(sweep.id)) {
          // Cancelled while this run was being created: the cancel did not see it.
          await this.cancelRun(run.id);
          break;
        }
      }
    } catch (error) {
      // Not a sweep asked for: the runs created so far go too.
      await this.cancel(sweep.id).catch(() => undefined);
      throw error;
    }
    return this.get(sweep.id);
  }

  get(id: string): SweepRecord {
    const sweep = this._row(id);
    return sweepToWire(
      this.options.records,
      sweep,
      this.options.records.sweeps.variants(id)
    );
  }

  /** Newest first, without their variants' rows. */
  list(packageSha256?: string): SweepSummary[] {
    return this.options.records.sweeps
      .list({ packageSha256, limit: 100 })
      .map(sweep => sweepSummary(this.options.records, sweep));
  }

  /**
   * Cancels every run of the sweep that has not ended (the queued ones first, so that none
   * starts meanwhile), and stops a creation still going on.
   */
  async cancel(id: string): Promise<SweepRecord> {
    const sweep = this._row(id);
    const newlyCancelled = this.options.records.sweeps.cancel(id);
    const unended = this.options.records.sweeps
      .variants(id)
      .filter(v => v.runId !== null && !isFinal(v.status))
      .reverse();
    if (!newlyCancelled && unended.length === 0) {
      throw new DomainError(
        'already-ended',
        `Sweep ${sweep.id} has already ended.`
      );
    }
    for (const variant of unended) {
      await this.cancelRun(variant.runId!);
    }
    return this.get(id);
  }

  private cancelled(id: string): boolean {
    return Boolean(this.options.records.sweeps.get(id)?.cancelledAt);
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
        paths: await resolveWorkspaceFiles(
          this.options.workspace,
          axis.values.pattern
        )
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

  private _row(id: string): SweepRow {
    const sweep = /^[A-Za-z0-9_-]{1,64}$/.test(id)
      ? this.options.records.sweeps.get(id)
      : undefined;
    if (!sweep) {
      throw notFound(`Sweep ${id}`);
    }
    return sweep;
  }
}

const isFinal = (status: string | null): boolean =>
  status === null || (FINAL_STATUSES as readonly string[]).includes(status);

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
