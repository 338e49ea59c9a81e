/**
 * The checks a metric list needs beyond its schema, each refusal one sentence saying what to
 * change (`bad-metric`): names unique, regular expressions that compile and cannot blow up in a
 * visible way, JSON paths that parse, CSV rows within the rows read.
 */
import type { MetricSpec } from '../contract/schemas/metrics';
import { DomainError } from '../errors';
import { METRIC_BOUNDS } from './bounds';
import { parseJsonPath } from './json-path';
import { regexProblem } from './regex-check';

/** The list, checked; throws `bad-metric` at the first problem. */
export function checkMetrics(specs: readonly MetricSpec[]): MetricSpec[] {
  if (specs.length > METRIC_BOUNDS.metrics) {
    throw badMetric(
      `${specs.length} metrics are more than the ${METRIC_BOUNDS.metrics} a package may have; remove some.`
    );
  }
  const names = new Set<string>();
  for (const spec of specs) {
    if (names.has(spec.name)) {
      throw badMetric(
        `Two metrics are named "${spec.name}"; give each its own name.`
      );
    }
    names.add(spec.name);
    const problem = specProblem(spec);
    if (problem !== null) {
      throw badMetric(`Metric "${spec.name}": ${problem}`);
    }
  }
  return [...specs];
}

function specProblem(spec: MetricSpec): string | null {
  switch (spec.source) {
    case 'log-pair':
      return null;
    case 'log-regex':
      return regexProblem(spec.pattern);
    case 'json': {
      const path = parseJsonPath(spec.path);
      return typeof path === 'string' ? path : null;
    }
    case 'csv':
      if (typeof spec.column === 'string' && spec.column.trim() === '') {
        return 'the column is empty; give a header name or a 0-based index.';
      }
      if (
        spec.row !== undefined &&
        Math.abs(spec.row) > METRIC_BOUNDS.csvRows
      ) {
        return `row ${spec.row} is beyond the ${METRIC_BOUNDS.csvRows} rows read; count from the end (-1 is the last).`;
      }
      if (spec.row !== undefined && spec.reduce !== undefined) {
        return 'give a row or a reduce, not both.';
      }
      return null;
  }
}

const badMetric = (message: string): DomainError =>
  new DomainError('bad-metric', message);
