/** Edits the benchmarks apply to a package's runs. */

/**
 * The edit a user makes most: the first step's last argument, when it is a number, one more (as
 * the panel's number field would); else it stays. Also returns the argument's index, its new
 * value and the resulting argv.
 */
export function lastArgumentChanged(model) {
  const step = model.runs[0];
  const last = step.argv.length - 1;
  const changed = /^\d+$/.test(step.argv[last])
    ? String(Number(step.argv[last]) + 1)
    : step.argv[last];
  return {
    index: last,
    value: changed,
    edits: {
      stepEdits: [{ step: 0, args: [{ index: last, value: changed }] }]
    },
    argv: [...step.argv.slice(0, last), changed]
  };
}
