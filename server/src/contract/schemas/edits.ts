/**
 * The edits of a run (`runs/edits.ts` declares the domain's types, with the CLI's host files): the
 * shape `POST /api/runs` accepts, which never names a host file, and the full shape of the types,
 * checked at compile time to be the domain's own.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  MAX_LIMITS,
  type InputSource,
  type RunEdits,
  type RunLimits,
  type StepEdit
} from '../../runs/edits';
import { named, type Same } from './common';

const positive = (name: keyof RunLimits, description: string) =>
  Type.Number({
    description: `${description} Positive, at most ${MAX_LIMITS[name]}.`,
    errorMessage: `The limit ${name} must be a number.`
  });

/** Resource limits of a run (the plan checks their range, as `bad-limit`). */
export const RunLimitsSchema = named(
  'RunLimits',
  Type.Object({
    memoryMiB: positive(
      'memoryMiB',
      'Memory (and memory + swap) limit of the whole run, MiB.'
    ),
    cpus: positive('cpus', 'CPU share, in CPUs (may be fractional).'),
    pids: positive('pids', 'Maximum number of processes and threads at once.'),
    timeoutSeconds: positive(
      'timeoutSeconds',
      'Wall-clock limit of the whole run, seconds.'
    ),
    outputBytes: positive(
      'outputBytes',
      'Total size of the collected outputs, bytes.'
    ),
    logBytes: positive(
      'logBytes',
      'Size of the log kept, bytes; what goes beyond is dropped with a notice.'
    ),
    diskMiB: positive(
      'diskMiB',
      'Disk the run may fill (and the largest file it may write), MiB.'
    )
  })
);

/** The names of the limits, in the schema's order. */
export const LIMIT_NAMES = Object.keys(
  RunLimitsSchema.properties
) as (keyof RunLimits)[];

export const StepEditSchema = Type.Object(
  {
    step: Type.Integer({ description: '0-based index of the step.' }),
    argv: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Replaces the whole command line (argv[0] included).'
      })
    ),
    args: Type.Optional(
      Type.Array(
        Type.Object(
          { index: Type.Integer(), value: Type.String() },
          { expected: '{index, value} with a string value' }
        ),
        {
          description:
            'Replaces single argv items, by 0-based index; applied after `argv`.'
        }
      )
    ),
    setEnv: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'Variables to set (added or changed).',
        expected: 'an object mapping names to strings'
      })
    ),
    unsetEnv: Type.Optional(
      Type.Array(Type.String(), { description: 'Variables to remove.' })
    )
  },
  { description: 'Changes to one step.' }
);

const fileSource = Type.Object({
  kind: Type.Literal('file'),
  path: Type.String()
});
const workspaceSource = Type.Object({
  kind: Type.Literal('workspace'),
  path: Type.String({
    description: 'Relative to the workspace root; it must stay inside.'
  })
});
const blobSource = Type.Object({
  kind: Type.Literal('blob'),
  // Any string: one the server does not store is refused as `unknown-upload`.
  sha256: Type.String({
    description: 'The sha256 of an upload (`POST /api/uploads`).'
  })
});

/** The edits, given where a replacement input file may come from. */
function runEditsSchema<S extends TSchema>(source: S) {
  return Type.Object(
    {
      steps: Type.Optional(
        Type.Array(Type.Integer({ minimum: 0 }), {
          description: 'Steps to execute, in package order; default: all.',
          expected: 'a list of step indexes'
        })
      ),
      stepEdits: Type.Optional(Type.Array(StepEditSchema)),
      inputs: Type.Optional(
        Type.Array(
          Type.Object(
            { name: Type.String(), source },
            { expected: '{name, source}' }
          ),
          {
            description: 'Replacement input files, by the package’s input name.'
          }
        )
      ),
      // A fresh object: the named `RunLimits` has every limit; the edits any of them.
      limits: Type.Optional(
        Type.Partial(Type.Object(RunLimitsSchema.properties), {
          additionalProperties: false,
          unknownFields:
            'edits.limits has unknown limits: {fields}; known: {known}.'
        })
      )
    },
    {
      additionalProperties: false,
      errorCode: 'bad-edits',
      description:
        'What changes from the recorded run: steps, their command lines and environments, input files, limits. Unknown fields are refused.'
    }
  );
}

/** The edits `POST /api/runs` accepts: input files from the workspace or uploads only. */
export const RunEditsBodySchema = named(
  'RunEdits',
  runEditsSchema(
    Type.Union([workspaceSource, blobSource], {
      expected: "{kind: 'workspace', path} or {kind: 'blob', sha256}"
    })
  )
);

/** The domain's edits, with the host files the CLI may name: the same as `RunEdits`. */
export const RunEditsSchema = runEditsSchema(
  Type.Union([fileSource, workspaceSource, blobSource])
);

/** Compile-time proof that the schemas describe the domain's types exactly. */
export type EditsSchemasMatch = [
  Same<Static<typeof RunLimitsSchema>, RunLimits>,
  Same<Static<typeof StepEditSchema>, StepEdit>,
  Same<Static<typeof RunEditsSchema>['inputs'], RunEdits['inputs']>,
  Same<Static<typeof RunEditsSchema>, RunEdits>,
  Same<
    NonNullable<Static<typeof RunEditsBodySchema>['inputs']>[number]['source'],
    Exclude<InputSource, { kind: 'file' }>
  >
] extends true[]
  ? true
  : never;
const editsSchemasMatch: EditsSchemasMatch = true;
void editsSchemasMatch;
