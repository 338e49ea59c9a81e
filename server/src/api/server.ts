import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { detectBackends } from '../backends/detect';
import type { ServerConfig } from '../config';
import { SERVER_VERSION } from '../version';
import { checkOrigin, checkToken } from './auth';
import { sendError, sendJson } from './respond';
import { Router } from './router';
import type { BackendsResponse, HealthResponse, VersionResponse } from './wire';

/** The companion server: every request is authenticated, then routed. */
export class ReproServer {
  constructor(readonly config: ServerConfig & { token: string }) {
    this._router = this._routes();
    this._http = createServer((request, response) => {
      void (async () => {
        try {
          checkOrigin(request);
          checkToken(request, this.config.token);
          const url = new URL(request.url ?? '/', 'http://server');
          const { handler, params } = this._router.resolve(
            request.method ?? 'GET',
            url.pathname
          );
          await handler({ request, response, params, url });
        } catch (error) {
          sendError(response, error);
        }
      })();
    });
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

  /** Stops accepting connections and waits for in-flight requests to finish. */
  close(): Promise<void> {
    return new Promise(resolve => {
      this._http.close(() => resolve());
      this._http.closeIdleConnections();
    });
  }

  private _routes(): Router {
    return new Router()
      .add('GET', '/api/health', ({ response }) => {
        const body: HealthResponse = {
          status: 'ok',
          version: SERVER_VERSION,
          uptime: Math.round((Date.now() - this._startedAt) / 1000)
        };
        sendJson(response, 200, body);
      })
      .add('GET', '/api/version', ({ response }) => {
        const body: VersionResponse = {
          name: 'reproserver',
          version: SERVER_VERSION,
          node: process.version
        };
        sendJson(response, 200, body);
      })
      .add('GET', '/api/backends', async ({ response }) => {
        const body: BackendsResponse = {
          backends: await detectBackends(this.config)
        };
        sendJson(response, 200, body);
      });
  }

  private readonly _router: Router;
  private readonly _http: Server;
  private readonly _startedAt = Date.now();
}
