/**
 * A unified diff (as `diff -u` prints it) from an edit script: hunks of changes with a few lines
 * of context, each headed by `@@ -start,count +start,count @@`.
 */
import type { LineOp } from './myers';

export interface UnifiedDiff {
  /** The diff's text, headers included; empty when the lines are the same. */
  text: string;
  added: number;
  removed: number;
}

export function unifiedDiff(
  a: readonly string[],
  b: readonly string[],
  ops: readonly LineOp[],
  labels: { a: string; b: string },
  context: number
): UnifiedDiff {
  const changed = ops.map(op => op.op !== 'equal');
  const added = ops.filter(op => op.op === 'insert').length;
  const removed = ops.filter(op => op.op === 'delete').length;
  if (added + removed === 0) {
    return { text: '', added, removed };
  }
  // Lines of each side before each op: where a hunk starts.
  const beforeA = new Int32Array(ops.length + 1);
  const beforeB = new Int32Array(ops.length + 1);
  ops.forEach((op, j) => {
    beforeA[j + 1] = beforeA[j] + (op.op === 'insert' ? 0 : 1);
    beforeB[j + 1] = beforeB[j] + (op.op === 'delete' ? 0 : 1);
  });
  const out: string[] = [`--- ${labels.a}`, `+++ ${labels.b}`];
  let i = 0;
  while (i < ops.length) {
    if (!changed[i]) {
      i++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` after the last change that
    // is at most 2 × context lines of equal text further.
    const first = Math.max(0, i - context);
    let last = i;
    for (let j = i; j < ops.length; j++) {
      if (changed[j]) {
        last = j;
      } else if (j - last > 2 * context) {
        break;
      }
    }
    const end = Math.min(ops.length, last + context + 1);
    out.push(
      hunkHeader(
        [beforeA[first], beforeA[end] - beforeA[first]],
        [beforeB[first], beforeB[end] - beforeB[first]]
      )
    );
    for (let j = first; j < end; j++) {
      const op = ops[j];
      out.push(
        op.op === 'equal'
          ? ` ${a[op.a]}`
          : op.op === 'delete'
            ? `-${a[op.a]}`
            : `+${b[op.b]}`
      );
    }
    i = end;
  }
  return { text: out.join('\n') + '\n', added, removed };
}

function hunkHeader(
  [startA, countA]: [number, number],
  [startB, countB]: [number, number]
): string {
  // As diff(1): an empty side's start is the line before it.
  const range = (start: number, count: number) =>
    `${count === 0 ? start : start + 1},${count}`;
  return `@@ -${range(startA, countA)} +${range(startB, countB)} @@`;
}
