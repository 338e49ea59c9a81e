/**
 * Wire types of the companion server's HTTP API, defined once here and imported (as types only)
 * by the JupyterLab extension, so the server and the panel cannot drift apart.
 */

/** Every error the API returns: a stable code for programs and a sentence for people. */
export interface ApiErrorBody {
  error: {
    code: string;
    message: string;
  };
}

/** `GET /api/health`: the server answers and says whether experiments can run here. */
export interface HealthResponse {
  status: 'ok';
  version: string;
  /** Seconds since the server started. */
  uptime: number;
}

/** `GET /api/version`. */
export interface VersionResponse {
  name: 'reproserver';
  version: string;
  node: string;
}

/** One execution backend and whether it works on this host. */
export interface BackendStatus {
  name: 'docker' | 'sandbox';
  available: boolean;
  /** Why it is unavailable, or what it runs on, as a sentence for people. */
  detail: string;
}

/** `GET /api/backends`. */
export interface BackendsResponse {
  backends: BackendStatus[];
}
