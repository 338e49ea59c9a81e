import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import type {
  ApiErrorBody,
  BackendsResponse,
  HealthResponse,
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
        baseUrl: this._baseUrl
      });
    } else {
      this._baseUrl =
        URLExt.join(this._jupyterSettings.baseUrl, PROXY_NAME) + '/';
      this._settings = this._jupyterSettings;
    }
  }

  health(): Promise<HealthResponse> {
    return this._get<HealthResponse>('api/health');
  }

  version(): Promise<VersionResponse> {
    return this._get<VersionResponse>('api/version');
  }

  backends(): Promise<BackendsResponse> {
    return this._get<BackendsResponse>('api/backends');
  }

  private async _get<T>(path: string): Promise<T> {
    const url = URLExt.join(this.baseUrl, path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        { method: 'GET' },
        this._settings
      );
    } catch (error) {
      throw new ReproServerError(
        `The ReproServer companion server cannot be reached at ${this.baseUrl}: ${String(error)}`,
        'unreachable'
      );
    }
    const text = await response.text();
    const body = parseJson(text);
    if (!response.ok) {
      const apiError = (body as ApiErrorBody | undefined)?.error;
      if (apiError) {
        throw new ReproServerError(
          apiError.message,
          apiError.code,
          response.status
        );
      }
      throw new ReproServerError(
        response.status === 404 || response.status >= 500
          ? `The ReproServer companion server is not running at ${this.baseUrl} (HTTP ${response.status}).`
          : `The companion server answered HTTP ${response.status}.`,
        response.status === 404 || response.status >= 500
          ? 'unreachable'
          : 'http-error',
        response.status
      );
    }
    return body as T;
  }

  private _baseUrl = '';
  private _settings!: ServerConnection.ISettings;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
