/**
 * Whether a metric's regular expression may run. JavaScript's engine backtracks, so a pattern can
 * take exponential time on a line made for it. Two guards, each for what the other cannot do:
 *
 * - here, at validation: patterns whose classic blow-up shape is visible in the text — a repeated
 *   group that itself repeats (`(a+)+`, `(\w*\s?)*`, `(x|y)+` with a quantifier inside) — are
 *   refused with a sentence saying what to write instead, before anything runs;
 * - at extraction (`regex-runner.ts`): every pattern runs in a worker thread with a time limit,
 *   on lines cut to `METRIC_BOUNDS.lineBytes`, because polynomial blow-ups (`a*a*a*b` on a 64 KiB
 *   line) pass any simple static check. A worker that overruns is terminated: its metrics are
 *   null for that run, and the event loop never waited on it.
 */

/** Null when the pattern may run; else a sentence saying what to change. */
export function regexProblem(pattern: string): string | null {
  try {
    new RegExp(pattern);
  } catch (error) {
    return `The pattern /${pattern}/ is not a regular expression (${(error as Error).message}); fix it.`;
  }
  if (hasNestedQuantifier(pattern)) {
    return `The pattern /${pattern}/ repeats a group that itself repeats (like (a+)+), which can take forever on some lines; repeat the inner part only, e.g. (a+) instead of (a+)+.`;
  }
  return null;
}

/** A quantifier that lets its atom repeat a varying number of times: `*`, `+`, `{n,}`, `{n,m}`. */
function repeatsAt(pattern: string, i: number): boolean {
  const c = pattern[i];
  if (c === '*' || c === '+') {
    return true;
  }
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!m) {
      return false;
    }
    // `{n}` is a fixed count; `{n,}` and `{n,m}` (m > n) let the atom vary.
    if (m[2] === undefined) {
      return false;
    }
    return m[3] === '' || Number(m[3]) > Number(m[1]);
  }
  return false;
}

/** True when a group containing a repeating quantifier is itself repeated. */
export function hasNestedQuantifier(pattern: string): boolean {
  // For each open group: whether something inside it repeats.
  const groups: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      // An escaped atom may itself be quantified: `\d+` inside a group.
      if (repeatsAt(pattern, i + 1) && groups.length > 0) {
        groups[groups.length - 1] = true;
      }
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        if (repeatsAt(pattern, i + 1) && groups.length > 0) {
          groups[groups.length - 1] = true;
        }
      }
      continue;
    }
    if (c === '[') {
      inClass = true;
    } else if (c === '(') {
      groups.push(false);
    } else if (c === ')') {
      const inner = groups.pop() ?? false;
      const repeated = repeatsAt(pattern, i + 1);
      if (inner && repeated) {
        return true;
      }
      if ((inner || repeated) && groups.length > 0) {
        groups[groups.length - 1] = true;
      }
    } else if (repeatsAt(pattern, i) && groups.length > 0) {
      groups[groups.length - 1] = true;
    }
  }
  return false;
}
