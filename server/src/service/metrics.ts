/**
 * Metrics as the API and the CLI see them: a package's remembered list (checked, then stored),
 * and each run's values, extracted once when the run ends and again for all of a package's
 * ended runs when its list changes. Extraction runs in the background, a few runs at a time
 * (`concurrency`), each one streaming its log and outputs (`metrics/extract.ts`): no request
 * waits for it, and the event loop is never held by it.
 */
import type { MetricList, MetricSpec } from '../contract/schemas/metrics';
import { notFound } from '../errors';
import { extractMetrics, type RunSources } from '../metrics/extract';
import { checkMetrics } from '../metrics/validate';
import { FINAL_STATUSES } from '../runs/events';
import type { BlobStore, EventLogs } from '../store';
import { specKey } from '../store/metric-records';
import type { Records } from '../store/records';

export interface MetricServiceOptions {
  records: Records;
  blobs: BlobStore;
  logs: EventLogs;
  /** Runs extracted at once; default 2. */
  concurrency?: number;
  /** Passed to the extraction (tests shorten it). */
  regexTimeMs?: number;
}

export class MetricService {
  constructor(private readonly options: MetricServiceOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? 2);
  }

  /** The package's remembered metrics. */
  get(packageSha256: string): MetricList {
    this.checkPackage(packageSha256);
    return { metrics: this.options.records.metrics.specsOf(packageSha256) };
  }

  /**
   * Remembers the package's metrics (checked: `bad-metric`), then extracts them again for every
   * ended run of the package, in the background.
   */
  set(packageSha256: string, list: MetricList): MetricList {
    this.checkPackage(packageSha256);
    const specs = checkMetrics(list.metrics);
    this.options.records.metrics.setSpecs(packageSha256, specs);
    void this.scheduleEnded(packageSha256);
    return { metrics: specs };
  }

  /**
   * After a (re)start: every ended run of a package with metrics is looked at again, in the
   * background, so a run that ended while no extraction could happen (a stop mid-extraction, a run
   * ended by the restart's recovery) gets its values. Runs whose values are stored cost a query.
   */
  resume(): void {
    for (const sha256 of this.options.records.metrics.packagesWithSpecs()) {
      void this.scheduleEnded(sha256);
    }
  }

  /** Schedules every ended run of the package, a page at a time (the event loop breathes). */
  private async scheduleEnded(packageSha256: string): Promise<void> {
    this.scanning++;
    try {
      await this.scanEnded(packageSha256);
    } catch (error) {
      console.error(
        `reproserver: cannot list the runs of package ${packageSha256} for their metrics`,
        error
      );
    } finally {
      this.scanning--;
      this.wakeIfIdle();
    }
  }

  private async scanEnded(packageSha256: string): Promise<void> {
    let before: string | undefined;
    for (;;) {
      const page = this.options.records.listRuns({
        packageSha256,
        limit: 500,
        before
      });
      for (const run of page) {
        if (FINAL_STATUSES.includes(run.status)) {
          this.schedule(run.id);
        }
      }
      if (page.length < 500) {
        break;
      }
      before = page[page.length - 1].id;
      await new Promise(resolve => setImmediate(resolve));
    }
  }

  /** A run has ended: its values are extracted in the background. */
  runEnded(runId: string): void {
    this.schedule(runId);
  }

  /** Resolves once no extraction is queued or going on (the CLI, tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0 || this.active > 0 || this.scanning > 0) {
      await new Promise<void>(resolve => this.waiters.push(resolve));
    }
  }

  private schedule(runId: string): void {
    if (this.running.has(runId)) {
      // Extracting with the specs of before: go again once done.
      this.again.add(runId);
      return;
    }
    this.pending.add(runId);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.pending.size > 0) {
      const runId = this.pending.values().next().value!;
      this.pending.delete(runId);
      this.active++;
      this.running.add(runId);
      void this.extract(runId)
        .catch(error =>
          console.error(
            `reproserver: cannot extract the metrics of run ${runId}`,
            error
          )
        )
        .finally(() => {
          this.active--;
          this.running.delete(runId);
          if (this.again.delete(runId)) {
            this.pending.add(runId);
          }
          this.pump();
          this.wakeIfIdle();
        });
    }
  }

  private wakeIfIdle(): void {
    if (this.pending.size === 0 && this.active === 0 && this.scanning === 0) {
      for (const wake of this.waiters.splice(0)) {
        wake();
      }
    }
  }

  /** Extracts the run's metrics that are not stored yet for their current spec. */
  private async extract(runId: string): Promise<void> {
    const { records } = this.options;
    const run = records.getRun(runId);
    if (!run || !FINAL_STATUSES.includes(run.status)) {
      return;
    }
    const specs = records.metrics.specsOf(run.packageSha256);
    const stored = records.metrics.storedKeys(runId);
    const missing = specs.filter(spec => !stored.has(specKey(spec)));
    let values: Record<string, number | null> = {};
    if (missing.length > 0) {
      values = await extractMetrics(missing, this.sources(runId), {
        regexTimeMs: this.options.regexTimeMs
      });
    }
    // The list may have changed meanwhile: keep only what the current list still asks for.
    const current = records.metrics.specsOf(run.packageSha256);
    const keep = new Set(current.map(specKey));
    const extracted: { spec: MetricSpec; value: number | null }[] = missing
      .filter(spec => keep.has(specKey(spec)))
      .map(spec => ({ spec, value: values[spec.name] ?? null }));
    records.metrics.store(runId, extracted, keep);
  }

  private sources(runId: string): RunSources {
    const { records, blobs, logs } = this.options;
    return {
      eventLogPath: logs.pathOf(runId),
      openOutput: async name => {
        const outputs = records.listOutputs(runId);
        // By name first (a declared output), else by its path in the run.
        const output =
          outputs.find(o => o.kind === 'declared' && o.name === name) ??
          outputs.find(o => o.path === name || o.name === name);
        if (!output) {
          return undefined;
        }
        return { body: await blobs.get(output.sha256), size: output.size };
      }
    };
  }

  private checkPackage(packageSha256: string): void {
    if (
      !/^[0-9a-f]{64}$/.test(packageSha256) ||
      !this.options.records.getPackage(packageSha256)
    ) {
      throw notFound(`Package ${packageSha256}`);
    }
  }

  private readonly concurrency: number;
  private readonly pending = new Set<string>();
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();
  private readonly waiters: (() => void)[] = [];
  private active = 0;
  /** Listings of a package's ended runs going on. */
  private scanning = 0;
}
