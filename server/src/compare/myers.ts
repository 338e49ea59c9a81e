/**
 * The shortest edit script between two lists of lines (Myers, "An O(ND) difference algorithm",
 * 1986), bounded: past `maxEdits` insertions + deletions it gives up (null) instead of working
 * for O(N·D) with a large D. It yields to the event loop every few rounds, so a large diff never
 * holds the server up.
 */

/** One line of the script: kept (in both), deleted (from a), inserted (from b); 0-based. */
export type LineOp =
  | { op: 'equal'; a: number; b: number }
  | { op: 'delete'; a: number }
  | { op: 'insert'; b: number };

/** Rounds of the search between two yields to the event loop. */
const ROUNDS_PER_YIELD = 64;

const nextTurn = () => new Promise<void>(resolve => setImmediate(resolve));

/** The edit script from `a` to `b`, or null when it needs more than `maxEdits` edits. */
export async function diffLines(
  a: readonly string[],
  b: readonly string[],
  maxEdits: number
): Promise<LineOp[] | null> {
  // Common ends cost nothing to find and shrink the search.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) {
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  // Lines as numbers: the inner loop compares integers, not strings.
  const ids = new Map<string, number>();
  const idOf = (line: string) => {
    let id = ids.get(line);
    if (id === undefined) {
      id = ids.size;
      ids.set(line, id);
    }
    return id;
  };
  const x0 = Int32Array.from(a.slice(start, endA), idOf);
  const y0 = Int32Array.from(b.slice(start, endB), idOf);
  const middle = await shortestScript(x0, y0, maxEdits);
  if (middle === null) {
    return null;
  }
  const ops: LineOp[] = [];
  for (let i = 0; i < start; i++) {
    ops.push({ op: 'equal', a: i, b: i });
  }
  for (const op of middle) {
    ops.push(
      op.op === 'equal'
        ? { op: 'equal', a: op.a + start, b: op.b + start }
        : op.op === 'delete'
          ? { op: 'delete', a: op.a + start }
          : { op: 'insert', b: op.b + start }
    );
  }
  for (let i = 0; i < a.length - endA; i++) {
    ops.push({ op: 'equal', a: endA + i, b: endB + i });
  }
  return ops;
}

async function shortestScript(
  a: Int32Array,
  b: Int32Array,
  maxEdits: number
): Promise<LineOp[] | null> {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d]: the slice of v (diagonals -d-1 … d+1) as round d found it, for the way back.
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    if (d > 0 && d % ROUNDS_PER_YIELD === 0) {
      await nextTurn();
    }
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
          ? v[offset + k + 1]
          : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        return backtrack(trace, n, m);
      }
    }
  }
  return null;
}

function backtrack(trace: Int32Array[], n: number, m: number): LineOp[] {
  const ops: LineOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d];
    // v holds diagonals -d-1 … d+1: diagonal k is at k + d + 1.
    const at = (k: number) => v[k + d + 1];
    const k = x - y;
    const previousK =
      k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const previousX = at(previousK);
    const previousY = previousX - previousK;
    while (x > previousX && y > previousY) {
      x--;
      y--;
      ops.push({ op: 'equal', a: x, b: y });
    }
    if (d > 0) {
      if (x === previousX) {
        y--;
        ops.push({ op: 'insert', b: y });
      } else {
        x--;
        ops.push({ op: 'delete', a: x });
      }
    }
  }
  return ops.reverse();
}
