/**
 * The one way a metric's text becomes a number, strict: an integer, a decimal or an exponent
 * form (`3`, `-0.25`, `.5`, `1e-3`, `+2.`). Anything else (`inf`, `nan`, `12%`, `0x10`, `1,5`,
 * an empty cell) is no number: null, never a guess.
 */
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** Longer than any number a program prints; keeps the test cheap on hostile cells. */
const MAX_NUMBER_CHARS = 64;

export function parseMetricNumber(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_NUMBER_CHARS) {
    return null;
  }
  if (!NUMBER.test(trimmed)) {
    return null;
  }
  const value = Number(trimmed);
  // 1e999 parses as Infinity: no number either.
  return Number.isFinite(value) ? value : null;
}
