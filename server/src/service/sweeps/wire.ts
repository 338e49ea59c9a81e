/** A sweep's record as the API answers it: one row per variant, from its run's record. */
import type {
  SweepRecord,
  SweepSpec,
  SweepSummary,
  SweepVariantRow
} from '../../contract/schemas/sweeps';
import { FINAL_STATUSES } from '../../runs/events';
import type { Records } from '../../store/records';
import type { SweepRow, SweepVariantRecord } from '../../store/sweep-records';

const iso = (t: number | null): string | null =>
  t === null ? null : new Date(t).toISOString();

/** The sweep with its counts by status; `variants` only when the rows are wanted. */
export function sweepSummary(records: Records, sweep: SweepRow): SweepSummary {
  const spec = sweep.spec as SweepSpec;
  const counts: Record<string, number> = {};
  let ended = true;
  let created = 0;
  for (const [status, n] of records.sweeps.counts(sweep.id)) {
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

export function sweepToWire(
  records: Records,
  sweep: SweepRow,
  variants: SweepVariantRecord[]
): SweepRecord {
  // The package's metrics as they are now: a column each, filled as runs' values are extracted.
  const metrics = records.metrics.specsOf(sweep.packageSha256);
  return {
    ...sweepSummary(records, sweep),
    edits: (sweep.spec as SweepSpec).edits ?? {},
    metrics,
    variants: variants.map(variant => ({
      ...variantRow(variant),
      metrics:
        variant.runId === null
          ? Object.fromEntries(metrics.map(m => [m.name, null]))
          : records.metrics.valuesOf(variant.runId, metrics)
    }))
  };
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
