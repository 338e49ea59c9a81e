/**
 * Comparing two runs: the summary (the edits that separate them, each output identical, changed,
 * or in one run only, with the view that suits it) from the records alone, plus a look at the
 * first bytes of changed outputs; the detail of one output (a diff, a table of changed cells, a
 * pixel difference) reading at most the bounds of `bounds.ts`.
 */
import type {
  CompareSummary,
  OutputComparison,
  OutputDetail,
  TextDiff
} from '../contract/wire';
import { COMPARE_BOUNDS, type CompareBounds } from './bounds';
import { compareCsv, NO_TOLERANCE, type Tolerance } from './csv';
import { separatingEdits } from './facts';
import { compareImages, type ImageComparison } from './image';
import { readAtMost, readHead } from './read';
import type { RunSide, SideOutput } from './side';
import { diffTexts } from './text';
import { csvSeparator, viewByName, viewOf, type OutputView } from './view';

export type Bounds = CompareBounds;

/** Each output of either run, paired by name (A's order, then B's own). */
function pairs(
  a: RunSide,
  b: RunSide,
  max: number
): { name: string; a?: SideOutput; b?: SideOutput }[] {
  const ofB = new Map(b.outputs.map(output => [output.name, output]));
  const ofA = new Set(a.outputs.map(output => output.name));
  return [
    ...a.outputs.map(output => ({
      name: output.name,
      a: output,
      b: ofB.get(output.name)
    })),
    ...b.outputs
      .filter(output => !ofA.has(output.name))
      .map(output => ({ name: output.name, b: output }))
  ].slice(0, max);
}

async function viewOfPair(
  a: RunSide,
  b: RunSide,
  pair: { name: string; a?: SideOutput; b?: SideOutput },
  bounds: Bounds
): Promise<OutputView> {
  // Read nothing when the name says it (a blob store may be remote).
  const byName = viewByName(pair.name);
  if (byName) {
    return byName;
  }
  const side = pair.a ? a : b;
  const output = (pair.a ?? pair.b)!;
  const head = await readHead(await side.open(output), bounds.sniffBytes);
  return viewOf(pair.name, head);
}

function stateOf(pair: { a?: SideOutput; b?: SideOutput }) {
  return !pair.b
    ? 'only-a'
    : !pair.a
      ? 'only-b'
      : pair.a.sha256 === pair.b.sha256
        ? 'identical'
        : 'changed';
}

const factsOfFile = (output?: SideOutput) =>
  output ? { size: output.size, sha256: output.sha256 } : null;

export async function compareRuns(
  a: RunSide,
  b: RunSide,
  ids: { a: string; b: string },
  bounds: Bounds = COMPARE_BOUNDS
): Promise<CompareSummary> {
  const all = pairs(a, b, Number.MAX_SAFE_INTEGER);
  const listed = all.slice(0, bounds.outputs);
  const outputs: OutputComparison[] = [];
  for (const pair of listed) {
    outputs.push({
      name: pair.name,
      state: stateOf(pair),
      view: await viewOfPair(a, b, pair, bounds),
      a: factsOfFile(pair.a),
      b: factsOfFile(pair.b)
    });
  }
  return {
    a: ids.a,
    b: ids.b,
    identical: all.every(pair => stateOf(pair) === 'identical'),
    differences: separatingEdits(a.facts, b.facts),
    outputs,
    truncated: all.length > listed.length
  };
}

/** The comparison of one output, or undefined when neither run has it. */
export async function outputComparison(
  a: RunSide,
  b: RunSide,
  name: string,
  bounds: Bounds = COMPARE_BOUNDS
): Promise<OutputComparison | undefined> {
  const pair = {
    name,
    a: a.outputs.find(output => output.name === name),
    b: b.outputs.find(output => output.name === name)
  };
  if (!pair.a && !pair.b) {
    return undefined;
  }
  return {
    name,
    state: stateOf(pair),
    view: await viewOfPair(a, b, pair, bounds),
    a: factsOfFile(pair.a),
    b: factsOfFile(pair.b)
  };
}

/** Reads an output up to `max` bytes (null when larger; empty when the run lacks it). */
async function bytesOf(
  side: RunSide,
  output: SideOutput | undefined,
  max: number
): Promise<Buffer | null> {
  if (!output) {
    return Buffer.alloc(0);
  }
  if (output.size > max) {
    return null;
  }
  return readAtMost(await side.open(output), max);
}

/** The detail of one output compared: the view's diff. */
export async function compareOutput(
  a: RunSide,
  b: RunSide,
  comparison: OutputComparison,
  tolerance: Tolerance = NO_TOLERANCE,
  bounds: Bounds = COMPARE_BOUNDS
): Promise<OutputDetail> {
  const outputA = a.outputs.find(output => output.name === comparison.name);
  const outputB = b.outputs.find(output => output.name === comparison.name);
  const detail: OutputDetail = { output: comparison };
  const { view } = comparison;
  if (view === 'binary') {
    return detail;
  }
  if (view === 'png') {
    detail.image = (await imageComparison(a, b, comparison, bounds)).diff;
    return detail;
  }
  const max = view === 'csv' ? bounds.csvBytes : bounds.textBytes;
  const bytesA = await bytesOf(a, outputA, max);
  const bytesB = await bytesOf(b, outputB, max);
  if (view === 'csv' && bytesA && bytesB) {
    detail.csv = compareCsv(
      bytesA.toString('utf8'),
      bytesB.toString('utf8'),
      csvSeparator(comparison.name),
      tolerance,
      bounds
    );
  }
  detail.text = await diffTexts(
    sideOf(a, comparison.name, outputA, bytesA, bounds.textBytes),
    sideOf(b, comparison.name, outputB, bytesB, bounds.textBytes),
    bounds
  );
  return detail;
}

function sideOf(
  side: RunSide,
  name: string,
  output: SideOutput | undefined,
  bytes: Buffer | null,
  maxText: number
) {
  return {
    label: output ? `${side.label}/${name.replace(/^\//, '')}` : '/dev/null',
    bytes: bytes && bytes.length <= maxText ? bytes : null,
    size: output?.size ?? 0,
    sha256: output?.sha256 ?? 'none'
  };
}

/** The pixel difference of a PNG output of both runs (the difference image when there is one). */
export async function imageComparison(
  a: RunSide,
  b: RunSide,
  comparison: OutputComparison,
  bounds: Bounds = COMPARE_BOUNDS
): Promise<ImageComparison> {
  const outputA = a.outputs.find(output => output.name === comparison.name);
  const outputB = b.outputs.find(output => output.name === comparison.name);
  if (!outputA || !outputB) {
    return {
      diff: {
        a: null,
        b: null,
        differingPixels: null,
        ratio: null,
        note: 'Only one run has this image.'
      },
      png: null
    };
  }
  return compareImages(
    await bytesOf(a, outputA, bounds.pngBytes),
    await bytesOf(b, outputB, bounds.pngBytes),
    bounds.pngPixels
  );
}

/** The two runs' logs as a unified diff; null when a side has no log (an output folder). */
export async function compareLogs(
  a: RunSide,
  b: RunSide,
  bounds: Bounds = COMPARE_BOUNDS
): Promise<TextDiff | null> {
  if (!a.logText || !b.logText) {
    return null;
  }
  const logA = await a.logText(bounds.textBytes);
  const logB = await b.logText(bounds.textBytes);
  return diffTexts(
    {
      label: `${a.label}/log`,
      bytes: logA.text,
      size: logA.size
    },
    {
      label: `${b.label}/log`,
      bytes: logB.text,
      size: logB.size
    },
    bounds
  );
}
