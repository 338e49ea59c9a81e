/** A run's record as the API answers it (`contract/wire.ts`): ISO times, outputs listed. */
import type { RunRecord as WireRun } from '../../contract/wire';
import type { Records, RunRecord } from '../../store/records';

export function toWire(records: Records, run: RunRecord): WireRun {
  const pkg = records.getPackage(run.packageSha256);
  const sweep = records.sweeps.ofRun(run.id);
  const iso = (t: number | null): string | null =>
    t === null ? null : new Date(t).toISOString();
  return {
    id: run.id,
    package: run.packageSha256,
    packageName: pkg?.name ?? run.packageSha256,
    status: run.status,
    backend:
      run.backend === 'docker' ||
      run.backend === 'sandbox' ||
      run.backend === 'slurm'
        ? run.backend
        : null,
    image: run.image,
    createdAt: new Date(run.createdAt).toISOString(),
    startedAt: iso(run.startedAt),
    endedAt: iso(run.endedAt),
    edits: run.edits,
    limits: run.limits,
    steps: run.steps,
    outputs: records
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
    eventsSize: run.logSize,
    ...(sweep && { sweep: { id: sweep.sweepId, variant: sweep.variant } }),
    ...metricsOf(records, run)
  };
}

/** The run's values of its package's metrics, when the package has some. */
function metricsOf(records: Records, run: RunRecord): Pick<WireRun, 'metrics'> {
  const specs = records.metrics.specsOf(run.packageSha256);
  return specs.length > 0
    ? { metrics: records.metrics.valuesOf(run.id, specs) }
    : {};
}
