/**
 * How much comparing two runs may read, hold and compute. Plain values (no schema library), so
 * the panel can import them through the contract's entry. Past a bound, a comparison says so
 * (sizes and hashes instead of a diff), never hangs or grows without end.
 */
export const COMPARE_BOUNDS = {
  /** A text output (or log) larger than this is not diffed: sizes and hashes instead. */
  textBytes: 2 * 1024 * 1024,
  /** Lines per side a text diff takes. */
  textLines: 50_000,
  /** Line edits (insertions + deletions) a diff may find before it gives up. */
  textEdits: 2_000,
  /** A CSV output larger than this is compared as text, by size and hash. */
  csvBytes: 8 * 1024 * 1024,
  /** Rows and columns a CSV comparison reads. */
  csvRows: 200_000,
  csvColumns: 1_000,
  /** Changed cells listed (all are counted). */
  csvCellsListed: 1_000,
  /** A PNG larger than this (file) is compared by hash only. */
  pngBytes: 32 * 1024 * 1024,
  /** Pixels (width × height) a PNG may have to be decoded, checked before decoding. */
  pngPixels: 16 * 1024 * 1024,
  /** Outputs per run a comparison lists. */
  outputs: 2_000,
  /** Bytes read from the start of an output to tell text from binary. */
  sniffBytes: 8 * 1024,
  /** Lines of context around each change of a unified diff. */
  contextLines: 3
} as const;

/** The bounds' shape, for code and tests that pass other values. */
export type CompareBounds = Record<keyof typeof COMPARE_BOUNDS, number>;
