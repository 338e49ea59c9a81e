/**
 * Comparisons of two runs (`compare/`) and the determinism check: what differs between the runs'
 * settings, each output's state (identical, changed, only in one) and a view that suits it (a
 * unified diff, a table of changed CSV cells, a pixel difference). Declared once here: the
 * comparison code, the API, the CLI and the panel share these types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BackendNameSchema } from './backends';
import { Sha256Schema, named, nullable, oneOf } from './common';

export const OUTPUT_VIEWS = ['text', 'csv', 'png', 'svg', 'binary'] as const;
export const OUTPUT_STATES = [
  'identical',
  'changed',
  'only-a',
  'only-b'
] as const;

const FileFactsSchema = Type.Object(
  { size: Type.Integer({ minimum: 0 }), sha256: Sha256Schema },
  { description: 'The output as one run produced it.' }
);

export const RunDifferenceSchema = Type.Object(
  {
    field: Type.String({
      description:
        'What differs: `backend`, `steps`, `step 0 argv`, `step 0 env NAME`, `input NAME`, `limit memoryMiB`…'
    }),
    a: nullable(Type.String(), { description: 'Its value in run A.' }),
    b: nullable(Type.String(), { description: 'Its value in run B.' })
  },
  { description: 'One edit that separates the two runs.' }
);
export type RunDifference = Static<typeof RunDifferenceSchema>;

export const OutputComparisonSchema = named(
  'OutputComparison',
  Type.Object(
    {
      name: Type.String({
        description: 'Declared output name, or the path of a changed file.'
      }),
      state: oneOf(OUTPUT_STATES, {
        description:
          '`identical`: same sha256; `changed`; `only-a`/`only-b`: one run did not produce it.'
      }),
      view: oneOf(OUTPUT_VIEWS, {
        description:
          'How its detail shows it: a unified diff (text, svg), a table of changed cells (csv), a pixel difference (png), or size and hash (binary).'
      }),
      a: nullable(FileFactsSchema),
      b: nullable(FileFactsSchema)
    },
    { description: 'One output of two compared runs.' }
  )
);
export type OutputComparison = Static<typeof OutputComparisonSchema>;

export const CompareSummarySchema = named(
  'CompareSummary',
  Type.Object(
    {
      a: Type.String({ description: 'Run A’s id.' }),
      b: Type.String({ description: 'Run B’s id.' }),
      identical: Type.Boolean({
        description: 'Every output of each run is identical in the other.'
      }),
      differences: Type.Array(RunDifferenceSchema, {
        description:
          'The edits that separate the runs (arguments, environment, inputs, limits, backend).'
      }),
      outputs: Type.Array(OutputComparisonSchema),
      truncated: Type.Boolean({
        description: 'More outputs than a comparison lists (2,000 per run).'
      })
    },
    { description: 'Two runs compared, output by output.' }
  )
);
export type CompareSummary = Static<typeof CompareSummarySchema>;

export const TextDiffSchema = named(
  'TextDiff',
  Type.Object(
    {
      diff: nullable(Type.String(), {
        description:
          'A unified diff (`diff -u`), empty when the texts are the same; null when too large to diff.'
      }),
      added: Type.Integer({ minimum: 0 }),
      removed: Type.Integer({ minimum: 0 }),
      tooLarge: nullable(Type.String(), {
        description:
          'Why there is no diff (sizes and hashes given instead), or null.'
      })
    },
    { description: 'Two texts compared line by line.' }
  )
);
export type TextDiff = Static<typeof TextDiffSchema>;

export const CsvCellChangeSchema = Type.Object({
  row: Type.Integer({ description: '0-based row of the file (header = 0).' }),
  column: Type.Integer({ description: '0-based column.' }),
  columnName: nullable(Type.String(), {
    description: 'The header’s name of the column, when both have one.'
  }),
  a: nullable(Type.String()),
  b: nullable(Type.String()),
  delta: nullable(Type.Number(), {
    description: 'b − a when both are numbers.'
  }),
  withinTolerance: Type.Boolean()
});
export type CsvCellChange = Static<typeof CsvCellChangeSchema>;

export const CsvDiffSchema = named(
  'CsvDiff',
  Type.Object(
    {
      verdict: oneOf(['identical', 'within-tolerance', 'changed'] as const, {
        description:
          '`within-tolerance`: same shape, and every changed cell is a number within the tolerance.'
      }),
      rows: Type.Object({ a: Type.Integer(), b: Type.Integer() }),
      columns: Type.Object({ a: Type.Integer(), b: Type.Integer() }),
      tolerance: Type.Object({
        absolute: Type.Number(),
        relative: Type.Number()
      }),
      changedCells: Type.Integer({ description: 'All changed cells.' }),
      cells: Type.Array(CsvCellChangeSchema, {
        description: 'The first 1,000 changed cells.'
      }),
      tooLarge: nullable(Type.String())
    },
    { description: 'Two CSV files compared cell by cell.' }
  )
);
export type CsvDiff = Static<typeof CsvDiffSchema>;

export const ImageDiffSchema = named(
  'ImageDiff',
  Type.Object(
    {
      a: nullable(
        Type.Object({ width: Type.Integer(), height: Type.Integer() })
      ),
      b: nullable(
        Type.Object({ width: Type.Integer(), height: Type.Integer() })
      ),
      differingPixels: nullable(Type.Integer(), {
        description: 'Pixels that differ; null when the sizes differ.'
      }),
      ratio: nullable(
        Type.Number({ description: 'differingPixels / pixels.' })
      ),
      note: nullable(Type.String({ description: 'Why no pixel difference.' }))
    },
    { description: 'Two PNG images compared pixel by pixel.' }
  )
);
export type ImageDiff = Static<typeof ImageDiffSchema>;

export const OutputDetailSchema = named(
  'OutputDetail',
  Type.Object(
    {
      output: OutputComparisonSchema,
      text: Type.Optional(TextDiffSchema),
      csv: Type.Optional(CsvDiffSchema),
      image: Type.Optional(ImageDiffSchema)
    },
    {
      description:
        'One output of two runs in detail: a diff for text and SVG, a table of changed cells for CSV (and its text diff), a pixel difference for PNG (the difference image at `/api/compare/image`).'
    }
  )
);
export type OutputDetail = Static<typeof OutputDetailSchema>;

export const DETERMINISM_STATES = [
  'running',
  'identical',
  'varies',
  'failed'
] as const;

export const DeterminismCheckSchema = named(
  'DeterminismCheck',
  Type.Object(
    {
      id: Type.String(),
      package: Sha256Schema,
      backends: Type.Array(BackendNameSchema, {
        description: 'The backend of each run (the same twice, or two).'
      }),
      runs: Type.Array(Type.String(), { description: 'The two runs’ ids.' }),
      state: oneOf(DETERMINISM_STATES, {
        description:
          '`identical`: every output the same over the two runs; `varies`: some differ (`varying`); `failed`: a run did not succeed.'
      }),
      varying: Type.Array(Type.String(), {
        description: 'The outputs that differ between the two identical runs.'
      }),
      outputs: Type.Array(OutputComparisonSchema),
      reason: nullable(Type.String()),
      createdAt: Type.String({ format: 'date-time' })
    },
    {
      description:
        'The package run unmodified twice, and which outputs vary between the two runs.'
    }
  )
);
export type DeterminismCheck = Static<typeof DeterminismCheckSchema>;

export const DeterminismListSchema = named(
  'DeterminismList',
  Type.Object({
    checks: Type.Array(DeterminismCheckSchema, {
      description: 'The latest check of the package on each backend (pair).'
    })
  })
);
export type DeterminismList = Static<typeof DeterminismListSchema>;

export const StartDeterminismRequestSchema = Type.Object({
  backend: Type.Optional(
    oneOf(['auto', 'docker', 'sandbox'] as const, {
      description: 'Both runs on this backend (default `auto`).',
      errorCode: 'bad-backend',
      errorMessage: 'Unknown backend {value}: use auto, docker or sandbox.'
    })
  ),
  backends: Type.Optional(
    Type.Array(
      oneOf(['docker', 'sandbox'] as const, {
        errorCode: 'bad-backend',
        errorMessage: 'Unknown backend {value}: use docker or sandbox.'
      }),
      {
        minItems: 2,
        maxItems: 2,
        description: 'One run on each of these two backends.',
        errorMessage: 'backends lists two backends, e.g. ["docker", "sandbox"].'
      }
    )
  ),
  acceptWeakIsolation: Type.Optional(
    Type.Boolean({ errorMessage: 'acceptWeakIsolation is true or false.' })
  )
});
/** `POST /api/packages/:sha256/determinism`. */
export type StartDeterminismRequest = Static<
  typeof StartDeterminismRequestSchema
>;
