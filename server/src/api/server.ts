import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerConfig } from '../config';
import { BuildService } from '../service/builds';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import { PackageService } from '../service/packages';
import { RunService } from '../service/runs';
import { SweepService } from '../service/sweeps';
import { blobStoreOptionsFromEnv, openStore, type Store } from '../store';
import { checkOrigin, checkToken } from './auth';
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
    private readonly reader: PackageReader
  ) {
    this._sockets = new EventsSocket(config.token, runs, store.logs);
    this._http = createServer((request, response) => {
      void (async () => {
        try {
          checkOrigin(request);
          checkToken(request, this.config.token);
          const url = new URL(request.url ?? '/', 'http://server');
          const { handler, params } = router.resolve(
            request.method ?? 'GET',
            url.pathname
          );
          await handler({ request, response, params, url });
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
    config: ServerConfig & { token: string }
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
    const runs = new RunService({
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
      weakIsolation: config.weakIsolation
    });
    const sweeps = new SweepService({
      records: store.records,
      blobs: store.blobs,
      packages,
      runs,
      workspace: config.workspace,
      maxUploadBytes: config.maxUploadBytes
    });
    const router = apiRoutes(
      {
        config,
        packages,
        builds,
        runs,
        sweeps,
        logs: store.logs,
        blobs: store.blobs,
        maxUploadBytes: config.maxUploadBytes
      },
      Date.now()
    );
    await runs.start();
    // Not awaited: the first build or unpacking finds a reader ready instead of starting Node.
    void reader.startSpare();
    return new ReproServer(config, store, runs, router, reader);
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
