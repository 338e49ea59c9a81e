/**
 * An upper bound on the nesting depth of a YAML text, from the `yaml` library's lexer alone. The
 * composer (`parseDocument`) recurses once per level and, on deeply nested input, runs out of
 * stack or memory (50 000 compact `- - - …` levels abort the whole process), and the CST parser
 * slows down quadratically: so the depth is bounded before either runs. The lexer is a linear
 * state machine and keeps quoted scalars, comments and block scalars whole, so brackets or dashes
 * inside them do not count.
 *
 * The bound: flow collections are counted exactly (`[`/`{` open, `]`/`}` close). Block
 * collections nest either on one line (`- - a: b`: one level per indicator) or through lines of
 * greater indentation; a line may open at most two levels at its own column (a map and the
 * sequence that is one of its values) plus one per indicator on it. So each line's depth is at
 * most its parent line's (the last line with less indentation) plus 2 plus its indicators. Real
 * ReproZip configs are nested 4 deep and bound at about 13.
 */
import { CST, Lexer } from 'yaml';

/** Indicators that open a block collection level (or a pair) on their line. */
const INDICATORS = new Set([
  'seq-item-ind',
  'explicit-key-ind',
  'map-value-ind'
]);

/** The bound for `source`, or the first value over `stopAbove` (it stops counting there). */
export function yamlDepthBound(source: string, stopAbove: number): number {
  return yamlShape(source, stopAbove, Infinity).depth;
}

/**
 * The depth bound and the number of lexer tokens of `source`, in one pass that stops as soon as
 * the depth passes `maxDepth` or the tokens pass `maxTokens`. (The composer keeps about 800 bytes
 * per node: tokens bound its memory before it runs.)
 */
export function yamlShape(
  source: string,
  maxDepth: number,
  maxTokens: number
): { depth: number; tokens: number } {
  // Lines with less indentation still open: [indent, depth bound at the end of that line].
  const indents: number[] = [];
  const depths: number[] = [];
  let flow = 0;
  let lineStart = true;
  let indent = 0;
  let base = 0; // bound of the parent line
  let indicators = 0; // on the current line
  let lineOpened = false; // the current line's first token was seen
  let max = 0;
  let tokens = 0;
  for (const token of new Lexer().lex(source)) {
    if (++tokens > maxTokens) {
      break;
    }
    const type = CST.tokenType(token);
    if (type === 'newline') {
      if (lineOpened && flow === 0) {
        depths[depths.length - 1] = base + 2 + indicators;
      }
      lineStart = true;
      lineOpened = false;
      indent = 0;
      indicators = 0;
      continue;
    }
    if (lineStart && type === 'space' && !token.includes('\n')) {
      indent = token.length;
      lineStart = false;
      continue;
    }
    lineStart = false;
    if (type === 'comment' || type === 'space' || type === 'doc-mode') {
      continue;
    }
    if (!lineOpened && flow === 0) {
      // The first real token of a block line: find its parent line.
      lineOpened = true;
      while (indents.length > 0 && indents[indents.length - 1] >= indent) {
        indents.pop();
        depths.pop();
      }
      base = depths.length > 0 ? depths[depths.length - 1] : 0;
      indents.push(indent);
      depths.push(base + 2);
    }
    if (type === 'flow-seq-start' || type === 'flow-map-start') {
      flow++;
    } else if (type === 'flow-seq-end' || type === 'flow-map-end') {
      flow = Math.max(0, flow - 1);
    } else if (type !== null && INDICATORS.has(type) && flow === 0) {
      indicators++;
    }
    // Inside a flow collection, an implicit pair (`[a: b]`) adds one level.
    const bound = base + 2 + indicators + flow + (flow > 0 ? 1 : 0);
    if (bound > max) {
      max = bound;
      if (max > maxDepth) {
        break;
      }
    }
  }
  return { depth: max, tokens };
}
