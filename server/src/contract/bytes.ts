/**
 * How big something is, for people: one wording for the CLI, the server's messages and the
 * panel (which imports this module from `reproserver/dist/contract/bytes`). Binary units, as
 * `du -h` and the kernel count: 1 KiB is 1024 bytes. Pure, with no imports, so the panel's
 * bundle takes it as it is.
 */

/** The units after `bytes`, each 1024 times the one before. */
const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** Words a caller may give for a count of bytes under 1 KiB (e.g. translated, with plurals). */
export interface IByteWords {
  /** `5 bytes`, `1 byte`: the whole phrase for a count under 1024. */
  bytes(count: number): string;
}

/** English, the server's and the CLI's language. */
export const ENGLISH_BYTES: IByteWords = {
  bytes: count => (count === 1 ? '1 byte' : `${count} bytes`)
};

/**
 * `512 bytes`, `2.0 KiB`, `12.3 MiB`: one decimal from 1 KiB on. `?` for what is not a size
 * (negative, NaN, infinite), so a bad figure reads as unknown rather than as a number.
 */
export function formatBytes(
  bytes: number,
  words: IByteWords = ENGLISH_BYTES
): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '?';
  }
  if (bytes < 1024) {
    return words.bytes(bytes);
  }
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}
