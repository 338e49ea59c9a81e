import type { ApiErrorBody } from './wire';

/**
 * An error meant for the API's caller: a stable code, a sentence for people, and the HTTP status.
 * Anything thrown that is not an ApiError is our fault and becomes a 500 with code `internal`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
  }

  toJSON(): ApiErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export const notFound = (what: string): ApiError =>
  new ApiError(404, 'not-found', `${what} does not exist.`);
