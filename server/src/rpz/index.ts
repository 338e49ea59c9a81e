/**
 * The ReproZip package reader.
 *
 * Entry points:
 * - `readPackage(path, options?) → Promise<PackageModel>`: the package model (format, sha256,
 *   runs, input/output files, packages, trace summary, warnings). For a plain (v2 ≥ 1.0.6) outer
 *   tar only the metadata is read; pass `{ sha256: false }` to skip hashing the whole file.
 * - `readEntries(path, options?) → EntryStream`: the normalized, checked stream of filesystem
 *   entries (`DATA/` stripped, links checked, bodies streamed), with live progress counters.
 * - `scanEntries(path, options?) → Promise<EntryTotals>`: entry count and byte total, one pass.
 * - `runParameters` / `packageParameters`: typed parameters derived from each run's argv.
 * Every failure is an `RpzError` with a stable `code` and a sentence naming the package. Every
 * count, length and depth read from a package is capped by `READ_LIMITS` (option `readLimits`).
 */
export { RpzError, isRpzError, type RpzErrorCode } from './errors';
export type {
  ContainerKind,
  DataModel,
  IoFileModel,
  PackageModel,
  RunModel,
  SoftwarePackageModel,
  TraceModel,
  TraceRunSummary
} from './model';
export { readPackage, parseVersion, type ReadPackageOptions } from './package';
export {
  readEntries,
  scanEntries,
  type EntryProgress,
  type EntryStream,
  type EntryTotals,
  type FsEntry,
  type ReadEntriesOptions
} from './entries';
export { DEFAULT_LIMITS, type InflateLimits } from './gunzip';
export { READ_LIMITS, type ReadLimits } from './limits';
export { parseConfig, type ParsedConfig } from './config';
export {
  isNumber,
  packageParameters,
  runParameters,
  type ArgKind,
  type ArgParameter,
  type RunParameters,
  type ValueType
} from './parameters';
