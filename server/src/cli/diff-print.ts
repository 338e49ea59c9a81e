/**
 * How `reproserver diff` and `reproserver check-determinism` print a comparison: the edits that
 * separate the runs, one line per output, then each changed output's view (a unified diff, the
 * changed CSV cells, a pixel count, sizes and hashes) and the logs' diff.
 */
import type { CompareSummary, OutputDetail, TextDiff } from '../contract/wire';

const STATE_WORDS = {
  identical: 'identical',
  changed: 'changed  ',
  'only-a': 'only in A',
  'only-b': 'only in B'
} as const;

export function printSummary(
  summary: CompareSummary,
  say: (line: string) => void
): void {
  if (summary.differences.length === 0) {
    say('Same settings (arguments, environment, inputs, limits, backend).');
  } else {
    say('Edits that separate the runs:');
    for (const { field, a, b } of summary.differences) {
      say(`  ${field}: ${a ?? '(as recorded)'} -> ${b ?? '(as recorded)'}`);
    }
  }
  say('Outputs:');
  for (const output of summary.outputs) {
    say(`  ${STATE_WORDS[output.state]}  ${output.name}`);
  }
  if (summary.outputs.length === 0) {
    say('  (none)');
  }
  if (summary.truncated) {
    say('  … more outputs than are compared (2,000).');
  }
}

function printText(diff: TextDiff, say: (line: string) => void): void {
  if (diff.tooLarge) {
    say(diff.tooLarge);
  } else if (diff.diff) {
    say(diff.diff.replace(/\n$/, ''));
  }
}

/** One output's detail; true when it counts as the same (CSV within tolerance). */
export function printDetail(
  detail: OutputDetail,
  say: (line: string) => void
): boolean {
  const { output } = detail;
  say('');
  say(`== ${output.name} (${output.view}, ${output.state})`);
  if (detail.csv) {
    const csv = detail.csv;
    if (csv.tooLarge) {
      say(csv.tooLarge);
    } else {
      say(
        `${csv.changedCells} changed cells; rows ${csv.rows.a} -> ${csv.rows.b}, columns ${csv.columns.a} -> ${csv.columns.b}; ${csv.verdict === 'within-tolerance' ? `all within tolerance (absolute ${csv.tolerance.absolute}, relative ${csv.tolerance.relative})` : csv.verdict}`
      );
      for (const cell of csv.cells.slice(0, 50)) {
        say(
          `  row ${cell.row}, column ${cell.columnName ?? cell.column}: ${cell.a ?? '(none)'} -> ${cell.b ?? '(none)'}${cell.delta !== null ? ` (delta ${cell.delta})` : ''}${cell.withinTolerance ? ' within tolerance' : ''}`
        );
      }
      if (csv.cells.length > 50) {
        say(`  … ${csv.changedCells - 50} more changed cells`);
      }
      if (csv.verdict === 'within-tolerance') {
        return true;
      }
    }
  }
  if (detail.image) {
    const image = detail.image;
    say(
      image.differingPixels !== null
        ? `${image.differingPixels} pixels differ (${(image.ratio! * 100).toFixed(3)} %) of ${image.a!.width}×${image.a!.height}`
        : (image.note ?? 'Not compared pixel by pixel.')
    );
  }
  if (detail.text && !detail.csv) {
    printText(detail.text, say);
  }
  if (output.view === 'binary' || (!detail.text && !detail.image)) {
    const side = (facts: typeof output.a) =>
      facts ? `${facts.size} bytes, sha256 ${facts.sha256}` : 'absent';
    say(`A: ${side(output.a)}`);
    say(`B: ${side(output.b)}`);
  }
  return false;
}

export function printLogDiff(
  diff: TextDiff | null,
  say: (line: string) => void
): void {
  if (!diff) {
    return;
  }
  say('');
  if (diff.diff === '') {
    say('== log: identical');
    return;
  }
  say('== log');
  printText(diff, say);
}
