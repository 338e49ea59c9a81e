/**
 * What a metric may be and how much of a run's log or output extracting one may read. Plain
 * values (no schema library), so the panel can import them through the contract's entry.
 */

/** How a CSV column becomes one number (default: the last row's). */
export const METRIC_REDUCERS = [
  'last',
  'first',
  'mean',
  'min',
  'max',
  'sum',
  'count'
] as const;
export type MetricReducer = (typeof METRIC_REDUCERS)[number];

export const METRIC_BOUNDS = {
  /** Metrics per package. */
  metrics: 32,
  /** A log line or CSV row longer than this is cut there before matching. */
  lineBytes: 64 * 1024,
  /** A JSON output larger than this is not parsed (its metrics are null). */
  jsonBytes: 16 * 1024 * 1024,
  /** A CSV output is read up to this many data rows. */
  csvRows: 1_000_000,
  /** A JSON output nested deeper than this (arrays and objects) is not parsed. */
  jsonDepth: 512,
  /** The time all of a run's regular expressions may take together, ms (then they are null). */
  regexMs: 5_000
} as const;
