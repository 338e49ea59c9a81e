/**
 * `reproserver diff A B`: compares two runs, by their ids in a state folder (`reproserver run
 * --state DIR` records them there, run.json says the id) or as two output folders (`run --out`,
 * each variant of `sweep --out`). Prints the edits that separate them, each output identical or
 * not, the diffs, and the logs' diff (runs only). Exit codes as diff(1): 0 every output the same
 * (a CSV within the tolerance counts as the same), 1 some differ, 2 bad usage or a run not found.
 */
import { stat } from 'node:fs/promises';
import { COMPARE_BOUNDS } from '../compare/bounds';
import { compareLogs, compareOutput, compareRuns } from '../compare/compare';
import { folderSide } from '../compare/folder-side';
import type { RunSide } from '../compare/side';
import { loadConfig } from '../config';
import { errorMessage } from '../describe';
import { CompareService, toleranceOf } from '../service/compare';
import type * as StoreModule from '../store';
import { argsOrExit, lastValues } from './args';
import { printDetail, printLogDiff, printSummary } from './diff-print';
import { DIFF_SPEC, DIFF_USAGE } from './usage';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function diffCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(DIFF_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const options = lastValues(parsed.flags);
  if (parsed.positionals.length !== 2) {
    console.error(`Usage: ${DIFF_USAGE}`);
    return 2;
  }
  const [a, b] = parsed.positionals;
  let tolerance;
  try {
    tolerance = toleranceOf(
      options.tolerance ?? null,
      options['relative-tolerance'] ?? null
    );
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 2;
  }
  const folders = (await isFolder(a)) && (await isFolder(b));
  if (folders) {
    let sideA: RunSide;
    let sideB: RunSide;
    try {
      sideA = await folderSide(a, COMPARE_BOUNDS.outputs);
      sideB = await folderSide(b, COMPARE_BOUNDS.outputs);
    } catch (error) {
      console.error(`reproserver: ${errorMessage(error)}`);
      return 2;
    }
    return printComparison(sideA, sideB, { a, b }, tolerance);
  }
  /* eslint-disable @typescript-eslint/no-require-imports */
  // SQLite and the blob stores: loaded only when runs are compared, not folders.
  const { openStore } = require('../store') as typeof StoreModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  let stateDir: string;
  try {
    stateDir = loadConfig(options).stateDir;
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 2;
  }
  const store = openStore(stateDir);
  try {
    const compare = new CompareService(store);
    let sideA: RunSide;
    let sideB: RunSide;
    try {
      sideA = compare.side(a);
      sideB = compare.side(b);
    } catch (error) {
      console.error(
        `reproserver: ${errorMessage(error)} (runs are looked up in ${stateDir}; give two output folders, or --state DIR)`
      );
      return 2;
    }
    return await printComparison(sideA, sideB, { a, b }, tolerance);
  } finally {
    await store.close();
  }
}

/** Prints the comparison; the exit code (0 the same, 1 different). */
export async function printComparison(
  a: RunSide,
  b: RunSide,
  ids: { a: string; b: string },
  tolerance: { absolute: number; relative: number }
): Promise<number> {
  const summary = await compareRuns(a, b, ids);
  say(`A: ${a.label}`);
  say(`B: ${b.label}`);
  printSummary(summary, say);
  // The same: every output identical, or a CSV changed only within the tolerance.
  let same = !summary.truncated;
  for (const output of summary.outputs) {
    if (output.state === 'identical') {
      continue;
    }
    const detail = await compareOutput(a, b, output, tolerance);
    const withinTolerance = printDetail(detail, say);
    if (output.state !== 'changed' || !withinTolerance) {
      same = false;
    }
  }
  printLogDiff(await compareLogs(a, b), say);
  return same ? 0 : 1;
}
