/** How the server words things for people: what went wrong, how big something is. */

/**
 * The message of anything thrown. Duck-typed, because errors from Node internals can come from
 * another realm (e.g. under Jest) where `instanceof Error` is false.
 */
export function errorMessage(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  ) {
    return (error as { message: string }).message;
  }
  return String(error);
}

/** `12.3 MiB`-style sizes: the one wording the CLI and the panel share. */
export { formatBytes } from './contract/bytes';
