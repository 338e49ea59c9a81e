/**
 * The most a sweep may ask for. Sweep specs come from the network and the command line, so a
 * hostile one is the normal case: every count is checked before anything is materialised.
 */
export const SWEEP_BOUNDS = {
  /** Fields that vary together. */
  axes: 8,
  /** Values of one axis (a range is counted, never listed, before this check). */
  valuesPerAxis: 10_000,
  /** Runs one sweep may create. */
  variants: 10_000,
  /** Characters of one value (an argument, a variable, a command line, a path). */
  valueLength: 4096
} as const;
