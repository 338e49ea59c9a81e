import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerConfig } from '../config';
import { BuildService } from '../service/builds';
import { CompareService } from '../service/compare';
import { DeterminismService } from '../service/determinism';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import { ImportService } from '../service/imports';
import { httpLimitsFromEnv } from '../fetch/http';
import { servicesFromEnv } from '../fetch/services';
import { PackageService } from '../service/packages';
import { MetricService } from '../service/metrics';
import { RunService } from '../service/runs';
import { SweepService } from '../service/sweeps';
import { RunFileService } from '../service/runfiles';
import { blobStoreOptionsFromEnv, openStore, type Store } from '../store';
import {
  checkOrigin,
  tokenAuthenticator,
  usersAuthenticator,
  type Authenticator
} from './auth';
import type { UserRegistry } from '../users/registry';
import { EventsSocket } from './events-socket';
import { sendError } from './respond';
import { apiRoutes } from './routes';
import type { Router } from './router';

/**
 * The companion server: opens the store, reconciles runs left by a previous process, then serves
 * the HTTP API and the run event sockets. Every request is authenticated, then routed.
 */
export class ReproServer {
  private constructor(
    readonly config: ServerConfig & { token: string },
    private readonly store: Store,
    readonly runs: RunService,
    router: Router,
    private readonly reader: PackageReader,
    private readonly sweeps?: SweepService,
    private readonly imports?: ImportService,
    /** The users of a shared server (`usersFile`); absent: the one token. */
    readonly users?: UserRegistry
  ) {
    const authenticate: Authenticator = users
      ? usersAuthenticator(users)
      : tokenAuthenticator(config.token);
    this._sockets = new EventsSocket(authenticate, runs, store.logs);
    this._http = createServer((request, response) => {
      void (async () => {
        try {
          checkOrigin(request);
          const user = authenticate(request);
          const url = new URL(request.url ?? '/', 'http://server');
          const { handler, params } = router.resolve(
            request.method ?? 'GET',
            url.pathname
          );
          await handler({ request, response, params, url, user });
        } catch (error) {
          sendError(response, error);
        }
      })();
    });
    this._http.on('upgrade', (request, socket, head) =>
      this._sockets.handleUpgrade(request, socket, head)
    );
  }

  /** Opens the store and the services, and puts the runs left by a previous process right. */
  static async create(
    config: ServerConfig & { token: string },
    users?: UserRegistry
  ): Promise<ReproServer> {
    const store = openStore(config.stateDir, {
      blobs: blobStoreOptionsFromEnv(config.stateDir, {
        ...process.env,
        REPROSERVER_BLOB_STORE: config.storage
      })
    });
    // One pool of reader processes reads packages and unpacks them for the sandbox; each image
    // build starts a reader of its own with the same limits (its tar flows through a pipe).
    const reader = new PackageReader(readerOptionsOf(config));
    const packages = new PackageService({
      records: store.records,
      blobs: store.blobs,
      workspace: config.workspace,
      stateDir: config.stateDir,
      maxUploadBytes: config.maxUploadBytes,
      reader
    });
    const builds = new BuildService({
      dockerSocket: config.dockerSocket,
      registry: config.registry,
      pathOf: sha256 => packages.pathOf(sha256),
      modelOf: sha256 => store.records.getPackage(sha256)?.model,
      reader: readerOptionsOf(config),
      digests: store.records
    });
    // Each run's metrics are extracted when it ends, in the background.
    const metrics = new MetricService({
      records: store.records,
      blobs: store.blobs,
      logs: store.logs
    });
    const runs = new RunService({
      onRunEnded: id => metrics.runEnded(id),
      records: store.records,
      blobs: store.blobs,
      logs: store.logs,
      packages,
      builds,
      workspace: config.workspace,
      stateDir: config.stateDir,
      dockerSocket: config.dockerSocket,
      concurrency: config.maxConcurrentRuns,
      runsPerPackagePerMinute: config.runsPerPackagePerMinute,
      reader,
      maxUploadBytes: config.maxUploadBytes,
      weakIsolation: config.weakIsolation,
      maxQueuedRuns: config.maxQueuedRuns,
      sharedTrees: config.sharedTrees,
      // Per-user limits apply to runs with an owner: only a shared server's have one.
      perUser: {
        runsPerMinute: config.userRunsPerMinute,
        maxRunning: config.userMaxRunning,
        maxQueued: config.userMaxQueued
      }
    });
    const sweeps = new SweepService({
      records: store.records,
      blobs: store.blobs,
      packages,
      runs,
      workspace: config.workspace,
      maxUploadBytes: config.maxUploadBytes
    });
    // Packages fetched by URL or DOI land in the workspace and are read by the same readers.
    const imports = new ImportService({
      workspace: config.workspace,
      packages,
      maxBytes: config.maxUploadBytes,
      services: servicesFromEnv(),
      limits: httpLimitsFromEnv()
    });
    // Two ended runs compared, and the determinism check that runs a package twice to compare.
    const compare = new CompareService(store);
    const router = apiRoutes(
      {
        config,
        packages,
        builds,
        runs,
        sweeps,
        runFiles: new RunFileService({ workspace: config.workspace, packages }),
        metrics,
        imports,
        compare,
        determinism: new DeterminismService({
          runs,
          packages,
          compare,
          records: store.records
        }),
        logs: store.logs,
        blobs: store.blobs,
        maxUploadBytes: config.maxUploadBytes
      },
      Date.now()
    );
    await runs.start();
    // Runs that ended while no extraction could happen get their metrics now, in the background.
    metrics.resume();
    // Sweeps a stopped server was still creating the runs of: created on, in the background.
    sweeps.start();
    // Not awaited: the first build or unpacking finds a reader ready instead of starting Node.
    void reader.startSpare();
    return new ReproServer(
      config,
      store,
      runs,
      router,
      reader,
      sweeps,
      imports,
      users
    );
  }

  /** Starts listening; resolves with the actual address (the port may have been 0). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this._http.once('error', reject);
      this._http.listen(this.config.port, this.config.host, () => {
        this._http.off('error', reject);
        resolve(this._http.address() as AddressInfo);
      });
    });
  }

  /**
   * Graceful stop: no new connections or runs, in-flight requests finish, event sockets close
   * (clients reconnect to the next server), running experiments are left for the next start to
   * reconcile.
   */
  async close(): Promise<void> {
    this.runs.stop();
    // Downloads going on stop, and their partial files are removed from the workspace.
    await this.imports?.close();
    // Creations of sweeps' runs stop between two runs; the next start goes on with them.
    await this.sweeps?.stop();
    this._sockets.close();
    await new Promise<void>(resolve => {
      this._http.close(() => resolve());
      this._http.closeIdleConnections();
    });
    await this.store.close();
    // Reader processes still reading or unpacking are killed: nothing waits for them.
    this.reader.close();
  }

  private readonly _http: Server;
  private readonly _sockets: EventsSocket;
}
