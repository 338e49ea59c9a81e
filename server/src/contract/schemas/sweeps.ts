/**
 * Sweeps: a set of runs of one package, a base set of edits plus axes, each axis one field with a
 * list of values, combined as a grid or zipped (`sweeps/` expands them). Declared once here: the
 * domain's types are these schemas' static types, so the core, the API and the CLI agree.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { RunEdits } from '../../runs/edits';
import { BackendNameSchema } from './backends';
import { RunEditsBodySchema } from './edits';
import { RunStatusSchema } from './runs';
import { Sha256Schema, named, nullable, oneOf } from './common';
import { MetricSpecSchema, MetricValuesSchema } from './metrics';

const stepIndex = Type.Integer({
  minimum: 0,
  description: '0-based index of the step.'
});

/** The one field an axis changes. */
export const SweepFieldSchema = named(
  'SweepField',
  Type.Union(
    [
      Type.Object(
        {
          kind: Type.Literal('arg'),
          step: stepIndex,
          index: Type.Integer({
            minimum: 0,
            description: '0-based index in the step’s argv.'
          })
        },
        { description: 'One argument of a step’s command line.' }
      ),
      Type.Object(
        { kind: Type.Literal('env'), step: stepIndex, name: Type.String() },
        { description: 'One environment variable of a step (set).' }
      ),
      Type.Object(
        {
          kind: Type.Literal('input'),
          name: Type.String({ description: 'The package’s input name.' })
        },
        { description: 'One input file of the package (replaced).' }
      ),
      Type.Object(
        { kind: Type.Literal('cmdline'), step: stepIndex },
        {
          description:
            'A step’s whole command line, as a shell would split it (quotes only).'
        }
      )
    ],
    {
      errorCode: 'bad-sweep',
      expected:
        "{kind: 'arg', step, index}, {kind: 'env', step, name}, {kind: 'input', name} or {kind: 'cmdline', step}"
    }
  )
);
export type SweepField = Static<typeof SweepFieldSchema>;

/** The values an axis takes. */
export const SweepValuesSchema = named(
  'SweepValues',
  Type.Union(
    [
      Type.Object(
        { kind: Type.Literal('list'), values: Type.Array(Type.String()) },
        { description: 'These values, in order.' }
      ),
      Type.Object(
        {
          kind: Type.Literal('range'),
          start: Type.Number(),
          stop: Type.Number(),
          step: Type.Number()
        },
        {
          description:
            'start, start + step, … up to stop included (like seq); step may be fractional or negative. Values are printed without float noise (0.1 + 0.2 is "0.3").'
        }
      ),
      Type.Object(
        {
          kind: Type.Literal('files'),
          paths: Type.Array(Type.String())
        },
        {
          description:
            'Input axes only: these files (workspace-relative in the API, host paths in the CLI).'
        }
      ),
      Type.Object(
        {
          kind: Type.Literal('glob'),
          pattern: Type.String()
        },
        {
          description:
            'Input axes only: the files a glob (or a folder: its files) names in the workspace, sorted; resolved into `files` when the sweep is created.'
        }
      )
    ],
    {
      errorCode: 'bad-sweep',
      expected:
        "{kind: 'list', values}, {kind: 'range', start, stop, step}, {kind: 'files', paths} or {kind: 'glob', pattern}"
    }
  )
);
export type SweepValues = Static<typeof SweepValuesSchema>;

export const SweepAxisSchema = named(
  'SweepAxis',
  Type.Object(
    { field: SweepFieldSchema, values: SweepValuesSchema },
    { errorCode: 'bad-sweep', expected: '{field, values}' }
  )
);
export type SweepAxis = Static<typeof SweepAxisSchema>;

export const SWEEP_COMBINES = ['grid', 'zip'] as const;
export type SweepCombine = (typeof SWEEP_COMBINES)[number];

export const CreateSweepRequestSchema = Type.Object({
  package: Type.String({
    description: 'sha256 of a registered package.',
    errorMessage: 'Give the package to sweep as {"package": "<sha256>"}.'
  }),
  edits: Type.Optional(RunEditsBodySchema),
  axes: Type.Array(SweepAxisSchema, {
    description: 'The fields that vary, at most 8.',
    errorCode: 'bad-sweep',
    expected: 'a list of {field, values}'
  }),
  combine: Type.Optional(
    oneOf(SWEEP_COMBINES, {
      description:
        'grid (default): every combination, in axis order; zip: the i-th value of every axis together (same lengths).',
      errorCode: 'bad-sweep',
      errorMessage: 'Unknown combine {value}: use grid or zip.'
    })
  ),
  backend: Type.Optional(
    oneOf(['auto', 'docker', 'sandbox', 'slurm'] as const, {
      description:
        'Default `auto`: Docker when a daemon answers, else the sandbox. `slurm` (never chosen by `auto`): a batch job on the configured Slurm cluster.',
      errorCode: 'bad-backend',
      errorMessage:
        'Unknown backend {value}: use auto, docker, sandbox or slurm.'
    })
  ),
  runFile: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description:
        'The run file (`.rpzrun`, workspace path) this sweep was configured from: as for a run, the server refuses base edits or axes that change a field it locks (`locked-field`), and a run file of another package (`run-file-mismatch`).'
    })
  ),
  acceptWeakIsolation: Type.Optional(
    Type.Boolean({
      description: 'As for a run (`POST /api/runs`).',
      errorMessage: 'acceptWeakIsolation is true or false.'
    })
  )
});
/**
 * `POST /api/sweeps`, and the spec the core expands. The CLI may name host files in the edits,
 * as for a run.
 */
export type SweepSpec = Omit<
  Static<typeof CreateSweepRequestSchema>,
  'edits'
> & {
  edits?: RunEdits;
};

export const SweepVariantRowSchema = Type.Object(
  {
    id: Type.String({ description: 'v001, v002…' }),
    values: Type.Array(Type.String(), {
      description: 'The value of each axis, in axis order.'
    }),
    run: nullable(Type.String(), {
      description: 'The run’s id; null once the run was deleted.'
    }),
    status: nullable(RunStatusSchema),
    exitCode: nullable(Type.Integer(), {
      description: 'Of the step that failed, else of the last step run.'
    }),
    durationMs: nullable(Type.Number()),
    metrics: MetricValuesSchema
  },
  { description: 'One variant of a sweep and its run.' }
);
export type SweepVariantRow = Static<typeof SweepVariantRowSchema>;

const sweepFields = {
  id: Type.String(),
  package: Sha256Schema,
  packageName: Type.String(),
  combine: oneOf(SWEEP_COMBINES),
  axes: Type.Array(SweepAxisSchema, {
    description: 'As created: globs resolved into their files.'
  }),
  backend: nullable(BackendNameSchema),
  createdAt: Type.String({ format: 'date-time' }),
  cancelledAt: nullable(Type.String({ format: 'date-time' })),
  total: Type.Integer({ description: 'The number of variants.' }),
  counts: Type.Record(Type.String(), Type.Integer(), {
    description: 'The number of variants by run status.'
  }),
  ended: Type.Boolean({
    description: 'Every run of the sweep was created and has ended.'
  }),
  creating: Type.Optional(
    Type.Boolean({
      description:
        'Runs of the sweep are still being created, in the background (`total` is reached when done).'
    })
  )
};

export const SweepSummarySchema = named(
  'SweepSummary',
  Type.Object(sweepFields, {
    description: 'A sweep as listed: its axes and how many runs are where.'
  })
);
export type SweepSummary = Static<typeof SweepSummarySchema>;

export const SweepRecordSchema = named(
  'SweepRecord',
  Type.Object(
    {
      ...sweepFields,
      edits: Type.Unsafe<RunEdits>({
        type: 'object',
        description: 'The base edits every variant starts from.'
      }),
      metrics: Type.Array(MetricSpecSchema, {
        description:
          'The package’s metrics, one column each in `variants[].metrics`.'
      }),
      variants: Type.Array(SweepVariantRowSchema, {
        description:
          'Every variant created so far, in order; with `incremental`, only those changed since the revision given.'
      }),
      revision: Type.String({
        maxLength: 40,
        description:
          'Where the rows stand: given back as `GET /api/sweeps/{id}?since=`, it asks for the rows changed after this answer only.'
      }),
      incremental: Type.Optional(
        Type.Boolean({
          description:
            'true: `variants` holds only the rows created or changed since the revision given as `since` (the other rows are as they were); the counts, `ended` and `metrics` are always whole.'
        })
      )
    },
    { description: 'A sweep with one row per variant.' }
  )
);
export type SweepRecord = Static<typeof SweepRecordSchema>;

export const SweepListSchema = named(
  'SweepList',
  Type.Object({ sweeps: Type.Array(SweepSummarySchema) })
);
export type SweepList = Static<typeof SweepListSchema>;
