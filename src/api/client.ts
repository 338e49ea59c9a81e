import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import type {
  ApiErrorBody,
  BackendsResponse,
  BuildStatus,
  CreateRunRequest,
  HealthResponse,
  PackageDetails,
  PackageSummary,
  RunList,
  RunRecord,
  SaveOutputsResponse,
  UploadResponse,
  VersionResponse
} from 'reproserver/dist/api/wire';
import { PROXY_NAME } from '../tokens';

/** A failure of a call to the companion server, with a sentence the panel can show as it is. */
export class ReproServerError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number
  ) {
    super(message);
  }
}

/** The part of a browser WebSocket the event stream uses (tests pass fakes). */
export interface IEventSocket {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

/**
 * The only module that talks to the companion server. Every URL is built from JupyterLab's
 * `ServerConnection` settings, so it works under a base URL such as Binder's `/user/<name>/`.
 */
export class ReproServerClient {
  constructor(private readonly _jupyterSettings: ServerConnection.ISettings) {
    this.setServerUrl('');
  }

  /** Where the companion server is reached. */
  get baseUrl(): string {
    return this._baseUrl;
  }

  /**
   * Points the client at an explicit server URL (from the settings), or, with an empty string, at
   * the companion server proxied under JupyterLab's base URL.
   */
  setServerUrl(serverUrl: string): void {
    if (serverUrl) {
      this._baseUrl = serverUrl.endsWith('/') ? serverUrl : serverUrl + '/';
      this._settings = ServerConnection.makeSettings({
        ...this._jupyterSettings,
        baseUrl: this._baseUrl,
        wsUrl: this._baseUrl.replace(/^http/, 'ws')
      });
      this._wsBase = this._settings.wsUrl;
    } else {
      this._baseUrl =
        URLExt.join(this._jupyterSettings.baseUrl, PROXY_NAME) + '/';
      this._settings = this._jupyterSettings;
      this._wsBase = URLExt.join(this._jupyterSettings.wsUrl, PROXY_NAME) + '/';
    }
  }

  health(): Promise<HealthResponse> {
    return this._request<HealthResponse>('GET', 'api/health');
  }

  version(): Promise<VersionResponse> {
    return this._request<VersionResponse>('GET', 'api/version');
  }

  backends(): Promise<BackendsResponse> {
    return this._request<BackendsResponse>('GET', 'api/backends');
  }

  /** Registers a package of the workspace; the server reads it from disk. */
  registerPackage(path: string): Promise<PackageSummary> {
    return this._request<PackageSummary>('POST', 'api/packages', { path });
  }

  getPackage(sha256: string): Promise<PackageDetails> {
    return this._request<PackageDetails>(
      'GET',
      `api/packages/${encodeURIComponent(sha256)}`
    );
  }

  getBuild(sha256: string): Promise<BuildStatus> {
    return this._request<BuildStatus>(
      'GET',
      `api/packages/${encodeURIComponent(sha256)}/build`
    );
  }

  /** Sends a file of the user's computer; the answer names it for `{kind: 'blob'}` inputs. */
  upload(file: Blob): Promise<UploadResponse> {
    return this._request<UploadResponse>('POST', 'api/uploads', file);
  }

  createRun(request: CreateRunRequest): Promise<RunRecord> {
    return this._request<RunRecord>('POST', 'api/runs', request);
  }

  listRuns(packageSha256: string): Promise<RunList> {
    return this._request<RunList>(
      'GET',
      `api/runs?package=${encodeURIComponent(packageSha256)}`
    );
  }

  getRun(id: string): Promise<RunRecord> {
    return this._request<RunRecord>(
      'GET',
      `api/runs/${encodeURIComponent(id)}`
    );
  }

  cancelRun(id: string): Promise<RunRecord> {
    return this._request<RunRecord>(
      'POST',
      `api/runs/${encodeURIComponent(id)}/cancel`
    );
  }

  /** Writes the run's outputs into a workspace folder (the server's default when omitted). */
  saveOutputs(id: string, folder?: string): Promise<SaveOutputsResponse> {
    return this._request<SaveOutputsResponse>(
      'POST',
      `api/runs/${encodeURIComponent(id)}/save`,
      folder ? { folder } : {}
    );
  }

  /** The WebSocket URL of a run's live events, resuming after `offset` bytes of its log. */
  eventsUrl(id: string, offset: number): string {
    let url = URLExt.join(
      this._wsBase,
      'api/runs',
      encodeURIComponent(id),
      'events'
    );
    url += `?offset=${offset}`;
    const token = this._settings.token;
    if (this._settings.appendToken && token) {
      url += `&token=${encodeURIComponent(token)}`;
    }
    return url;
  }

  /** Opens the WebSocket of a run's events from `offset`. */
  openEvents(id: string, offset: number): IEventSocket {
    return new this._settings.WebSocket(
      this.eventsUrl(id, offset)
    ) as unknown as IEventSocket;
  }

  private async _request<T>(
    method: string,
    path: string,
    body?: unknown
  ): Promise<T> {
    const url = URLExt.join(this.baseUrl, path);
    const init: RequestInit = { method };
    if (body instanceof Blob) {
      init.body = body;
      init.headers = { 'Content-Type': 'application/octet-stream' };
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this._settings);
    } catch (error) {
      throw new ReproServerError(
        `The ReproServer companion server cannot be reached at ${this.baseUrl}: ${String(error)}`,
        'unreachable'
      );
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) {
      const apiError = (parsed as ApiErrorBody | undefined)?.error;
      if (apiError && typeof apiError.message === 'string') {
        throw new ReproServerError(
          apiError.message,
          apiError.code,
          response.status
        );
      }
      const down = response.status === 404 || response.status >= 500;
      throw new ReproServerError(
        down
          ? `The ReproServer companion server is not running at ${this.baseUrl} (HTTP ${response.status}).`
          : `The companion server answered HTTP ${response.status}.`,
        down ? 'unreachable' : 'http-error',
        response.status
      );
    }
    return parsed as T;
  }

  private _baseUrl = '';
  private _wsBase = '';
  private _settings!: ServerConnection.ISettings;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
