/** A run's record as the API answers it (`contract/wire.ts`): ISO times, outputs listed. */
import type { RunRecord as WireRun } from '../../contract/wire';
import type { Records, RunRecord } from '../../store/records';

export function toWire(records: Records, run: RunRecord): WireRun {
  const pkg = records.getPackage(run.packageSha256);
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
    eventsSize: run.logSize
  };
}
