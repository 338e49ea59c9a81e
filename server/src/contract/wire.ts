/**
 * Wire types of the companion server's HTTP and WebSocket API, imported (as types only) by the
 * JupyterLab extension, so the server and the panel cannot drift apart. Each is declared once, as
 * a TypeBox schema in `contract/schemas/`: the type here is the schema's static type, the server
 * validates request bodies with the same schema (`contract/validate.ts`), and the OpenAPI document
 * (`GET /api/openapi.json`) is generated from the schemas and the route table (`contract/routes.ts`).
 *
 * This module re-exports types only (and two constants), so the panel's bundle never takes TypeBox.
 * It lives below `api/` because the services and backends build these shapes too, and nothing
 * below `api/` imports from it. The panel imports it through `reproserver/contract` (`index.ts`).
 * The endpoints are listed in `contract/routes.ts`.
 */
import type { WeakIsolationPolicy } from '../backends/exposure';
import type { ErrorCode } from '../errors';
import type { LimitEnforcement } from '../backends/isolation-facts';
import type { BuildEvent } from '../build/events';
import type { PackageModel } from '../rpz/model';
import type { RunParameters } from '../rpz/parameters';
import type { RunEdits, RunLimits } from '../runs/edits';
import type { RunEvent, RunStatus } from '../runs/events';

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

export type {
  ApiErrorBody,
  HealthResponse,
  VersionResponse
} from './schemas/common';
export type {
  BackendIsolation,
  BackendName,
  BackendStatus,
  BackendsResponse,
  CapabilityScope,
  Confinement,
  ContainerEngine
} from './schemas/backends';
export type {
  BuildState,
  BuildStatus,
  PackageDetails,
  PackageList,
  PackageSummary,
  RegisterPackageRequest,
  UploadResponse
} from './schemas/packages';
export type {
  CreateRunRequest,
  OutputRecord,
  RunEventMessage,
  RunList,
  RunRecord,
  SaveOutputsRequest,
  SaveOutputsResponse,
  StepRecord
} from './schemas/runs';
export type { MetricList, MetricSpec, MetricValues } from './schemas/metrics';
export type { RunFile, RunFileField, RunFileRecord } from './schemas/runfile';
export type {
  SweepAxis,
  SweepField,
  SweepList,
  SweepRecord,
  SweepSpec,
  SweepSummary,
  SweepValues,
  SweepVariantRow
} from './schemas/sweeps';
export type {
  CompareSummary,
  CsvCellChange,
  CsvDiff,
  DeterminismCheck,
  DeterminismList,
  ImageDiff,
  OutputComparison,
  OutputDetail,
  RunDifference,
  StartDeterminismRequest,
  TextDiff
} from './schemas/compare';
export type {
  CreateImportRequest,
  ImportCandidate,
  ImportRecord,
  ImportStatus
} from './schemas/imports';

/** The subprotocol of the events WebSocket; the server selects it when a client offers it. */
export const EVENTS_SOCKET_PROTOCOL = 'reproserver';
/**
 * A client that cannot set headers on a WebSocket (a browser talking to a server named in its
 * settings) offers its token as a second subprotocol, base64url-encoded after this prefix: a
 * header, never a URL, so it stays out of logs and histories.
 */
export const EVENTS_SOCKET_TOKEN_PREFIX = 'reproserver.token.';
