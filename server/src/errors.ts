/**
 * Domain errors: what services and the workspace layer throw when a request cannot be served as
 * asked. Each carries a stable code; the HTTP status that goes with it is chosen at the API edge
 * (`api/errors.ts`, one table), so nothing below `api/` knows about HTTP.
 *
 * `ErrorCode` is every code the server can answer with; the panel imports it (through the wire
 * types) so that it cannot test for a code the server never sends.
 */

/** Every code an error answer of the API can carry. Never rename one: clients match on them. */
export const ERROR_CODES = [
  // Requests
  'bad-request', // the body or a parameter does not have the expected shape
  'bad-json', // the body is not JSON
  'too-large', // the body or an uploaded file is over its limit
  'bad-offset', // an event log offset that is not one the server gave
  'not-found', // no such endpoint, package, run, output or workspace file
  'method-not-allowed', // the path exists, not with this method
  // Authentication
  'unauthorized', // no token, or a wrong one
  'cross-origin', // a browser request from another site
  // Workspace paths
  'bad-path', // empty, too long, absolute, or leaving the workspace by `..`
  'outside-workspace', // leads outside the workspace through a symlink
  'not-a-file',
  'not-a-folder',
  // Packages
  'bad-package', // the file is not a readable ReproZip package
  'package-changed', // the workspace file changed since it was registered
  // Runs
  'bad-edits', // the edits do not have the shape of `RunEdits`
  'bad-backend', // not auto, docker or sandbox
  'bad-input', // an input that comes neither from the workspace nor from an upload
  'unknown-upload', // an input naming an upload the server does not have
  'backend-unavailable', // the backend asked for (or any, for auto) cannot run here
  'weak-isolation-consent', // the backend isolates less than files + network: say you accept it
  'weak-isolation-refused', // the server refuses runs with weak isolation
  'too-many-runs', // the package was started too often in the last minute
  'queue-full', // the server already has as many runs not ended as it takes
  'rate-limited', // this user started as many runs in the last minute as one user may (Retry-After)
  'user-queue-full', // this user already has as many runs not ended as one user may
  'already-ended', // cancelling a run that has ended
  'not-ended', // saving the outputs of a run that has not ended
  // Sweeps (`sweeps/`)
  'bad-sweep', // a sweep's axes or values do not make a sweep (no values, zip lengths differ…)
  'sweep-too-large', // more axes, values, variants or characters than a sweep may have
  // Metrics (`metrics/`)
  'bad-metric', // a metric's spec is not one we can extract (bad name, regex, column, path)
  // Comparisons (`compare/`)
  'not-comparable', // an output has no view of that kind (no difference image of a non-PNG)
  // Run files (`.rpzrun`, `runfiles/`)
  'bad-run-file', // not a run file this version reads (JSON, schema, size, no package)
  'locked-field', // a run request changes a field its run file locks
  'run-file-mismatch', // a run request names a run file made for another package
  // The run's plan (`runs/plan.ts`, `PlanError`): edits that do not fit the package
  'no-runs',
  'unknown-step',
  'arg-out-of-range',
  'empty-command',
  'unknown-input',
  'bad-env',
  'bad-limit',
  // Imports by URL or DOI (`fetch/`)
  'bad-source', // neither a DOI, a record URL of a known service, nor the https URL of an .rpz
  'unknown-doi', // the DOI resolver does not know the DOI
  'unknown-record', // the service has no such (public) record or file
  'no-package-in-record', // the record holds no .rpz file, or the DOI leads to no record
  'unknown-file', // the file asked for is not one of the record's packages
  'download-failed', // the remote server refused, cut the transfer, or sent damaged bytes
  'download-timeout', // the remote server did not connect or went silent
  'tls-error', // the remote server's certificate is not trusted
  'too-many-imports', // as many imports are going on as the server takes at once
  // The server's own failure
  'internal'
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A request that cannot be served as asked: a stable code and a sentence for people. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** A refusal that may succeed later: the API answers it with a `Retry-After` header. */
export class RetryLaterError extends DomainError {
  constructor(
    code: ErrorCode,
    message: string,
    /** Whole seconds after which the same request may succeed. */
    readonly retryAfterSeconds: number
  ) {
    super(code, message);
    this.name = 'RetryLaterError';
  }
}

/** `what` does not exist, e.g. `notFound('Run 42')`. */
export const notFound = (what: string): DomainError =>
  new DomainError('not-found', `${what} does not exist.`);

/** Whether a thrown value is a domain error (anything else is the server's own failure). */
export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
