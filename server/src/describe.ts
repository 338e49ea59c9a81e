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

/** `12.3 MiB`-style sizes (binary units, as `du -h` and the kernel count). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
