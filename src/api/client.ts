import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import {
  type ApiErrorBody,
  type BackendsResponse,
  type BuildStatus,
  type CompareSummary,
  type DeterminismCheck,
  type DeterminismList,
  type OutputDetail,
  type StartDeterminismRequest,
  type TextDiff,
  type CreateImportRequest,
  type CreateRunRequest,
  type ErrorCode,
  type HealthResponse,
  type ImportRecord,
  type MetricList,
  type PackageDetails,
  type PackageSummary,
  type RunFileRecord,
  type RunList,
  type RunRecord,
  type SaveOutputsResponse,
  type SweepList,
  type SweepRecord,
  type SweepSpec,
  type UploadResponse,
  type VersionResponse,
  EVENTS_SOCKET_PROTOCOL,
  EVENTS_SOCKET_TOKEN_PREFIX
} from 'reproserver/contract';
import { PROXY_NAME } from '../tokens';

/**
 * Codes of the failures the client finds itself, when the server gave no error answer: nothing
 * answers (`unreachable`), or something answered an HTTP error without the API's error body.
 */
export type ClientErrorCode = 'unreachable' | 'http-error';

/**
 * A failure of a call to the companion server, with a sentence the panel can show as it is. Its
 * code is one the server sends (`ErrorCode`, shared with the server) or one of the client's own.
 */
export class ReproServerError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode | ClientErrorCode,
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
   * Points the client at an explicit server URL (from the settings) with that server's own token,
   * or, with an empty URL, at the companion server proxied under JupyterLab's base URL.
   *
   * A server named in the settings is another party: it gets its own token and nothing of
   * JupyterLab's (no token, no XSRF cookie, no cookies at all), and its WebSocket token travels in
   * the subprotocol header, never in a URL.
   */
  setServerUrl(serverUrl: string, serverToken = ''): void {
    if (serverUrl) {
      this._baseUrl = serverUrl.endsWith('/') ? serverUrl : serverUrl + '/';
      this._wsBase = this._baseUrl.replace(/^http/, 'ws');
      this._remoteToken = serverToken;
    } else {
      this._baseUrl =
        URLExt.join(this._jupyterSettings.baseUrl, PROXY_NAME) + '/';
      this._wsBase = URLExt.join(this._jupyterSettings.wsUrl, PROXY_NAME) + '/';
      this._remoteToken = null;
    }
  }

  /** True when the client talks to a server named in the settings rather than the proxied one. */
  get isRemote(): boolean {
    return this._remoteToken !== null;
  }

  /** Sets the token of a server named in the settings (asked of the user when the setting is empty). */
  setServerToken(serverToken: string): void {
    if (this._remoteToken !== null) {
      this._remoteToken = serverToken;
    }
  }

  /**
   * How to ask the user for the token of a server named in the settings: called when that server
   * refuses a request for want of a (right) token, at most once per server URL; the request is
   * then sent again with the answer. Resolves with null when the user declines.
   */
  setTokenPrompt(prompt: (serverUrl: string) => Promise<string | null>): void {
    this._tokenPrompt = prompt;
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

  /** A run file of the workspace, with its package and inputs as workspace paths. */
  readRunFile(path: string): Promise<RunFileRecord> {
    return this._request<RunFileRecord>(
      'GET',
      `api/runfiles?path=${encodeURIComponent(path)}`
    );
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

  /** Starts a sweep: one run per variant of the axes, queued together. */
  createSweep(request: SweepSpec): Promise<SweepRecord> {
    return this._request<SweepRecord>('POST', 'api/sweeps', request);
  }

  /** The sweeps of a package, newest first. */
  listSweeps(packageSha256: string): Promise<SweepList> {
    return this._request<SweepList>(
      'GET',
      `api/sweeps?package=${encodeURIComponent(packageSha256)}`
    );
  }

  /**
   * A sweep with one row per variant; with `since` (the `revision` of an earlier answer), only
   * the rows changed after it (`incremental`), unless the server no longer knows that revision.
   */
  getSweep(id: string, since?: string): Promise<SweepRecord> {
    const query =
      since === undefined ? '' : `?since=${encodeURIComponent(since)}`;
    return this._request<SweepRecord>(
      'GET',
      `api/sweeps/${encodeURIComponent(id)}${query}`
    );
  }

  /** Cancels every run of the sweep that has not ended. */
  cancelSweep(id: string): Promise<SweepRecord> {
    return this._request<SweepRecord>(
      'POST',
      `api/sweeps/${encodeURIComponent(id)}/cancel`
    );
  }

  /** The package's remembered metrics (none until set). */
  packageMetrics(sha256: string): Promise<MetricList> {
    return this._request<MetricList>(
      'GET',
      `api/packages/${encodeURIComponent(sha256)}/metrics`
    );
  }

  /** Remembers the package's metrics, replacing them; refused with `bad-metric` and a sentence. */
  setPackageMetrics(sha256: string, list: MetricList): Promise<MetricList> {
    return this._request<MetricList>(
      'PUT',
      `api/packages/${encodeURIComponent(sha256)}/metrics`,
      list
    );
  }

  /** Starts fetching a package into the workspace from a DOI, a record or a URL. */
  createImport(request: CreateImportRequest): Promise<ImportRecord> {
    return this._request<ImportRecord>('POST', 'api/imports', request);
  }

  /** An import's status and progress. */
  getImport(id: string): Promise<ImportRecord> {
    return this._request<ImportRecord>(
      'GET',
      `api/imports/${encodeURIComponent(id)}`
    );
  }

  /** Cancels an import going on. */
  cancelImport(id: string): Promise<ImportRecord> {
    return this._request<ImportRecord>(
      'POST',
      `api/imports/${encodeURIComponent(id)}/cancel`
    );
  }

  /** Two ended runs compared: the edits between them, each output's state and view. */
  compareRuns(a: string, b: string): Promise<CompareSummary> {
    return this._request<CompareSummary>('GET', `api/compare?${runPair(a, b)}`);
  }

  /** One output of two runs in detail (a diff, changed CSV cells, a pixel difference). */
  compareOutput(
    a: string,
    b: string,
    name: string,
    tolerance?: { absolute?: number; relative?: number }
  ): Promise<OutputDetail> {
    let query = `${runPair(a, b)}&name=${encodeURIComponent(name)}`;
    if (tolerance?.absolute) {
      query += `&tolerance=${tolerance.absolute}`;
    }
    if (tolerance?.relative) {
      query += `&relativeTolerance=${tolerance.relative}`;
    }
    return this._request<OutputDetail>('GET', `api/compare/output?${query}`);
  }

  /** The two runs' logs as a unified diff. */
  compareLogs(a: string, b: string): Promise<TextDiff> {
    return this._request<TextDiff>('GET', `api/compare/log?${runPair(a, b)}`);
  }

  /** The bytes of an image: a run's output, or the difference image of two runs' PNG output. */
  async image(
    source:
      { run: string; output: string } | { a: string; b: string; output: string }
  ): Promise<Blob> {
    const path =
      'run' in source
        ? `api/runs/${encodeURIComponent(source.run)}/outputs/${encodeURIComponent(source.output)}`
        : `api/compare/image?${runPair(source.a, source.b)}&name=${encodeURIComponent(source.output)}`;
    let response: Response;
    try {
      response = await this._send(URLExt.join(this.baseUrl, path), {
        method: 'GET'
      });
    } catch (error) {
      throw new ReproServerError(
        `The ReproServer companion server cannot be reached at ${this.baseUrl}: ${String(error)}`,
        'unreachable'
      );
    }
    if (!response.ok) {
      const apiError = (
        parseJson(await response.text()) as ApiErrorBody | undefined
      )?.error;
      throw new ReproServerError(
        apiError?.message ??
          `The companion server answered HTTP ${response.status}.`,
        apiError?.code ?? 'http-error',
        response.status
      );
    }
    return response.blob();
  }

  /** Runs the package twice unmodified and compares the runs (the determinism check). */
  startDeterminism(
    packageSha256: string,
    request: StartDeterminismRequest
  ): Promise<DeterminismCheck> {
    return this._request<DeterminismCheck>(
      'POST',
      `api/packages/${encodeURIComponent(packageSha256)}/determinism`,
      request
    );
  }

  /** The latest determinism check of the package on each backend (pair). */
  listDeterminism(packageSha256: string): Promise<DeterminismList> {
    return this._request<DeterminismList>(
      'GET',
      `api/packages/${encodeURIComponent(packageSha256)}/determinism`
    );
  }

  getDeterminism(id: string): Promise<DeterminismCheck> {
    return this._request<DeterminismCheck>(
      'GET',
      `api/determinism/${encodeURIComponent(id)}`
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
    // Only JupyterLab's own proxy may need JupyterLab's token in the URL (a page served from
    // another host); a server named in the settings never sees it.
    const token = this._jupyterSettings.token;
    if (!this.isRemote && this._jupyterSettings.appendToken && token) {
      url += `&token=${encodeURIComponent(token)}`;
    }
    return url;
  }

  /** The WebSocket subprotocols offered: a named server's token rides in them, not in the URL. */
  eventsProtocols(): string[] {
    return this._remoteToken
      ? [
          EVENTS_SOCKET_PROTOCOL,
          EVENTS_SOCKET_TOKEN_PREFIX + base64Url(this._remoteToken)
        ]
      : [];
  }

  /** Opens the WebSocket of a run's events from `offset`. */
  openEvents(id: string, offset: number): IEventSocket {
    const protocols = this.eventsProtocols();
    const url = this.eventsUrl(id, offset);
    return (protocols.length > 0
      ? new this._jupyterSettings.WebSocket(url, protocols)
      : new this._jupyterSettings.WebSocket(url)) as unknown as IEventSocket;
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
      response = await this._send(url, init);
      if (response.status === 401 && (await this._askToken())) {
        response = await this._send(url, init);
      }
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

  /** Asks the user for a named server's token, once per URL; true when there is a new one. */
  private async _askToken(): Promise<boolean> {
    if (
      this._remoteToken === null ||
      !this._tokenPrompt ||
      this._asked.has(this._baseUrl)
    ) {
      return false;
    }
    this._asked.add(this._baseUrl);
    const answer = await this._tokenPrompt(this._baseUrl);
    if (!answer) {
      return false;
    }
    this._remoteToken = answer;
    return true;
  }

  /** Through JupyterLab's connection to its proxy, or straight to a server named in the settings. */
  private _send(url: string, init: RequestInit): Promise<Response> {
    if (this._remoteToken === null) {
      return ServerConnection.makeRequest(url, init, this._jupyterSettings);
    }
    const headers = new this._jupyterSettings.Headers(init.headers);
    if (this._remoteToken) {
      headers.set('Authorization', `token ${this._remoteToken}`);
    }
    return this._jupyterSettings.fetch(url, {
      ...init,
      headers,
      credentials: 'omit',
      cache: 'no-store'
    });
  }

  private _baseUrl = '';
  private _wsBase = '';
  /** The token of a server named in the settings; null for the proxied companion server. */
  private _remoteToken: string | null = null;
  private _tokenPrompt?: (serverUrl: string) => Promise<string | null>;
  /** Server URLs whose token the user was already asked for. */
  private readonly _asked = new Set<string>();
}

/** The query naming the two compared runs. */
function runPair(a: string, b: string): string {
  return `a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
}

function base64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach(byte => (binary += String.fromCharCode(byte)));
  return btoa(binary)
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
