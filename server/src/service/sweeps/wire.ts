/** A sweep's record as the API answers it: one row per variant, from its run's record. */
import type { MetricSpec } from '../../contract/schemas/metrics';
import type {
  SweepRecord,
  SweepSpec,
  SweepSummary,
  SweepVariantRow
} from '../../contract/schemas/sweeps';
import { FINAL_STATUSES, type RunStatus } from '../../runs/events';
import type { Records } from '../../store/records';
import type { SweepRow, SweepVariantRecord } from '../../store/sweep-records';

const iso = (t: number | null): string | null =>
  t === null ? null : new Date(t).toISOString();

/**
 * The sweep with its counts by status (`byStatus`: as `records.sweeps.counts` gives them, the
 * default; the service passes those its change tracking keeps).
 */
export function sweepSummary(
  records: Records,
  sweep: SweepRow,
  byStatus: Map<RunStatus | null, number> = records.sweeps.counts(sweep.id)
): SweepSummary {
  const spec = sweep.spec as SweepSpec;
  const counts: Record<string, number> = {};
  let ended = true;
  let created = 0;
  for (const [status, n] of byStatus) {
    counts[status ?? 'deleted'] = n;
    created += n;
    if (status !== null && !FINAL_STATUSES.includes(status)) {
      ended = false;
    }
  }
  // The runs not created yet are created in the background (until a cancel).
  const creating = sweep.cancelledAt === null && created < sweep.variants;
  return {
    id: sweep.id,
    package: sweep.packageSha256,
    packageName:
      records.getPackage(sweep.packageSha256)?.name ?? sweep.packageSha256,
    combine: sweep.combine,
    axes: spec.axes,
    backend:
      sweep.backend === 'docker' ||
      sweep.backend === 'sandbox' ||
      sweep.backend === 'slurm'
        ? sweep.backend
        : null,
    createdAt: new Date(sweep.createdAt).toISOString(),
    cancelledAt: iso(sweep.cancelledAt),
    total: sweep.variants,
    counts,
    ended: ended && !creating,
    creating
  };
}

/** Which rows an answer has, and the sweep's counts by status if the caller has them. */
export interface SweepRows {
  /** Where the rows stood when they were read (`SweepChanges.revision`). */
  revision: string;
  /** Only the rows changed since the revision the client gave. */
  incremental?: boolean;
  counts?: Map<RunStatus | null, number>;
}

/**
 * The sweep with the rows given: every row, or (`incremental`) those changed since the revision
 * the client gave; `revision` is where the rows stood before they were read.
 */
export function sweepToWire(
  records: Records,
  sweep: SweepRow,
  variants: SweepVariantRecord[],
  rows: SweepRows
): SweepRecord {
  const head = sweepHead(records, sweep, rows);
  return { ...head, variants: wireRows(records, head.metrics, variants) };
}

/** The sweep without its rows (`variants` empty): what `wireRows` are added to. */
export function sweepHead(
  records: Records,
  sweep: SweepRow,
  rows: SweepRows
): SweepRecord {
  return {
    ...sweepSummary(records, sweep, rows.counts),
    edits: (sweep.spec as SweepSpec).edits ?? {},
    // The package's metrics as they are now: a column each, filled as runs' values are extracted.
    metrics: records.metrics.specsOf(sweep.packageSha256),
    revision: rows.revision,
    ...(rows.incremental ? { incremental: true } : {}),
    variants: []
  };
}

/** Variants as the table's rows, with their values of the package's metrics. */
export function wireRows(
  records: Records,
  metrics: MetricSpec[],
  variants: SweepVariantRecord[]
): SweepVariantRow[] {
  const none = Object.fromEntries(metrics.map(m => [m.name, null]));
  return variants.map(variant => ({
    ...variantRow(variant),
    metrics:
      // No metrics, no query (10,000 rows: 15 ms saved).
      variant.runId === null || metrics.length === 0
        ? { ...none }
        : records.metrics.valuesOf(variant.runId, metrics)
  }));
}

function variantRow(variant: SweepVariantRecord): SweepVariantRow {
  const failed =
    variant.failedStep === null
      ? undefined
      : variant.steps.find(step => step.index === variant.failedStep);
  const ran = variant.steps.filter(step => step.exitCode !== null);
  return {
    id: variant.variant,
    values: variant.values,
    run: variant.runId,
    status: variant.status,
    exitCode: (failed ?? ran[ran.length - 1])?.exitCode ?? null,
    durationMs:
      variant.startedAt !== null && variant.endedAt !== null
        ? variant.endedAt - variant.startedAt
        : null,
    metrics: {}
  };
}
