/**
 * Comparisons of two ended runs, as the API serves them: the summary, one output's detail, the
 * difference image of a PNG output, the logs' diff. The work is `compare/`'s; this checks the
 * runs exist and have ended, and builds their sides from the records, blobs and logs.
 */
import type { CompareSummary, OutputDetail, TextDiff } from '../contract/wire';
import { COMPARE_BOUNDS } from '../compare/bounds';
import {
  compareLogs,
  compareOutput,
  compareRuns,
  imageComparison,
  outputComparison
} from '../compare/compare';
import { NO_TOLERANCE, type Tolerance } from '../compare/csv';
import { recordSide } from '../compare/record-side';
import type { RunSide } from '../compare/side';
import { DomainError, notFound } from '../errors';
import { FINAL_STATUSES } from '../runs/events';
import type { BlobStore, EventLogs } from '../store';
import type { Records } from '../store/records';

export interface CompareStores {
  records: Records;
  blobs: BlobStore;
  logs: EventLogs;
}

export class CompareService {
  constructor(private readonly stores: CompareStores) {}

  summary(a: string, b: string): Promise<CompareSummary> {
    return compareRuns(this.side(a), this.side(b), { a, b });
  }

  async output(
    a: string,
    b: string,
    name: string,
    tolerance: Tolerance = NO_TOLERANCE
  ): Promise<OutputDetail> {
    const sideA = this.side(a);
    const sideB = this.side(b);
    const comparison = await outputComparison(sideA, sideB, name);
    if (!comparison) {
      throw notFound(`The output "${name}" in run ${a} or run ${b}`);
    }
    return compareOutput(sideA, sideB, comparison, tolerance);
  }

  /** The difference image of a PNG output both runs produced at the same size. */
  async image(a: string, b: string, name: string): Promise<Buffer> {
    const sideA = this.side(a);
    const sideB = this.side(b);
    const comparison = await outputComparison(sideA, sideB, name);
    if (!comparison) {
      throw notFound(`The output "${name}" in run ${a} or run ${b}`);
    }
    if (comparison.view !== 'png') {
      throw new DomainError(
        'not-comparable',
        `The output "${name}" is not a PNG image; ask /api/compare/output for its diff.`
      );
    }
    const { diff, png } = await imageComparison(sideA, sideB, comparison);
    if (!png) {
      throw new DomainError(
        'not-comparable',
        `The output "${name}" has no difference image: ${diff.note ?? 'the images cannot be compared pixel by pixel.'}`
      );
    }
    return png();
  }

  async log(a: string, b: string): Promise<TextDiff> {
    return (await compareLogs(this.side(a), this.side(b)))!;
  }

  /** A run of the records as one side; it must exist and have ended. */
  side(id: string): RunSide {
    const run = /^[A-Za-z0-9_-]{1,64}$/.test(id)
      ? this.stores.records.getRun(id)
      : undefined;
    if (!run) {
      throw notFound(`Run ${id}`);
    }
    if (!FINAL_STATUSES.includes(run.status)) {
      throw new DomainError(
        'not-ended',
        `Run ${id} has not ended yet; compare it when it has.`
      );
    }
    return recordSide(this.stores, run, COMPARE_BOUNDS.outputs);
  }
}

/** A tolerance from the query's text (absent: 0); throws a bad-request sentence otherwise. */
export function toleranceOf(
  absolute: string | null,
  relative: string | null
): Tolerance {
  const parse = (text: string | null, name: string) => {
    if (text === null || text === '') {
      return 0;
    }
    const value = Number(text);
    if (
      !/^[0-9.eE+-]{1,32}$/.test(text) ||
      !Number.isFinite(value) ||
      value < 0
    ) {
      throw new DomainError(
        'bad-request',
        `${name} must be a number at least 0, not "${text.slice(0, 40)}".`
      );
    }
    return value;
  };
  return {
    absolute: parse(absolute, 'tolerance'),
    relative: parse(relative, 'relativeTolerance')
  };
}
