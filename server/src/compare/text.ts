/**
 * Two texts as a unified diff, bounded: above a size, a number of lines or a number of edits,
 * "too large to diff" with the sizes and hashes instead.
 */
import type { TextDiff } from '../contract/wire';
import { COMPARE_BOUNDS, type CompareBounds } from './bounds';
import { diffLines } from './myers';
import { unifiedDiff } from './unified';

/** One side of a text comparison: its bytes (null when over the size bound), size and hash. */
export interface TextSide {
  label: string;
  bytes: Buffer | null;
  size: number;
  /** Said when the texts are too large to diff (a log has none). */
  sha256?: string;
}

export type TextBounds = Pick<
  CompareBounds,
  'textBytes' | 'textLines' | 'textEdits' | 'contextLines'
>;

/** Lines of a text, without their ends; a last line without one is marked as diff(1) does. */
export function splitLines(text: string): string[] {
  if (text === '') {
    return [];
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
  } else {
    lines[lines.length - 1] += '\n\\ No newline at end of file';
  }
  return lines.map(line => line.replace(/\r$/, ''));
}

const facts = (side: TextSide) =>
  side.sha256
    ? `${side.size} bytes, sha256 ${side.sha256}`
    : `${side.size} bytes`;

export async function diffTexts(
  a: TextSide,
  b: TextSide,
  bounds: TextBounds = COMPARE_BOUNDS
): Promise<TextDiff> {
  const tooLarge = (why: string): TextDiff => ({
    diff: null,
    added: 0,
    removed: 0,
    tooLarge: `Too large to diff (${why}): A is ${facts(a)}; B is ${facts(b)}.`
  });
  if (a.bytes === null || b.bytes === null) {
    return tooLarge(`more than ${bounds.textBytes} bytes`);
  }
  const linesA = splitLines(a.bytes.toString('utf8'));
  const linesB = splitLines(b.bytes.toString('utf8'));
  if (linesA.length > bounds.textLines || linesB.length > bounds.textLines) {
    return tooLarge(`more than ${bounds.textLines} lines`);
  }
  const ops = await diffLines(linesA, linesB, bounds.textEdits);
  if (ops === null) {
    return tooLarge(`more than ${bounds.textEdits} changed lines`);
  }
  const diff = unifiedDiff(
    linesA,
    linesB,
    ops,
    { a: a.label, b: b.label },
    bounds.contextLines
  );
  return {
    diff: diff.text,
    added: diff.added,
    removed: diff.removed,
    tooLarge: null
  };
}
