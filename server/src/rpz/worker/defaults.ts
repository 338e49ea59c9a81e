/**
 * The reader processes' defaults, apart from the reader itself: the configuration reads them, and
 * so does every command that loads the configuration, without loading the reader pool.
 */

/** The defaults, as the README states them. */
export const READER_DEFAULTS = {
  /** Deadline of one read, seconds (plus `SECONDS_PER_16_MIB` per 16 MiB of package). */
  timeoutSeconds: 60,
  /** Memory cap of a reader process, MiB. */
  memoryMib: 256,
  /** Reader processes at most. */
  processes: 2,
  /** A stream job (the image build's tar) is stopped after this long without progress, seconds. */
  stallSeconds: 120
} as const;
