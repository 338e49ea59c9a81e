/**
 * The server's services in the command's own process, for the commands that run packages (`run`,
 * `sweep`): they parse the same options, keep records in the same kind of state folder (private
 * and temporary, or `--state DIR`), register the package in place (its folder is the workspace),
 * and drive the same `RunService` the HTTP API drives. What differs between the commands — what
 * they queue, and what they print and write — stays in their own modules.
 *
 * The services (SQLite, Docker's client, the backends, the image builder) are loaded only once
 * the options are known to be good: parsing, `--help` and a mistake in the edits need none.
 */
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { loadConfig, type ServerConfig } from '../config';
import { errorMessage } from '../describe';
import { DomainError } from '../errors';
import type { PackageModel } from '../rpz/model';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import type * as BackendChoiceModule from '../service/runs/backend-choice';
import type * as BuildsModule from '../service/builds';
import type * as PackagesModule from '../service/packages';
import type * as RunsModule from '../service/runs';
import type * as SweepsModule from '../service/sweeps';
import type * as MetricsModule from '../service/metrics';
import type * as StoreModule from '../store';
import type * as EngineModule from '../backends/docker/engine';
import type * as PingModule from '../backends/docker/ping';
import type * as SandboxDetectModule from '../backends/sandbox/detect';
import type * as SlurmDetectModule from '../backends/slurm/detect';
import { lastValues } from './args';

/* eslint-disable @typescript-eslint/no-require-imports */
const loadServices = () => ({
  ...(require('../store') as typeof StoreModule),
  ...(require('../service/packages') as typeof PackagesModule),
  ...(require('../service/builds') as typeof BuildsModule),
  ...(require('../service/runs') as typeof RunsModule),
  ...(require('../service/sweeps') as typeof SweepsModule),
  ...(require('../service/metrics') as typeof MetricsModule),
  ...(require('../service/runs/backend-choice') as typeof BackendChoiceModule),
  ...(require('../backends/docker/ping') as typeof PingModule),
  ...(require('../backends/docker/engine') as typeof EngineModule),
  ...(require('../backends/sandbox/detect') as typeof SandboxDetectModule),
  ...(require('../backends/slurm/detect') as typeof SlurmDetectModule)
});
/* eslint-enable @typescript-eslint/no-require-imports */
export type Services = ReturnType<typeof loadServices>;

/** The options every package-running command shares, checked. */
export interface CommonOptions {
  packagePath: string;
  outDir: string;
  requested: 'auto' | 'docker' | 'sandbox' | 'slurm';
  config: ServerConfig;
  keepState: boolean;
  image: string | undefined;
  allowWeak: boolean;
}

/** The common options from parsed flags, or the exit code after saying what is wrong. */
export function commonOptions(
  positionals: string[],
  flags: Record<string, string[]>,
  usage: string
): CommonOptions | number {
  const options = lastValues(flags);
  if (positionals.length !== 1 || !options.out) {
    console.error(`Usage: ${usage}`);
    return 2;
  }
  const requested = options.backend ?? 'auto';
  if (
    requested !== 'auto' &&
    requested !== 'docker' &&
    requested !== 'sandbox' &&
    requested !== 'slurm'
  ) {
    console.error(
      `reproserver: unknown backend "${requested}"; use --backend auto, docker, sandbox or slurm.`
    );
    return 2;
  }
  let config: ServerConfig;
  try {
    config = loadConfig(options);
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}\nUsage: ${usage}`);
    return 2;
  }
  return {
    packagePath: resolve(positionals[0]),
    outDir: resolve(options.out),
    requested,
    config,
    keepState: options.state !== undefined,
    image: options.image,
    allowWeak: options['allow-weak-isolation'] === 'true'
  };
}

/** What a command works with once its state folder is open. */
export interface LocalSession {
  s: Services;
  store: StoreModule.Store;
  /** Reads packages in a reader process (deadline, memory cap), as the server does. */
  reader: PackageReader;
  config: ServerConfig;
}

/**
 * Opens the state folder (`--state DIR`, else a private temporary one, removed afterwards), runs
 * `body` on it, and closes everything whatever happens.
 */
export async function withLocalSession<T>(
  options: CommonOptions,
  tempPrefix: string,
  body: (session: LocalSession) => Promise<T>
): Promise<T> {
  const { config, keepState } = options;
  const stateDir = keepState
    ? config.stateDir
    : await mkdtemp(join(tmpdir(), tempPrefix));
  const reader = new PackageReader({
    ...readerOptionsOf(config),
    processes: 1
  });
  const s = loadServices();
  const store = s.openStore(stateDir);
  try {
    return await body({ s, store, reader, config });
  } finally {
    reader.close();
    await store.close();
    if (!keepState) {
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}

/** The package, registered in place: its folder is the workspace of the command's runs. */
export interface LocalPackage {
  packages: PackagesModule.PackageService;
  model: PackageModel;
  sha256: string;
  workspace: string;
}

/** Registers the package; on failure, says why and gives the exit code. */
export async function registerLocalPackage(
  session: LocalSession,
  packagePath: string
): Promise<LocalPackage | number> {
  const { s, store, reader, config } = session;
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
  try {
    const { sha256 } = await packages.registerWorkspacePackage(basename(real));
    return {
      packages,
      model: packages.get(sha256).model,
      sha256,
      workspace: dirname(real)
    };
  } catch (error) {
    console.error(errorMessage(error));
    return 2;
  }
}

/** The run service over the session's store, as the server builds it, for one package's runs. */
export function localRunService(
  session: LocalSession,
  pkg: LocalPackage,
  options: {
    /** Names the image: nothing is built. */
    image: string | undefined;
    concurrency: number;
    sandboxNotices: RunsModule.RunServiceOptions['sandboxNotices'];
    /** Told when a run has ended (a sweep extracts its metrics then). */
    onRunEnded?: (id: string) => void;
  }
): RunsModule.RunService {
  const { s, store, reader, config } = session;
  const builds = new s.BuildService({
    dockerSocket: config.dockerSocket,
    registry: config.registry,
    pathOf: sha => pkg.packages.pathOf(sha),
    modelOf: sha => store.records.getPackage(sha)?.model,
    reader: readerOptionsOf(config),
    digests: store.records
  });
  const runs = new s.RunService({
    records: store.records,
    blobs: store.blobs,
    logs: store.logs,
    packages: pkg.packages,
    builds: {
      ensure: (sha, onEvent) =>
        options.image
          ? Promise.resolve(options.image)
          : builds.ensure(sha, onEvent)
    },
    workspace: pkg.workspace,
    // The sandbox's unpacked packages stay in the tool's state folder, reused by later runs.
    stateDir: config.stateDir,
    sharedTrees: config.sharedTrees,
    dockerSocket: config.dockerSocket,
    concurrency: options.concurrency,
    runsPerPackagePerMinute: Number.MAX_SAFE_INTEGER,
    reader,
    maxUploadBytes: config.maxUploadBytes,
    sandboxNotices: options.sandboxNotices,
    onRunEnded: options.onRunEnded
  });
  s.preparePrivateStateDir(config.stateDir);
  return runs;
}

/** The sandbox's notice of a fresh unpacking, as both commands print it. */
export function unpackedLine(rootfs: {
  reused: boolean;
  info: { entries: number; extractMs: number };
}): string | null {
  return rootfs.reused
    ? null
    : `[reproserver] unpacked ${rootfs.info.entries} files in ${(rootfs.info.extractMs / 1000).toFixed(1)} s`;
}

/**
 * Says on which backend the runs go: on the sandbox, why (Docker did not answer, for auto), what
 * it is and what it exposes; on Docker's API, which engine answers it (Docker or Podman).
 */
export async function sayWhereRunsGo(
  session: LocalSession,
  backend: string | null,
  requested: string
): Promise<void> {
  const { s, config } = session;
  if (backend === 'slurm') {
    // The cluster's queue, the shared folder, and the sandbox the nodes run (docs/cluster.md).
    console.error(`[reproserver] ${(await s.detectSlurm()).detail}`);
    return;
  }
  if (backend !== 'sandbox') {
    const engine = await s
      .identifyEngine(config.dockerSocket)
      .catch(() => null);
    if (engine) {
      console.error(
        `[reproserver] ${s.describeEngine(engine)} at ${config.dockerSocket}`
      );
    }
    return;
  }
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

/** Why the service refused the run or sweep, in the CLI's words; the exit code. */
export function refused(error: unknown, requested: string): number {
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

/** Outputs never overwrite anything: DIR must be new or empty. */
export async function checkOutDir(dir: string): Promise<void> {
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
