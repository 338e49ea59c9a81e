/**
 * The error type of the image builder: one sentence saying what went wrong and what to do, with a
 * stable `code` for the API. Errors in the package itself stay `RpzError`s from the reader.
 */

/** Stable machine-readable codes. Never rename one: the API and the frontend match on them. */
export type BuildErrorCode =
  | 'docker-unavailable' // no daemon at the socket, or it does not answer
  | 'unsupported-architecture' // the package was traced on a machine this host cannot run
  | 'missing-packages' // packfiles:false packages and no base image to provide them
  | 'base-image' // the configured base image is neither local nor pullable
  | 'docker-failed'; // the engine refused or failed an operation

/** A build failure; `message` is one sentence. */
export class BuildError extends Error {
  readonly code: BuildErrorCode;

  constructor(
    code: BuildErrorCode,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'BuildError';
    this.code = code;
  }

  /** Plain data for the wire. */
  toJSON(): { code: BuildErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
