import { randomBytes } from 'node:crypto';

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A new run id: 12 url-safe characters (72 random bits), short enough for URLs and folders. */
export function newRunId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * Checks an id before it becomes a folder name: ids arrive in URLs, and `..` or `/` there would
 * name a folder outside the store.
 */
export function assertRunId(value: unknown): string {
  if (typeof value !== 'string' || !RUN_ID.test(value)) {
    throw new TypeError(
      `Invalid run id ${JSON.stringify(value)}: expected letters, digits, "-" or "_".`
    );
  }
  return value;
}
