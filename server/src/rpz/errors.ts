import { errorMessage } from '../describe';

/**
 * The one error type of the package reader. Every problem with a package (or with reading it) is an
 * `RpzError` with a stable `code` (for the API and tests) and a sentence saying what is wrong and,
 * when it applies, which member of the package.
 */

/** Stable machine-readable error codes. Never rename one: the API and the frontend match on them. */
export type RpzErrorCode =
  | 'unreadable' // the file cannot be opened or read
  | 'not-a-package' // neither a tar nor a gzip-compressed tar
  | 'unsupported-zip' // a ZIP container (ReproZip reads them, nothing writes them)
  | 'truncated' // the file (or a member) ends before the tar says it should
  | 'corrupt-tar' // a tar header fails its checksum or holds nonsense
  | 'corrupt-gzip' // the gzip stream is invalid
  | 'missing-version' // METADATA/version is absent
  | 'bad-version' // METADATA/version holds something else than REPROZIP VERSION 1|2
  | 'missing-config' // METADATA/config.yml is absent
  | 'missing-data' // DATA.tar.gz is absent from a version 2 package
  | 'member-too-large' // a metadata member is over its size cap
  | 'invalid-yaml' // config.yml does not parse
  | 'invalid-config' // config.yml parses but does not describe a package
  | 'unsafe-path' // a member name is absolute or leaves the root
  | 'unsafe-link' // a hard-link target is absolute, leaves the root or is unknown
  | 'path-through-symlink' // a member would be written through an earlier symlink
  | 'duplicate-entry' // the same path appears twice in DATA
  | 'non-utf8-name' // a member name is not valid UTF-8
  | 'size-limit' // decompression exceeded the configured size or ratio (gzip bomb guard)
  | 'aborted' // the caller aborted the read
  | 'bad-number' // a numeric tar or pax field is not a whole number in range
  | 'limit-exceeded' // a count, length or depth is over a read limit (see limits.ts)
  | 'read-timeout' // reading took longer than the reader's deadline (the reader was stopped)
  | 'read-memory' // reading used more memory than the reader's cap (the reader was stopped)
  | 'read-failed'; // the reader process stopped unexpectedly (a crash, not the package's fault)

/** An error in a package, or in reading it. `message` is one human sentence naming the package. */
export class RpzError extends Error {
  readonly code: RpzErrorCode;
  /** The member of the package concerned (e.g. `METADATA/config.yml`), when there is one. */
  readonly member: string | undefined;

  constructor(
    code: RpzErrorCode,
    message: string,
    member?: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'RpzError';
    this.code = code;
    this.member = member;
  }

  /** Plain data for the wire: `{ code, message, member }`. */
  toJSON(): { code: RpzErrorCode; message: string; member?: string } {
    return this.member === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, member: this.member };
  }
}

/** True for an `RpzError` (also across module copies, by name and code). */
export function isRpzError(error: unknown): error is RpzError {
  return error instanceof RpzError;
}

/**
 * Adds the package's name to an error's sentence, and turns anything that is not an `RpzError`
 * (an I/O failure) into an `unreadable` one. Used at the public entry points only.
 */
export function inPackage(error: unknown, label: string): RpzError {
  if (error instanceof RpzError) {
    if (error.message.endsWith(`(${label})`)) {
      return error;
    }
    return new RpzError(
      error.code,
      `${error.message.replace(/\.$/, '')} (${label})`,
      error.member,
      { cause: error }
    );
  }
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const reason =
    code === 'ENOENT'
      ? 'the file does not exist'
      : code === 'EISDIR'
        ? 'it is a directory'
        : code === 'EACCES'
          ? 'permission denied'
          : errorMessage(error);
  return new RpzError(
    'unreadable',
    `Cannot read the package: ${reason} (${label})`,
    undefined,
    { cause: error }
  );
}
