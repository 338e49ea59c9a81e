/**
 * The deadline of one read of a package, and the sentence that refuses a package past it: shared
 * by the reader processes' pool (the server) and `reproserver inspect` (which reads in its own
 * process). Big packages take time to hash or decompress, so they get more, said only when it
 * counts.
 */
import { RpzError } from '../errors';

/** Extra deadline per 16 MiB of package: a 1 GiB package gets 64 s more to be hashed or walked. */
export const SECONDS_PER_16_MIB = 1;

export interface ReadDeadline {
  /** The whole deadline, ms. */
  ms: number;
  /** The part of it that the package's size added, ms. */
  extraMs: number;
}

/** The same, per MiB. */
export const MS_PER_MIB = (SECONDS_PER_16_MIB * 1000) / 16;

export function readDeadline(
  baseMs: number,
  sizeBytes: number,
  msPerMib = MS_PER_MIB
): ReadDeadline {
  const extraMs = Math.round(
    (Math.max(0, sizeBytes) / (1024 * 1024)) * msPerMib
  );
  return { ms: baseMs + extraMs, extraMs };
}

export function formatSeconds(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))} s`;
}

/** `read-timeout`: which limit (by the name the user can change) and the package's label. */
export function readTimeoutError(
  deadline: ReadDeadline,
  limitName: string,
  label: string
): RpzError {
  const extra =
    deadline.extraMs >= 1000
      ? `, plus ${formatSeconds(deadline.extraMs)} for the package's size`
      : '';
  return new RpzError(
    'read-timeout',
    `Reading the package took longer than ${formatSeconds(deadline.ms)} (${limitName}${extra}); it is refused (${label})`
  );
}
