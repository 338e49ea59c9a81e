/**
 * The syntax of an axis's values, as people type them on the command line and in the panel: a
 * numeric range `start:stop[:step]` (the stop included; without a step, 1 or -1 toward the stop),
 * else a comma-separated list where `\,` is a comma inside a value, `\:` a colon and `\\` a
 * backslash. One definition for the CLI (`cli/sweep-flags.ts`) and the panel (`src/sweep/`), so
 * the same text makes the same sweep in both. Pure; no Node.js built-in.
 */

const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const RANGE = new RegExp(
  `^\\s*(${NUMBER})\\s*:\\s*(${NUMBER})\\s*(?::\\s*(${NUMBER})\\s*)?$`
);
const ESCAPED = [',', ':', '\\'];

/** The range the text writes, or null when it is not one. */
export function parseRangeText(
  text: string
): { start: number; stop: number; step: number } | null {
  const match = RANGE.exec(text);
  if (!match) {
    return null;
  }
  const start = Number(match[1]);
  const stop = Number(match[2]);
  const step =
    match[3] !== undefined ? Number(match[3]) : stop >= start ? 1 : -1;
  return { start, stop, step };
}

/**
 * The values of a comma-separated list, escapes undone. `trim`: each value trimmed and empty ones
 * dropped (the panel, where a trailing comma or a space after one is no value); without it, values
 * are kept exactly as typed (the command line, where the shell already split words).
 */
export function splitValueList(
  text: string,
  options: { trim?: boolean } = {}
): string[] {
  const values: string[] = [];
  let value = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && ESCAPED.includes(text[i + 1])) {
      value += text[++i];
    } else if (c === ',') {
      values.push(value);
      value = '';
    } else {
      value += c;
    }
  }
  values.push(value);
  return options.trim
    ? values.map(v => v.trim()).filter(v => v !== '')
    : values;
}
