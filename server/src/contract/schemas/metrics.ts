/**
 * Metrics: numbers extracted from what a run produced, chosen by the user and remembered per
 * package (`metrics/` extracts them). A sweep's results table shows one column per metric; a
 * plot draws a metric against an axis. Declared once here, for the server, the CLI and the panel.
 *
 * Every source is read as a stream with bounds (`METRIC_BOUNDS`): a metric never holds a whole
 * log or output in memory.
 */
import { Type, type Static } from '@sinclair/typebox';
import { METRIC_BOUNDS, METRIC_REDUCERS } from '../../metrics/bounds';
import { named, nullable } from './common';

const metricName = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$',
  description:
    'The metric’s column name: letters, digits, `_`, `.` and `-`, starting with a letter or `_`.'
});

const outputPath = Type.String({
  minLength: 1,
  maxLength: 4096,
  description:
    'The output, by its name in the package (`arg2`) or its path in the run (`/home/u/out.csv`).'
});

/** Which match a source that can match several times gives (default: the last one). */
const pick = Type.Optional(
  Type.Union([Type.Literal('first'), Type.Literal('last')], {
    description:
      'Which match gives the value when there are several; default `last` (experiments print their final value last).'
  })
);

export const MetricSpecSchema = named(
  'MetricSpec',
  Type.Union(
    [
      Type.Object(
        {
          name: metricName,
          source: Type.Literal('log-pair'),
          key: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 128,
              description:
                'The key before `=` (or `:`) in the log; default: the name.'
            })
          ),
          pick
        },
        {
          description:
            'A `key=value` (or `key: value`) pair printed in the log, on a line of its own or among others.'
        }
      ),
      Type.Object(
        {
          name: metricName,
          source: Type.Literal('log-regex'),
          pattern: Type.String({
            minLength: 1,
            maxLength: 512,
            description:
              'A JavaScript regular expression over each log line; its first group (else the whole match) is the number.'
          }),
          pick
        },
        { description: 'A regular expression over the log, line by line.' }
      ),
      Type.Object(
        {
          name: metricName,
          source: Type.Literal('csv'),
          output: outputPath,
          column: Type.Union(
            [Type.String({ maxLength: 256 }), Type.Integer({ minimum: 0 })],
            {
              description: 'A header name, or a 0-based column index.'
            }
          ),
          row: Type.Optional(
            Type.Integer({
              description:
                '0-based data row (after the header); negative counts from the end (-1: the last). Absent: the whole column, reduced.'
            })
          ),
          reduce: Type.Optional(
            Type.Union(
              METRIC_REDUCERS.map(r => Type.Literal(r)),
              {
                description:
                  'How the whole column becomes one number; default `last`.'
              }
            )
          )
        },
        {
          description:
            'A cell, or a column reduced to one number, of a CSV output.'
        }
      ),
      Type.Object(
        {
          name: metricName,
          source: Type.Literal('json'),
          output: outputPath,
          path: Type.String({
            maxLength: 512,
            description:
              'A path into the document: `a.b[0].c` (empty: the document itself).'
          })
        },
        { description: 'A number at a path in a JSON output.' }
      )
    ],
    {
      errorCode: 'bad-metric',
      expected:
        "{name, source: 'log-pair', key?}, {name, source: 'log-regex', pattern}, {name, source: 'csv', output, column, row?, reduce?} or {name, source: 'json', output, path}"
    }
  )
);
export type MetricSpec = Static<typeof MetricSpecSchema>;

/** A package's remembered metrics (at most `METRIC_BOUNDS.metrics`, names unique). */
export const MetricListSchema = named(
  'MetricList',
  Type.Object(
    {
      metrics: Type.Array(MetricSpecSchema, { maxItems: METRIC_BOUNDS.metrics })
    },
    { errorCode: 'bad-metric', expected: '{metrics: [...]}' }
  )
);
export type MetricList = Static<typeof MetricListSchema>;

/** A run's value of each metric; null where the run produced none (or not a number). */
export const MetricValuesSchema = Type.Record(
  Type.String(),
  nullable(Type.Number()),
  {
    description: 'Metric name → value; null where the run did not produce it.'
  }
);
export type MetricValues = Static<typeof MetricValuesSchema>;
