/**
 * `reproserver sweep PACKAGE --out DIR [axes…]`: runs a package once per variant of some fields,
 * writes each variant's outputs and run.json into `DIR/<variant>/` as `reproserver run --out`
 * does, and `DIR/sweep.csv`; exits 0 only when every variant succeeded.
 *
 * A thin client of the server's own services, in this process, as `run` is: the sweep is checked,
 * expanded, recorded and its runs queued by `SweepService` (through `RunService`, the same queue,
 * concurrency limit, backend choice, isolation consent and image as a sweep from the API). The
 * state folder is `run`'s: a private temporary one removed at the end, or `--state DIR`, kept.
 * Ctrl-C cancels the sweep's runs, which then end as cancelled.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  SweepRecord,
  SweepSpec,
  SweepVariantRow
} from '../contract/schemas/sweeps';
import { errorMessage } from '../describe';
import type { PackageModel } from '../rpz/model';
import type { RunEdits } from '../runs/edits';
import { FINAL_STATUSES } from '../runs/events';
import { planRun } from '../runs/plan';
import type { RunService } from '../service/runs';
import type { Store } from '../store';
import { countVariants, expandSweep, fieldLabel } from '../sweeps/expand';
import { argsOrExit } from './args';
import {
  checkOutDir,
  commonOptions,
  localRunService,
  refused,
  registerLocalPackage,
  sayWhereRunsGo,
  unpackedLine,
  withLocalSession,
  type CommonOptions,
  type LocalSession
} from './local-services';
import type { MetricSpec } from '../contract/schemas/metrics';
import { checkMetrics } from '../metrics/validate';
import { parseMetricFlag } from './metric-flags';
import { editsFromFlags } from './run-flags';
import { writeRunFolder, type StoredInput } from './run-folder';
import { axesFromFlags } from './sweep-flags';
import { SWEEP_SPEC, SWEEP_USAGE } from './usage';

export { SWEEP_USAGE };

/** The flags of `run` that make the base edits every variant starts from. */
const BASE_FLAGS = ['steps', 'unset-env', 'timeout', 'memory', 'disk'];

/** Exit codes: 0 every variant succeeded, 1 some did not, 2 bad usage, axes or edits. */
export async function sweepCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(SWEEP_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const options = commonOptions(parsed.positionals, parsed.flags, SWEEP_USAGE);
  if (typeof options === 'number') {
    return options;
  }
  return withLocalSession(options, 'reproserver-sweep-', session =>
    sweepInSession(session, options, parsed.flags)
  );
}

async function sweepInSession(
  session: LocalSession,
  options: CommonOptions,
  flags: Record<string, string[]>
): Promise<number> {
  const { s, store, config } = session;
  const { packagePath, outDir } = options;
  const pkg = await registerLocalPackage(session, packagePath);
  if (typeof pkg === 'number') {
    return pkg;
  }
  const { model } = pkg;
  let spec: SweepSpec;
  let count: number;
  let given: Map<string, RunEdits>;
  let metricSpecs: MetricSpec[] | undefined;
  try {
    metricSpecs = flags.metric
      ? checkMetrics(flags.metric.map(parseMetricFlag))
      : undefined;
    const base = editsFromFlags(
      model,
      Object.fromEntries(
        Object.entries(flags).filter(([name]) => BASE_FLAGS.includes(name))
      )
    );
    spec = {
      package: pkg.sha256,
      edits: base,
      axes: await axesFromFlags(model, flags),
      combine: flags.zip ? 'zip' : 'grid',
      backend: options.requested,
      acceptWeakIsolation: options.allowWeak
    };
    count = countVariants(spec);
    // The variants' edits as the user gave them (host files by path), for run.json; expanding
    // checks every variant against the package before anything starts.
    given = new Map(
      expandSweep(spec, model, {
        inputSource: path => ({ kind: 'file', path })
      }).variants.map(v => [v.id, v.edits])
    );
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}\nUsage: ${SWEEP_USAGE}`);
    return 2;
  }
  try {
    await checkOutDir(outDir);
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 2;
  }

  // Each run's metrics are extracted when it ends; --metric replaces the package's remembered ones.
  const metrics = new s.MetricService({
    records: store.records,
    blobs: store.blobs,
    logs: store.logs
  });
  if (metricSpecs) {
    metrics.set(pkg.sha256, { metrics: metricSpecs });
  }
  const runs = localRunService(session, pkg, {
    onRunEnded: id => metrics.runEnded(id),
    image: options.image,
    concurrency: config.maxConcurrentRuns,
    sandboxNotices: {
      warning: message => console.error(`[reproserver] warning: ${message}`),
      // Said once per sweep: its runs share the package's one unpacked tree.
      prepared: rootfs => {
        const line = unpackedLine(rootfs);
        if (line !== null) {
          console.error(line);
        }
      }
    }
  });
  const sweeps = new s.SweepService({
    records: store.records,
    blobs: store.blobs,
    packages: pkg.packages,
    runs,
    workspace: pkg.workspace,
    maxUploadBytes: config.maxUploadBytes,
    inputFiles: 'host'
  });
  console.log(
    `${count} run${count === 1 ? '' : 's'} (${spec.combine}: ${spec.axes.map(a => fieldLabel(a.field)).join(spec.combine === 'zip' ? ' with ' : ' × ')}), ${config.maxConcurrentRuns} at a time`
  );

  let sweep: SweepRecord;
  let cancelled = false;
  const onSignal = (): void => {
    cancelled = true;
    if (sweep) {
      void sweeps.cancel(sweep.id).catch(() => undefined);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    try {
      sweep = await sweeps.create(spec);
    } catch (error) {
      return refused(error, options.requested);
    }
    if (cancelled) {
      await sweeps.cancel(sweep.id).catch(() => undefined);
    }
    await sayWhereRunsGo(session, sweep.backend, options.requested);
    await mkdir(outDir, { recursive: true });
    const written = new Set<string>();
    for (;;) {
      sweep = sweeps.get(sweep.id);
      for (const row of sweep.variants) {
        if (written.has(row.id) || !ended(row)) {
          continue;
        }
        written.add(row.id);
        await writeVariant(
          { store, runs, outDir, packagePath },
          model,
          row,
          given.get(row.id) ?? {}
        );
        console.log(variantLine(sweep, row));
      }
      if (sweep.ended && written.size === sweep.variants.length) {
        break;
      }
      await new Promise(r => setTimeout(r, 200));
    }
    await runs.idle();
    await metrics.idle();
    sweep = sweeps.get(sweep.id);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await writeFile(join(outDir, 'sweep.csv'), sweepCsv(sweep));
  const succeeded = sweep.variants.filter(v => v.status === 'succeeded').length;
  console.log(
    `${succeeded} of ${sweep.total} succeeded; results in ${join(outDir, 'sweep.csv')}`
  );
  return succeeded === sweep.total ? 0 : 1;
}

const ended = (row: SweepVariantRow): boolean =>
  row.status === null || FINAL_STATUSES.includes(row.status);

/** `DIR/<variant>/`: the run's outputs and run.json, as `reproserver run --out` writes them. */
async function writeVariant(
  context: {
    store: Store;
    runs: Pick<RunService, 'get'>;
    outDir: string;
    packagePath: string;
  },
  model: PackageModel,
  row: SweepVariantRow,
  edits: RunEdits
): Promise<void> {
  const folder = join(context.outDir, row.id);
  await mkdir(folder, { recursive: true });
  if (row.run === null) {
    return;
  }
  const run = context.runs.get(row.run);
  const stored = context.store.records.listInputs(row.run);
  const placements = planRun(model, edits).inputs;
  const inputs: StoredInput[] = placements.map(placement => {
    const blob = stored.find(i => i.name === placement.name);
    return {
      name: placement.name,
      path: placement.path,
      source: placement.source.kind === 'file' ? placement.source.path : '',
      size: blob?.size ?? 0,
      sha256: blob?.sha256 ?? ''
    };
  });
  await writeRunFolder(folder, run, context.store.blobs, {
    package: { path: context.packagePath, sha256: model.sha256 },
    startedAt: new Date(run.startedAt ?? run.createdAt),
    endedAt: new Date(run.endedAt ?? Date.now()),
    edits,
    inputs
  });
}

function variantLine(sweep: SweepRecord, row: SweepVariantRow): string {
  const values = sweep.axes
    .map((axis, i) => `${fieldLabel(axis.field)}=${row.values[i]}`)
    .join(' ');
  const took =
    row.durationMs === null
      ? ''
      : ` in ${(row.durationMs / 1000).toFixed(1)} s`;
  const exit = row.exitCode === null ? '' : ` (exit ${row.exitCode})`;
  return `${row.id} ${row.status ?? 'deleted'}${exit}${took}: ${values}`;
}

/** `sweep.csv`: a row per variant, a column per axis and per metric (RFC 4180 quoting). */
export function sweepCsv(sweep: SweepRecord): string {
  const header = [
    'variant',
    ...sweep.axes.map(axis => fieldLabel(axis.field)),
    'status',
    'exit_code',
    'duration_s',
    ...sweep.metrics.map(metric => metric.name)
  ];
  const rows = sweep.variants.map(row => [
    row.id,
    ...row.values,
    row.status ?? 'deleted',
    row.exitCode === null ? '' : String(row.exitCode),
    row.durationMs === null ? '' : (row.durationMs / 1000).toFixed(3),
    ...sweep.metrics.map(metric => String(row.metrics[metric.name] ?? ''))
  ]);
  return (
    [header, ...rows].map(r => r.map(csvField).join(',')).join('\n') + '\n'
  );
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
