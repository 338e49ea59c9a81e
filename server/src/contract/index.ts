/**
 * The panel's one entry into the server's code, `reproserver/contract`: the wire types and the few
 * pure functions that both sides run (the events → summary reduction, command-line quoting, the
 * exposure rules, byte sizes). The package's `exports` map offers this entry alone, so the panel
 * cannot reach into `dist/` paths; its unit tests map it to these sources (jest.config.js), so they
 * never run against a stale build.
 *
 * Browser-safe: nothing reachable from here imports a Node.js built-in or a package at run time
 * (`test/unit/contract/entry.test.ts` walks the imports), so the extension's bundle can take it.
 */
export * from './wire';
export { formatBytes } from './bytes';
export { FINAL_STATUSES } from '../runs/events';
export {
  applyRunEvent,
  startSummary,
  type RunSummary,
  type StepSummary
} from '../runs/summary';
export { exposuresOf, needsConsent, type Exposure } from '../backends/exposure';
export type { InputSource, StepEdit } from '../runs/edits';
export { joinCommandLine, quoteWord, splitCommandLine } from '../runs/cmdline';
export type { ArgParameter } from '../rpz/parameters';
export { SWEEP_BOUNDS } from '../sweeps/bounds';
export { METRIC_BOUNDS, METRIC_REDUCERS } from '../metrics/bounds';
export {
  fieldValues,
  lockedChanges,
  opens,
  type LockedChange
} from '../runfiles/fields';
export { countVariants, fieldLabel, variantId } from '../sweeps/count';
export { parseRangeText, splitValueList } from '../sweeps/values-syntax';
