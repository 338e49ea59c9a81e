/**
 * `reproserver sweep --metric NAME=SOURCE[:…]`: one metric in a line, as a shell takes it.
 *
 *   acc=log               the `acc=…` (or `acc: …`) pair in the log, last one
 *   acc=log:val_acc       the pair with another key; `log-first` takes the first one
 *   loss=regex:PATTERN    a regular expression over the log's lines (its first group), last match;
 *                         `regex-first` takes the first. The pattern is the rest, colons included.
 *   rmse=csv:OUT:COLUMN[:ROW|:REDUCER]
 *                         a CSV output's cell (ROW: 0-based data row, -1 the last) or its column
 *                         reduced (last, first, mean, min, max, sum, count; default last). COLUMN
 *                         is a header name, or a 0-based index when it is a number.
 *   n=json:OUT:PATH       the number at a path of a JSON output (`stats.n`, `runs[0].y`).
 *
 * OUT is the output's name in the package (`reproserver inspect` lists them) or its path in the
 * run. Every mistake is one sentence naming the flag.
 */
import type { MetricSpec } from '../contract/schemas/metrics';
import { METRIC_REDUCERS, type MetricReducer } from '../metrics/bounds';

export const METRIC_FORMS =
  'NAME=log[:KEY], NAME=regex:PATTERN, NAME=csv:OUTPUT:COLUMN[:ROW|:REDUCER] or NAME=json:OUTPUT:PATH';

export function parseMetricFlag(text: string): MetricSpec {
  const wrong = (why: string): Error =>
    new Error(`--metric "${text}": ${why}; write ${METRIC_FORMS}.`);
  const equals = text.indexOf('=');
  if (equals <= 0) {
    throw wrong('it has no NAME=');
  }
  const name = text.slice(0, equals);
  const rest = text.slice(equals + 1);
  const colon = rest.indexOf(':');
  const source = colon === -1 ? rest : rest.slice(0, colon);
  const args = colon === -1 ? undefined : rest.slice(colon + 1);
  switch (source) {
    case 'log':
    case 'log-first':
      return {
        name,
        source: 'log-pair',
        ...(args ? { key: args } : {}),
        ...(source === 'log-first' ? { pick: 'first' as const } : {})
      };
    case 'regex':
    case 'regex-first':
      if (!args) {
        throw wrong('regex needs a pattern after "regex:"');
      }
      return {
        name,
        source: 'log-regex',
        pattern: args,
        ...(source === 'regex-first' ? { pick: 'first' as const } : {})
      };
    case 'csv': {
      const parts = (args ?? '').split(':');
      if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
        throw wrong('csv needs an output and a column');
      }
      const [output, column, third] = parts;
      const spec: MetricSpec = {
        name,
        source: 'csv',
        output,
        column: /^\d{1,6}$/.test(column) ? Number(column) : column
      };
      if (third === undefined || third === '') {
        return spec;
      }
      if (/^-?\d{1,7}$/.test(third)) {
        return { ...spec, row: Number(third) };
      }
      if ((METRIC_REDUCERS as readonly string[]).includes(third)) {
        return { ...spec, reduce: third as MetricReducer };
      }
      throw wrong(
        `"${third}" is neither a row number nor one of ${METRIC_REDUCERS.join(', ')}`
      );
    }
    case 'json': {
      const at = (args ?? '').indexOf(':');
      if (!args || at <= 0) {
        throw wrong(
          'json needs an output and a path (empty for the whole file)'
        );
      }
      return {
        name,
        source: 'json',
        output: args.slice(0, at),
        path: args.slice(at + 1)
      };
    }
    default:
      throw wrong(`"${source}" is not a source`);
  }
}
