/** Runs: the request that queues one, the record the API shows, its events, saving its outputs. */
import { Type, type Static } from '@sinclair/typebox';
import type { RunEdits } from '../../runs/edits';
import {
  RUN_STATUSES,
  type OutputFile,
  type RunEvent
} from '../../runs/events';
import { BackendNameSchema } from './backends';
import { RunEditsBodySchema, RunEditsSchema, RunLimitsSchema } from './edits';
import { Sha256Schema, named, nullable, oneOf } from './common';
import { MetricValuesSchema } from './metrics';

export const RunStatusSchema = oneOf(RUN_STATUSES, {
  description: 'Where a run is, or how it ended.'
});

export const CreateRunRequestSchema = Type.Object({
  package: Type.String({
    description: 'sha256 of a registered package.',
    errorMessage: 'Give the package to run as {"package": "<sha256>"}.'
  }),
  edits: Type.Optional(RunEditsBodySchema),
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
        'The run file (`.rpzrun`, workspace path) this run was configured from: the server refuses edits that change a field it locks (`locked-field`).'
    })
  ),
  acceptWeakIsolation: Type.Optional(
    Type.Boolean({
      description:
        'The user accepted that the experiment runs with less isolation than files + network (what it could reach was shown to them). Without it, such a run is refused (409, `weak-isolation-consent`).',
      errorMessage: 'acceptWeakIsolation is true or false.'
    })
  )
});
/**
 * `POST /api/runs`. The server's own callers (the CLI) may name host files in the edits, so the
 * type takes the domain's `RunEdits`; the body the API accepts never does.
 */
export type CreateRunRequest = Omit<
  Static<typeof CreateRunRequestSchema>,
  'edits'
> & { edits?: RunEdits };

export const StepRecordSchema = Type.Object(
  {
    index: Type.Integer(),
    id: Type.String(),
    argv: Type.Array(Type.String()),
    exitCode: nullable(Type.Integer()),
    durationMs: nullable(Type.Number())
  },
  { description: 'One step of a run as recorded.' }
);
export type StepRecord = Static<typeof StepRecordSchema>;

/** Declared in `runs/events.ts`, with the events that carry it. */
const OutputRecordSchema = Type.Unsafe<OutputFile>({
  type: 'object',
  required: ['name', 'path', 'kind', 'size', 'sha256'],
  properties: {
    name: {
      type: 'string',
      description: 'Declared output name, or the path for a changed file.'
    },
    path: { type: 'string' },
    kind: { type: 'string', enum: ['declared', 'changed'] },
    size: { type: 'integer' },
    sha256: { type: 'string' }
  },
  description: 'One collected output.'
});
/** One collected output. */
export type OutputRecord = Static<typeof OutputRecordSchema>;

export const RunRecordSchema = named(
  'RunRecord',
  Type.Object(
    {
      id: Type.String(),
      package: Sha256Schema,
      packageName: Type.String(),
      status: RunStatusSchema,
      backend: nullable(BackendNameSchema),
      image: nullable(Type.String()),
      createdAt: Type.String({ format: 'date-time' }),
      startedAt: nullable(Type.String({ format: 'date-time' })),
      endedAt: nullable(Type.String({ format: 'date-time' })),
      edits: RunEditsSchema,
      limits: RunLimitsSchema,
      steps: Type.Array(StepRecordSchema),
      outputs: Type.Array(OutputRecordSchema),
      missingOutputs: Type.Array(
        Type.Object({
          name: Type.String(),
          path: Type.String(),
          reason: Type.String()
        })
      ),
      failedStep: nullable(Type.Integer()),
      reason: nullable(Type.String()),
      eventsSize: Type.Integer({
        description:
          'Size of the run’s event log in bytes: the offset a client that saw everything resumes at.'
      }),
      sweep: Type.Optional(
        Type.Object(
          {
            id: Type.String({ description: 'The sweep’s id.' }),
            variant: Type.String({ description: 'v001, v002…' })
          },
          { description: 'The sweep this run is a variant of, if any.' }
        )
      ),
      metrics: Type.Optional(MetricValuesSchema)
    },
    {
      description:
        'A run as the API shows it: status, steps with exit codes and durations, outputs, and the size of its event log.'
    }
  )
);
export type RunRecord = Static<typeof RunRecordSchema>;

export const RunListSchema = named(
  'RunList',
  Type.Object({ runs: Type.Array(RunRecordSchema) })
);
export type RunList = Static<typeof RunListSchema>;

export const RunEventMessageSchema = named(
  'RunEventMessage',
  Type.Object(
    {
      offset: Type.Integer(),
      event: Type.Unsafe<RunEvent>({
        type: 'object',
        required: ['type', 'time'],
        description:
          'One event of the run (`runs/events.ts`): status, build, step-start, log, log-truncated, step-end, output, output-missing, end.'
      })
    },
    {
      description:
        'One event of a run’s log, with the byte offset just after it in the log: a client that reconnects with `?offset=<that>` gets exactly the events it has not seen.'
    }
  )
);
export type RunEventMessage = Static<typeof RunEventMessageSchema>;

export const SaveOutputsRequestSchema = Type.Object({
  folder: Type.Optional(
    Type.String({
      description:
        'Workspace-relative folder; default `<package name>.runs/<run id>/` beside the package.',
      errorMessage: 'The folder must be a path in the workspace.'
    })
  )
});
/** `POST /api/runs/:id/save`. */
export type SaveOutputsRequest = Static<typeof SaveOutputsRequestSchema>;

export const SaveOutputsResponseSchema = named(
  'SaveOutputsResponse',
  Type.Object({
    folder: Type.String({
      description: 'Workspace-relative folder the files were written to.'
    }),
    files: Type.Array(Type.String(), {
      description:
        'Workspace-relative paths of the files written (existing files are never overwritten).'
    }),
    skipped: Type.Array(Type.String(), {
      description: 'Outputs not written because a file of that name existed.'
    })
  })
);
export type SaveOutputsResponse = Static<typeof SaveOutputsResponseSchema>;
