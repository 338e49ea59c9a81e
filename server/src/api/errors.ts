/**
 * The API edge of errors: the one table from error code to HTTP status, and the answer any thrown
 * value becomes. Services throw `DomainError`s (`../errors.ts`) and know nothing of HTTP; the api
 * layer raises its own (authentication, body, routing) as `ApiError`s, which are domain errors
 * with their status looked up here too.
 */
import { DomainError, type ErrorCode } from '../errors';
import type { ApiErrorBody } from '../contract/wire';

/** The HTTP status of each error code; the type makes it complete. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  'bad-request': 400,
  'bad-json': 400,
  'too-large': 413,
  'bad-offset': 400,
  'not-found': 404,
  'method-not-allowed': 405,
  unauthorized: 401,
  'cross-origin': 403,
  'bad-path': 400,
  'outside-workspace': 403,
  'not-a-file': 400,
  'not-a-folder': 409,
  'bad-package': 422,
  'package-changed': 409,
  'bad-edits': 400,
  'bad-backend': 400,
  'bad-input': 400,
  'unknown-upload': 400,
  'backend-unavailable': 409,
  'weak-isolation-consent': 409,
  'weak-isolation-refused': 403,
  'too-many-runs': 429,
  'queue-full': 429,
  'rate-limited': 429,
  'user-queue-full': 429,
  'already-ended': 409,
  'not-ended': 409,
  'bad-sweep': 400,
  'sweep-too-large': 422,
  'bad-metric': 400,
  'not-comparable': 409,
  'bad-run-file': 400,
  'locked-field': 403,
  'run-file-mismatch': 409,
  'no-runs': 400,
  'unknown-step': 400,
  'arg-out-of-range': 400,
  'empty-command': 400,
  'unknown-input': 400,
  'bad-env': 400,
  'bad-limit': 400,
  'bad-source': 400,
  'unknown-doi': 404,
  'unknown-record': 404,
  'no-package-in-record': 422,
  'unknown-file': 400,
  'download-failed': 502,
  'download-timeout': 504,
  'tls-error': 502,
  'too-many-imports': 429,
  internal: 500
};

/** An error the api layer raises itself (a request it refuses before any service sees it). */
export class ApiError extends DomainError {
  /** Its HTTP status, from the table. */
  readonly status: number;

  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'ApiError';
    this.status = HTTP_STATUS[code];
  }
}

/** What a thrown value answers: a domain error its code's status, anything else a 500. */
export function errorAnswer(error: unknown): {
  status: number;
  body: ApiErrorBody;
} {
  if (error instanceof DomainError) {
    return {
      status: HTTP_STATUS[error.code],
      body: { error: { code: error.code, message: error.message } }
    };
  }
  return {
    status: HTTP_STATUS.internal,
    body: {
      error: {
        code: 'internal',
        message: 'The server failed to handle this request; see its log.'
      }
    }
  };
}
