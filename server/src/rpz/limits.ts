/**
 * Every cap the package reader applies to what a package declares, in one place. A package is
 * untrusted input: each count, length and depth the reader keeps in memory or loops over is
 * bounded here, so a crafted package costs time and memory linear in its size, and at most these.
 * The defaults are far above what real packages hold (reprozip packs a whole conda or Debian
 * system in a few hundred thousand entries); a package over one is refused (`limit-exceeded`)
 * with a sentence naming the limit, or, for the informational trace, summarised without it.
 *
 * Change them per call with the `readLimits` option of `readPackage` / `readEntries`, or for a
 * whole server (its reader processes inherit it) with `REPROSERVER_READ_LIMITS=name=value,…`.
 * (Decompression has its own limits, `InflateLimits` in `gunzip.ts`.)
 */
import { RpzError } from './errors';

export interface ReadLimits {
  /** Entries in the data (and members of the outer tar). */
  maxEntries: number;
  /** Total bytes of the entry paths remembered to detect duplicates and check hard links. */
  maxPathBytes: number;
  /** Bytes of one member name or link target (Linux paths stop at 4096). */
  maxNameBytes: number;
  /** Components of one member name (its depth). */
  maxPathDepth: number;
  /** Records in one pax extended header. */
  maxPaxRecords: number;
  /** Distinct keys set by global pax headers over a whole tar. */
  maxGlobalPaxRecords: number;
  /** Distinct names under `EXTENSIONS/`. */
  maxExtensions: number;
  /** Warnings kept (further ones are counted in one last warning). */
  maxWarnings: number;
  /** Nesting depth of `config.yml` (mappings and lists inside each other; an upper bound). */
  maxYamlDepth: number;
  /** Lexer tokens of `config.yml` (about 5 per list item; the YAML parser keeps ~800 B each). */
  maxYamlTokens: number;
  /** Runs in `config.yml`. */
  maxRuns: number;
  /** Entries of `inputs_outputs` (and of the old per-run input/output maps). */
  maxIoFiles: number;
  /** Software packages in `config.yml`. */
  maxPackages: number;
  /** File paths listed in `config.yml` (all packages' `files` plus `other_files`). */
  maxListedFiles: number;
  /** Arguments of one run's argv. */
  maxArgs: number;
  /** Bytes of one run's argv, all arguments together (Linux's default cap is 2 MiB for both). */
  maxArgvBytes: number;
  /** Bytes of one run's environment, names and values together. */
  maxEnvironBytes: number;
  /** Bytes of the trace database once decompressed (a bigger trace is not summarised). */
  maxTraceBytes: number;
  /** Rows read from each trace table (the summary stops there, with a warning). */
  maxTraceRows: number;
  /** Bytes of one file name in the trace (longer ones are skipped). */
  maxTraceNameBytes: number;
  /** Files listed per run and direction in the trace summary (further ones are counted). */
  maxTraceFilesPerRun: number;
}

export const READ_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxEntries: 5_000_000,
  maxPathBytes: 512 * 1024 * 1024,
  maxNameBytes: 16 * 1024,
  maxPathDepth: 1024,
  maxPaxRecords: 1000,
  maxGlobalPaxRecords: 1000,
  maxExtensions: 1000,
  maxWarnings: 1000,
  maxYamlDepth: 64,
  maxYamlTokens: 2_000_000,
  maxRuns: 10_000,
  maxIoFiles: 100_000,
  maxPackages: 100_000,
  maxListedFiles: 2_000_000,
  maxArgs: 262_144,
  maxArgvBytes: 4 * 1024 * 1024,
  maxEnvironBytes: 4 * 1024 * 1024,
  maxTraceBytes: 256 * 1024 * 1024,
  maxTraceRows: 5_000_000,
  maxTraceNameBytes: 16 * 1024,
  maxTraceFilesPerRun: 1_000_000
});

/** The environment variable an operator sets to change the defaults, for every reader. */
export const READ_LIMITS_VARIABLE = 'REPROSERVER_READ_LIMITS';

/**
 * Parses `name=value,name=value` into limits; throws one sentence naming the wrong part. Values
 * are whole numbers of at least 1.
 */
export function parseReadLimits(text: string): Partial<ReadLimits> {
  const parsed: Partial<ReadLimits> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') {
      continue;
    }
    const at = item.indexOf('=');
    const name = at > 0 ? item.slice(0, at).trim() : item;
    const value = at > 0 ? item.slice(at + 1).trim() : '';
    if (!Object.hasOwn(READ_LIMITS, name)) {
      throw new Error(
        `${READ_LIMITS_VARIABLE}: "${name.slice(0, 100)}" is not a limit; the limits are ${Object.keys(READ_LIMITS).join(', ')}.`
      );
    }
    if (!/^[0-9]{1,15}$/.test(value) || Number(value) < 1) {
      throw new Error(
        `${READ_LIMITS_VARIABLE}: the value of ${name} must be a whole number of at least 1, not "${value.slice(0, 100)}".`
      );
    }
    parsed[name as keyof ReadLimits] = Number(value);
  }
  return parsed;
}

let fromEnvironment: { text: string; limits: ReadLimits } | undefined;

/** The defaults as the environment changes them (parsed once per value). */
function defaultLimits(): ReadLimits {
  const text = process.env[READ_LIMITS_VARIABLE];
  if (!text) {
    return READ_LIMITS;
  }
  if (fromEnvironment?.text !== text) {
    fromEnvironment = {
      text,
      limits: Object.freeze({ ...READ_LIMITS, ...parseReadLimits(text) })
    };
  }
  return fromEnvironment.limits;
}

/** The defaults (as the environment sets them) with the caller's overrides. */
export function readLimits(overrides?: Partial<ReadLimits>): ReadLimits {
  const defaults = defaultLimits();
  return overrides === undefined ? defaults : { ...defaults, ...overrides };
}

/**
 * The `limit-exceeded` error. `what` completes "The package has more than <n> …", e.g.
 * "entries in its data"; the sentence then names the limit to raise.
 */
export function overLimit(
  what: string,
  limit: keyof ReadLimits,
  value: number,
  member?: string
): RpzError {
  return new RpzError(
    'limit-exceeded',
    `The package has more than ${value} ${what} (limit ${limit}); refusing to read it.`,
    member
  );
}

/**
 * Adds a warning to `list` unless it already holds `max`; the first one over says that further
 * warnings are not listed, and the rest are dropped. Returns whether `message` was kept.
 */
export function addWarning(
  list: string[],
  message: string,
  max: number
): boolean {
  if (list.length < max) {
    list.push(message);
    return true;
  }
  if (list.length === max) {
    list.push(`Further warnings are not listed (limit maxWarnings, ${max}).`);
  }
  return false;
}
