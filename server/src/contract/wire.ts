/**
 * Wire types of the companion server's HTTP and WebSocket API, defined once here and imported (as
 * types only) by the JupyterLab extension, so the server and the panel cannot drift apart. The
 * OpenAPI document (`GET /api/openapi.json`) describes the same shapes for other clients.
 *
 * They live below `api/` because the services and backends build these shapes too, and nothing
 * below `api/` imports from it; `api/wire.ts` re-exports them for the panel's existing imports.
 *
 * Endpoints (all under the server's base URL, all needing the token):
 *   GET    /api/health | /api/version | /api/backends | /api/openapi.json
 *   POST   /api/packages                 {path}: register a workspace package → PackageSummary
 *   PUT    /api/packages/upload?name=N    body: the .rpz → PackageSummary
 *   GET    /api/packages                 → PackageList
 *   GET    /api/packages/:sha256          → PackageDetails
 *   POST   /api/packages/:sha256/build    start or join the build → BuildStatus
 *   GET    /api/packages/:sha256/build    → BuildStatus
 *   POST   /api/uploads                   body: an input file → UploadResponse
 *   POST   /api/runs                      CreateRunRequest → RunRecord (202, queued)
 *   GET    /api/runs?package=sha256       → RunList
 *   GET    /api/runs/:id                  → RunRecord
 *   GET    /api/runs/:id/events?offset=N  → newline-delimited RunEventMessage (what is there now)
 *   WS     /api/runs/:id/events?offset=N  → RunEventMessage per message, live, then closes
 *   POST   /api/runs/:id/cancel           → RunRecord
 *   DELETE /api/runs/:id                  → 204
 *   GET    /api/runs/:id/outputs/:name    → the output's bytes
 *   POST   /api/runs/:id/save             SaveOutputsRequest → SaveOutputsResponse
 */
import type { WeakIsolationPolicy } from '../backends/exposure';
import type { ErrorCode } from '../errors';
import type { LimitEnforcement } from '../backends/isolation-facts';
import type { BuildEvent } from '../build/events';
import type { PackageModel } from '../rpz/model';
import type { RunParameters } from '../rpz/parameters';
import type { RunEdits, RunLimits } from '../runs/edits';
import type { OutputFile, RunEvent, RunStatus } from '../runs/events';

export type {
  ErrorCode,
  LimitEnforcement,
  WeakIsolationPolicy,
  BuildEvent,
  PackageModel,
  RunEdits,
  RunEvent,
  RunLimits,
  RunParameters,
  RunStatus
};

/**
 * Every error the API returns: a stable code for programs (one of `ErrorCode`, whose HTTP status
 * is in `api/errors.ts`) and a sentence for people.
 */
export interface ApiErrorBody {
  error: {
    code: ErrorCode;
    message: string;
  };
}

/** `GET /api/health`: the server answers. */
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

export type BackendName = 'docker' | 'sandbox';

/** Where the capabilities of a step recorded as root take effect. */
export type CapabilityScope =
  /** Its container (Docker): a reduced set, nothing that reaches the host. */
  | 'container'
  /** Its own user namespace (bubblewrap): valid on what the namespace owns, never on the host. */
  | 'user-namespace'
  /** The host (proot): the server's own capabilities, unchanged. */
  | 'host';

/**
 * What a backend isolates, stated from what was found at start (the mechanism that works, the
 * kernel, the server's own capabilities), and checked by the isolation probe's tests: what an
 * experiment can reach is exactly what this does not isolate.
 */
export interface BackendIsolation {
  /** The experiment can neither read nor write host files outside its run's tree. */
  files: boolean;
  /** No network at all: no TCP or UDP to the host's loopback or anywhere else. */
  network: boolean;
  /** Host processes are invisible and cannot be signalled; their environment (tokens) unreadable. */
  processes: boolean;
  /** Whether the experiment may create nested user namespaces (the backend does not prevent it). */
  nestedUserNamespaces: boolean;
  capabilities: {
    scope: CapabilityScope;
    /** Effective capabilities of a step recorded as root: names without `CAP_`, sorted. */
    root: string[];
    /** Effective capabilities of a step recorded as a non-root user; [] when it has none. */
    nonRoot: string[];
  };
  /**
   * Who the experiment is on the host where its files or processes are not isolated (proot):
   * `server`, the server's own user (it reaches that user's files, processes and their
   * environments, with the server's capabilities); `unprivileged`, a user id of the run's own
   * that owns nothing and has no capabilities (it reaches only what every user may read, or write
   * where anyone may). Unset where files and processes are isolated.
   */
  hostUser?: 'server' | 'unprivileged';
  /**
   * The confinement each step runs under, applied by the helper before the step's first
   * instruction (no-new-privileges, Landlock, seccomp), as the sandbox's probe found it from
   * inside at start; null where there is none (Docker, or `REPROSERVER_CONFINE=off`).
   */
  confinement?: Confinement | null;
  /** How the run's memory, CPU and disk limits are enforced. */
  memory: LimitEnforcement;
  cpu: LimitEnforcement;
  disk: LimitEnforcement;
}

/** What the helper's confinement of a step holds on this machine (`backends/sandbox/confine.ts`). */
export interface Confinement {
  /**
   * The Landlock ABI in force (null: none): files are read only from the run's root and a few
   * system paths, written only in the run's own tree; from ABI 4 no TCP at all; from ABI 6 no
   * signals or abstract unix sockets outside the run.
   */
  landlockAbi: number | null;
  /**
   * The seccomp filter: no socket but AF_UNIX (no UDP, TCP, raw, netlink), no ptrace, keyring,
   * mounts, new namespaces, io_uring, bpf, perf events.
   */
  seccomp: boolean;
  /** Other processes' environments, memory and open files (/proc/PID/…) are out of reach. */
  processSecrets: boolean;
  /** Signals to processes outside the run are refused. */
  signals: boolean;
}

/** One execution backend and whether it works on this host. */
export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Why it is unavailable, or what it runs on, as a sentence for people. */
  detail: string;
  /** What it isolates; null when it is unavailable. */
  isolation: BackendIsolation | null;
}

/** `GET /api/backends`. */
export interface BackendsResponse {
  backends: BackendStatus[];
  /** What `auto` picks now; null when nothing can run experiments here. */
  default: BackendName | null;
  /**
   * Runs on a backend that isolates less than files + network (`needsConsent` in
   * `backends/exposure.ts`): `ask`, they start when the request accepts it; `refuse`, never.
   */
  weakIsolation: WeakIsolationPolicy;
  /**
   * What a run gets for each limit its edits leave out, on this machine: the memory limit leaves
   * room for JupyterLab and the server (`runs/default-limits.ts`). The panel shows these unless
   * the user set their own. Absent from servers older than this field.
   */
  defaultLimits?: RunLimits;
}

/** A registered package. */
export interface PackageSummary {
  sha256: string;
  /** File name, e.g. `experiment.rpz`. */
  name: string;
  size: number;
  /** Workspace-relative path it was registered from; null for uploads. */
  path: string | null;
  createdAt: string;
}

export interface PackageList {
  packages: PackageSummary[];
}

/** `GET /api/packages/:sha256`: everything the panel shows before a run. */
export interface PackageDetails extends PackageSummary {
  model: PackageModel;
  /** Typed parameters derived from each run's argv. */
  parameters: RunParameters[];
  /**
   * Packed size of each input/output file by name (null: not in the package); null while the
   * server has not measured a large package yet.
   */
  fileSizes: Record<string, number | null> | null;
}

/** `POST /api/packages`. */
export interface RegisterPackageRequest {
  /** Path of the .rpz relative to the workspace root. */
  path: string;
}

export type BuildState = 'none' | 'building' | 'ready' | 'failed';

/** The image of a package. */
export interface BuildStatus {
  state: BuildState;
  image: string | null;
  /** The last progress and phase events; the full stream is on the run's events. */
  events: BuildEvent[];
  error: string | null;
}

/** `POST /api/uploads`. */
export interface UploadResponse {
  sha256: string;
  size: number;
}

/** `POST /api/runs`. */
export interface CreateRunRequest {
  /** sha256 of a registered package. */
  package: string;
  edits?: RunEdits;
  /** Default `auto`: Docker when a daemon answers, else the sandbox. */
  backend?: BackendName | 'auto';
  /**
   * The user accepted that the experiment runs with less isolation than files + network (what
   * it could reach was shown to them). Without it, such a run is refused (409,
   * `weak-isolation-consent`).
   */
  acceptWeakIsolation?: boolean;
}

/** One step of a run as recorded. */
export interface StepRecord {
  index: number;
  id: string;
  argv: string[];
  exitCode: number | null;
  durationMs: number | null;
}

/** One collected output. */
export type OutputRecord = OutputFile;

/** A run as the API shows it. */
export interface RunRecord {
  id: string;
  package: string;
  packageName: string;
  status: RunStatus;
  backend: BackendName | null;
  image: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  edits: RunEdits;
  limits: RunLimits;
  steps: StepRecord[];
  outputs: OutputRecord[];
  missingOutputs: { name: string; path: string; reason: string }[];
  failedStep: number | null;
  reason: string | null;
  /** Size of the run's event log in bytes: the offset a client that saw everything resumes at. */
  eventsSize: number;
}

export interface RunList {
  runs: RunRecord[];
}

/**
 * One event of a run's log, with the byte offset just after it in the log: a client that
 * reconnects with `?offset=<that>` gets exactly the events it has not seen.
 */
export interface RunEventMessage {
  offset: number;
  event: RunEvent;
}

/** `POST /api/runs/:id/save`. */
export interface SaveOutputsRequest {
  /** Workspace-relative folder; default `<package name>.runs/<run id>/` beside the package. */
  folder?: string;
}

export interface SaveOutputsResponse {
  /** Workspace-relative folder the files were written to. */
  folder: string;
  /** Workspace-relative paths of the files written (existing files are never overwritten). */
  files: string[];
  /** Outputs not written because a file of that name existed. */
  skipped: string[];
}

/** The subprotocol of the events WebSocket; the server selects it when a client offers it. */
export const EVENTS_SOCKET_PROTOCOL = 'reproserver';
/**
 * A client that cannot set headers on a WebSocket (a browser talking to a server named in its
 * settings) offers its token as a second subprotocol, base64url-encoded after this prefix: a
 * header, never a URL, so it stays out of logs and histories.
 */
export const EVENTS_SOCKET_TOKEN_PREFIX = 'reproserver.token.';
