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
import {
  mkdir,
  mkdtemp,
  readdir,
  realpath,
  rm,
  writeFile
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
// The services are loaded once the flags and the axes are known to be good, as in `run`.
import type {
  SweepRecord,
  SweepSpec,
  SweepVariantRow
} from '../contract/schemas/sweeps';
import type { ServerConfig } from '../config';
import type * as BackendChoiceModule from '../service/runs/backend-choice';
import type * as BuildsModule from '../service/builds';
import type * as PackagesModule from '../service/packages';
import type * as RunsModule from '../service/runs';
import type * as SweepsModule from '../service/sweeps';
import type * as StoreModule from '../store';
import type * as SandboxDetectModule from '../backends/sandbox/detect';
import { loadConfig } from '../config';
import { errorMessage } from '../describe';
import { DomainError } from '../errors';
import type { PackageModel } from '../rpz/model';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import type { RunEdits } from '../runs/edits';
import { FINAL_STATUSES } from '../runs/events';
import { planRun } from '../runs/plan';
import { countVariants, expandSweep, fieldLabel } from '../sweeps/expand';
import { argsOrExit, lastValues } from './args';
import { editsFromFlags } from './run-flags';
import { writeRunFolder, type StoredInput } from './run-folder';
import { axesFromFlags } from './sweep-flags';
import { SWEEP_SPEC, SWEEP_USAGE } from './usage';

export { SWEEP_USAGE };

/* eslint-disable @typescript-eslint/no-require-imports */
const services = () => ({
  ...(require('../store') as typeof StoreModule),
  ...(require('../service/packages') as typeof PackagesModule),
  ...(require('../service/builds') as typeof BuildsModule),
  ...(require('../service/runs') as typeof RunsModule),
  ...(require('../service/sweeps') as typeof SweepsModule),
  ...(require('../service/runs/backend-choice') as typeof BackendChoiceModule),
  ...(require('../backends/sandbox/detect') as typeof SandboxDetectModule)
});
/* eslint-enable @typescript-eslint/no-require-imports */

/** The flags of `run` that make the base edits every variant starts from. */
const BASE_FLAGS = ['steps', 'unset-env', 'timeout', 'memory', 'disk'];

/** Exit codes: 0 every variant succeeded, 1 some did not, 2 bad usage, axes or edits. */
export async function sweepCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(SWEEP_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const { positionals, flags } = parsed;
  const options = lastValues(flags);
  if (positionals.length !== 1 || !options.out) {
    console.error(`Usage: ${SWEEP_USAGE}`);
    return 2;
  }
  const requested = options.backend ?? 'auto';
  if (!['auto', 'docker', 'sandbox'].includes(requested)) {
    console.error(
      `reproserver: unknown backend "${requested}"; use --backend auto, docker or sandbox.`
    );
    return 2;
  }
  let config: ServerConfig;
  try {
    config = loadConfig(options);
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}\nUsage: ${SWEEP_USAGE}`);
    return 2;
  }
  const keepState = options.state !== undefined;
  const stateDir = keepState
    ? config.stateDir
    : await mkdtemp(join(tmpdir(), 'reproserver-sweep-'));
  const reader = new PackageReader({
    ...readerOptionsOf(config),
    processes: 1
  });
  const s = services();
  const store = s.openStore(stateDir);
  try {
    return await sweepInStore({
      s,
      store,
      reader,
      config,
      packagePath: resolve(positionals[0]),
      outDir: resolve(options.out),
      flags,
      requested,
      image: options.image,
      allowWeak: options['allow-weak-isolation'] === 'true'
    });
  } finally {
    reader.close();
    await store.close();
    if (!keepState) {
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}

async function sweepInStore(context: {
  s: ReturnType<typeof services>;
  store: StoreModule.Store;
  reader: PackageReader;
  config: ServerConfig;
  packagePath: string;
  outDir: string;
  flags: Record<string, string[]>;
  requested: string;
  image: string | undefined;
  allowWeak: boolean;
}): Promise<number> {
  const { s, store, reader, config, packagePath, outDir, flags } = context;
  let real: string;
  try {
    real = await realpath(packagePath);
  } catch (error) {
    console.error(`Cannot read ${packagePath}: ${String(error)}`);
    return 2;
  }
  const packages = new s.PackageService({
    records: store.records,
    blobs: store.blobs,
    workspace: dirname(real),
    stateDir: config.stateDir,
    maxUploadBytes: config.maxUploadBytes,
    reader
  });
  let model: PackageModel;
  let spec: SweepSpec;
  let count: number;
  let given: Map<string, RunEdits>;
  try {
    const { sha256 } = await packages.registerWorkspacePackage(basename(real));
    model = packages.get(sha256).model;
    const base = editsFromFlags(
      model,
      Object.fromEntries(
        Object.entries(flags).filter(([name]) => BASE_FLAGS.includes(name))
      )
    );
    spec = {
      package: sha256,
      edits: base,
      axes: await axesFromFlags(model, flags),
      combine: flags.zip ? 'zip' : 'grid',
      backend: context.requested as 'auto',
      acceptWeakIsolation: context.allowWeak
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

  const builds = new s.BuildService({
    dockerSocket: config.dockerSocket,
    registry: config.registry,
    pathOf: sha => packages.pathOf(sha),
    modelOf: sha => store.records.getPackage(sha)?.model,
    reader: readerOptionsOf(config),
    digests: store.records
  });
  const runs = new s.RunService({
    records: store.records,
    blobs: store.blobs,
    logs: store.logs,
    packages,
    builds: {
      ensure: (sha, onEvent) =>
        context.image
          ? Promise.resolve(context.image)
          : builds.ensure(sha, onEvent)
    },
    workspace: dirname(real),
    stateDir: config.stateDir,
    dockerSocket: config.dockerSocket,
    concurrency: config.maxConcurrentRuns,
    runsPerPackagePerMinute: Number.MAX_SAFE_INTEGER,
    reader,
    maxUploadBytes: config.maxUploadBytes,
    sandboxNotices: {
      warning: message => console.error(`[reproserver] warning: ${message}`),
      // Said once per sweep: its runs share the package's one unpacked tree.
      prepared: rootfs => {
        if (!rootfs.reused) {
          console.error(
            `[reproserver] unpacked ${rootfs.info.entries} files in ${(rootfs.info.extractMs / 1000).toFixed(1)} s`
          );
        }
      }
    }
  });
  const sweeps = new s.SweepService({
    records: store.records,
    blobs: store.blobs,
    packages,
    runs,
    workspace: dirname(real),
    maxUploadBytes: config.maxUploadBytes,
    inputFiles: 'host'
  });
  s.preparePrivateStateDir(config.stateDir);
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
      return refused(error);
    }
    if (cancelled) {
      await sweeps.cancel(sweep.id).catch(() => undefined);
    }
    if (sweep.backend === 'sandbox') {
      const weak = await s.weakIsolationSentence('sandbox');
      if (weak) {
        console.error(`[reproserver] warning: ${weak}`);
      }
      console.error(`[reproserver] ${(await s.detectSandbox()).detail}`);
    }
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
          { ...context, runs },
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
    store: StoreModule.Store;
    runs: Pick<RunsModule.RunService, 'get'>;
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

/** `sweep.csv`: a row per variant, a column per axis (RFC 4180 quoting). */
export function sweepCsv(sweep: SweepRecord): string {
  const header = [
    'variant',
    ...sweep.axes.map(axis => fieldLabel(axis.field)),
    'status',
    'exit_code',
    'duration_s'
  ];
  const rows = sweep.variants.map(row => [
    row.id,
    ...row.values,
    row.status ?? 'deleted',
    row.exitCode === null ? '' : String(row.exitCode),
    row.durationMs === null ? '' : (row.durationMs / 1000).toFixed(3)
  ]);
  return (
    [header, ...rows].map(r => r.map(csvField).join(',')).join('\n') + '\n'
  );
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Why the service refused the sweep, in the CLI's words; the exit code. */
function refused(error: unknown): number {
  console.error(`reproserver: ${errorMessage(error)}`);
  if (error instanceof DomainError && error.code !== 'backend-unavailable') {
    return 2;
  }
  return 1;
}

/** Outputs never overwrite anything: DIR must be new or empty. */
async function checkOutDir(dir: string): Promise<void> {
  try {
    const entries = await readdir(dir);
    if (entries.length > 0) {
      throw new Error(
        `The output folder ${dir} is not empty; choose a new one.`
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
}
