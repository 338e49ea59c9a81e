/**
 * `reproserver run PACKAGE --out DIR [edits…]`: runs a package with the user's edits, prints the
 * experiment's log live (its stdout to stdout, its stderr to stderr, our own lines to stderr),
 * writes the outputs and `run.json` into DIR, and exits 0 only when every selected step succeeded.
 *
 * A thin client of the server's own services, in this process: the package is registered with
 * `PackageService`, the run created, executed and recorded by `RunService` (the same backend
 * choice, isolation consent, image, steps and records as a run started from the panel), its
 * events followed from its log, and its outputs copied from the blob store into DIR. The records,
 * blobs and log live in a private temporary folder removed at the end, or in `--state DIR` when
 * given (kept, as `reproserver serve --state DIR` keeps them).
 */
import { createReadStream } from 'node:fs';
import {
  access,
  constants,
  mkdir,
  mkdtemp,
  readdir,
  realpath,
  rm,
  stat
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
// The services (SQLite, Docker's client, the backends, the image builder) are loaded once the
// flags and edits are known to be good: parsing, `--help` and a mistake in the edits need none.
import type { RunRecord as WireRun } from '../contract/wire';
import type { ServerConfig } from '../config';
import type { PackageModel } from '../rpz/model';
import type * as BackendChoiceModule from '../service/runs/backend-choice';
import type * as BuildsModule from '../service/builds';
import type * as PackagesModule from '../service/packages';
import type * as RunsModule from '../service/runs';
import type * as StoreModule from '../store';
import type * as EngineModule from '../backends/docker/engine';
import type * as PingModule from '../backends/docker/ping';
import type * as SandboxDetectModule from '../backends/sandbox/detect';
import { loadConfig } from '../config';
import { DomainError } from '../errors';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import { runDefaults } from '../runs/default-limits';
import type { RunEdits } from '../runs/edits';
import { planRun, type InputPlacement } from '../runs/plan';
import { argsOrExit, lastValues } from './args';
import { editsFromFlags } from './run-flags';
import { writeRunFolder, type StoredInput } from './run-folder';
import { HeldLines, printEvent } from './run-print';
import { RUN_SPEC, RUN_USAGE } from './usage';
import { errorMessage } from '../describe';

export { RUN_USAGE };

/* eslint-disable @typescript-eslint/no-require-imports */
const services = () => ({
  ...(require('../store') as typeof StoreModule),
  ...(require('../service/packages') as typeof PackagesModule),
  ...(require('../service/builds') as typeof BuildsModule),
  ...(require('../service/runs') as typeof RunsModule),
  ...(require('../service/runs/backend-choice') as typeof BackendChoiceModule),
  ...(require('../backends/docker/ping') as typeof PingModule),
  ...(require('../backends/docker/engine') as typeof EngineModule),
  ...(require('../backends/sandbox/detect') as typeof SandboxDetectModule)
});
/* eslint-enable @typescript-eslint/no-require-imports */

/** Exit codes: 0 all steps succeeded, 1 the experiment did not succeed, 2 bad usage or edits. */
export async function runCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(RUN_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const { positionals, flags } = parsed;
  const options = lastValues(flags);
  if (positionals.length !== 1 || !options.out) {
    console.error(`Usage: ${RUN_USAGE}`);
    return 2;
  }
  const requested = options.backend ?? 'auto';
  if (!['auto', 'docker', 'sandbox'].includes(requested)) {
    console.error(
      `reproserver: unknown backend "${requested}"; use --backend auto, docker or sandbox.`
    );
    return 2;
  }
  const packagePath = resolve(positionals[0]);
  const outDir = resolve(options.out);
  const config = loadConfig(options);
  const keepState = options.state !== undefined;
  const stateDir = keepState
    ? config.stateDir
    : await mkdtemp(join(tmpdir(), 'reproserver-run-'));
  // Read in a reader process (deadline, memory cap), like the server does.
  const reader = new PackageReader({
    ...readerOptionsOf(config),
    processes: 1
  });
  const s = services();
  const store = s.openStore(stateDir);
  try {
    return await runInStore({
      s,
      store,
      reader,
      config,
      packagePath,
      outDir,
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

async function runInStore(context: {
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
  const { s, store, reader, config, packagePath, outDir } = context;
  // The package is registered in place: its folder is the workspace of this run.
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
  let sha256: string;
  try {
    ({ sha256 } = await packages.registerWorkspacePackage(basename(real)));
    model = packages.get(sha256).model;
  } catch (error) {
    console.error(errorMessage(error));
    return 2;
  }
  let edits: RunEdits;
  let inputs: StoredInput[];
  try {
    edits = editsFromFlags(model, context.flags);
    const plan = planRun(model, edits, runDefaults());
    await checkInputsReadable(plan.inputs);
    await checkOutDir(outDir);
    inputs = await storeInputs(plan.inputs, store.blobs);
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
  // Said by the sandbox's unpacking, which may start before we say why the sandbox runs it.
  const notices = new HeldLines();
  const runs = new s.RunService({
    records: store.records,
    blobs: store.blobs,
    logs: store.logs,
    packages,
    // --image names the image: nothing is built.
    builds: {
      ensure: (sha, onEvent) =>
        context.image
          ? Promise.resolve(context.image)
          : builds.ensure(sha, onEvent)
    },
    workspace: dirname(real),
    // The sandbox's unpacked packages stay in the tool's state folder, reused by later runs.
    stateDir: config.stateDir,
    dockerSocket: config.dockerSocket,
    concurrency: 1,
    runsPerPackagePerMinute: Number.MAX_SAFE_INTEGER,
    reader,
    maxUploadBytes: config.maxUploadBytes,
    sandboxNotices: {
      warning: message => notices.say(`[reproserver] warning: ${message}`),
      prepared: rootfs => {
        if (!rootfs.reused) {
          notices.say(
            `[reproserver] unpacked ${rootfs.info.entries} files in ${(rootfs.info.extractMs / 1000).toFixed(1)} s`
          );
        }
      }
    }
  });
  s.preparePrivateStateDir(config.stateDir);
  const started = new Date();
  let run: WireRun;
  try {
    run = await runs.create({
      package: sha256,
      backend: context.requested as 'auto',
      acceptWeakIsolation: context.allowWeak,
      edits: {
        ...edits,
        ...(inputs.length > 0 && {
          inputs: inputs.map(({ name, sha256 }) => ({
            name,
            source: { kind: 'blob' as const, sha256 }
          }))
        })
      }
    });
  } catch (error) {
    return refused(error, context.requested);
  }
  if (run.backend === 'sandbox') {
    await sayWhySandbox(s, config, context.requested);
  } else {
    // Which engine answers the Docker API (Docker, or Podman's compatible API), as the panel says.
    const engine = await s
      .identifyEngine(config.dockerSocket)
      .catch(() => null);
    if (engine) {
      console.error(
        `[reproserver] ${s.describeEngine(engine)} at ${config.dockerSocket}`
      );
    }
  }
  notices.release();

  await mkdir(outDir, { recursive: true });
  const abort = new AbortController();
  const onSignal = (): void => void runs.cancel(run.id).catch(() => undefined);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await store.logs.follow(run.id, 0, printEvent, abort.signal);
    await runs.idle();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  run = runs.get(run.id);
  await writeRunFolder(outDir, run, store.blobs, {
    package: { path: packagePath, sha256: model.sha256 },
    startedAt: started,
    endedAt: new Date(),
    edits,
    inputs
  });
  return run.status === 'succeeded' ? 0 : 1;
}

/** Why the service refused the run, in the CLI's words; the exit code. */
function refused(error: unknown, requested: string): number {
  if (!(error instanceof DomainError)) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 1;
  }
  if (error.code === 'backend-unavailable') {
    console.error(
      requested === 'docker'
        ? `reproserver: ${error.message.replace(/\.$/, '')}. Start the Docker Engine, or pass --docker-socket.`
        : `reproserver: ${error.message}`
    );
    return 1;
  }
  console.error(`reproserver: ${error.message}`);
  return 2;
}

/** On the sandbox: why (Docker did not answer, for auto), what it is, and what it exposes. */
async function sayWhySandbox(
  s: ReturnType<typeof services>,
  config: ServerConfig,
  requested: string
): Promise<void> {
  if (requested === 'auto') {
    const ping = await s.pingDocker(config.dockerSocket);
    if (!ping.ok) {
      console.error(
        `[reproserver] Docker is unavailable (${ping.reason}); using the sandbox`
      );
    }
  }
  const weak = await s.weakIsolationSentence('sandbox');
  if (weak) {
    console.error(`[reproserver] warning: ${weak}`);
  }
  console.error(`[reproserver] ${(await s.detectSandbox()).detail}`);
}

/** Stores the --input files as blobs (the run reads them from there), hashed for run.json. */
async function storeInputs(
  placements: InputPlacement[],
  blobs: StoreModule.BlobStore
): Promise<StoredInput[]> {
  const stored: StoredInput[] = [];
  for (const input of placements) {
    const source = input.source.kind === 'file' ? input.source.path : '';
    const { sha256, size } = await blobs.put(createReadStream(source));
    stored.push({ name: input.name, path: input.path, source, size, sha256 });
  }
  return stored;
}

async function checkInputsReadable(inputs: InputPlacement[]): Promise<void> {
  for (const input of inputs) {
    const path = input.source.kind === 'file' ? input.source.path : '';
    try {
      await access(path, constants.R_OK);
      if (!(await stat(path)).isFile()) {
        throw new Error('not a file');
      }
    } catch {
      throw new Error(
        `The file for input "${input.name}" cannot be read: ${path}`
      );
    }
  }
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
