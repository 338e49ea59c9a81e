/** Small helpers the benchmarks share to repeat and summarize timings. */

/** Runs `fn` (which returns `{ ms, … }`) `runs` times and keeps the fastest result. */
export function best(fn, runs) {
  let result = null;
  for (let i = 0; i < runs; i++) {
    const r = fn();
    if (result === null || r.ms < result.ms) {
      result = r;
    }
  }
  return result;
}
