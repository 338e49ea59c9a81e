/**
 * Run files (`.rpzrun`): a package and a configured run of it, to hand to someone else. A small
 * JSON document (docs/rpzrun.md; its JSON Schema, generated from this one, is
 * docs/rpzrun.schema.json): where the package comes from, the edits, the limits, and optionally a
 * title, instructions, and which fields the person running it may change (course mode). Paths in
 * it are relative to the run file's own folder, so a folder of exercises can move as a whole.
 */
import { Type, type Static } from '@sinclair/typebox';
import { RunEditsBodySchema, RunLimitsSchema } from './edits';
import { Sha256Schema, named } from './common';
import { SweepFieldSchema } from './sweeps';

/** The version of the format this server reads and writes. */
export const RUN_FILE_VERSION = 1;
/** A run file larger than this is refused before it is parsed. */
export const RUN_FILE_MAX_BYTES = 256 * 1024;

const relativePath = (description: string) =>
  Type.String({ minLength: 1, maxLength: 4096, description });

/** A field the person running the file may change; every other one is locked. */
export const RunFileFieldSchema = named(
  'RunFileField',
  Type.Union(
    [
      ...SweepFieldSchema.anyOf,
      Type.Object(
        {
          kind: Type.Literal('limit'),
          name: Type.Union(
            Object.keys(RunLimitsSchema.properties).map(name =>
              Type.Literal(name)
            )
          )
        },
        { description: 'One resource limit.' }
      ),
      Type.Object(
        { kind: Type.Literal('steps') },
        { description: 'Which steps run.' }
      )
    ],
    {
      errorCode: 'bad-run-file',
      expected:
        "{kind: 'arg', step, index}, {kind: 'env', step, name}, {kind: 'input', name}, {kind: 'cmdline', step}, {kind: 'limit', name} or {kind: 'steps'}"
    }
  )
);
export type RunFileField = Static<typeof RunFileFieldSchema>;

/** A run's edits but their inputs, which a run file names by path (below). */
const editsWithoutInputs = Type.Omit(RunEditsBodySchema, ['inputs']).properties;

export const RunFileSchema = named(
  'RunFile',
  Type.Object(
    {
      rpzrun: Type.Literal(RUN_FILE_VERSION, {
        description: 'The version of this format.',
        errorMessage: `This is not a run file this version reads: "rpzrun" must be ${RUN_FILE_VERSION}.`
      }),
      title: Type.Optional(Type.String({ maxLength: 200 })),
      instructions: Type.Optional(
        Type.String({
          maxLength: 64 * 1024,
          description: 'Markdown, shown above the fields.'
        })
      ),
      package: Type.Object(
        {
          path: Type.Optional(
            relativePath(
              'The package, relative to the run file’s folder (inside the workspace).'
            )
          ),
          source: Type.Optional(
            Type.String({
              maxLength: 4096,
              description:
                'Where the package is published: an https URL or a DOI, to fetch it when `path` does not exist.'
            })
          ),
          sha256: Type.Optional(Sha256Schema)
        },
        {
          additionalProperties: false,
          errorCode: 'bad-run-file',
          expected: '{path?, source?, sha256?} with a path or a source',
          description:
            'The package: a path, a published source, or both; with its sha256, another file is refused.'
        }
      ),
      edits: Type.Optional(
        Type.Object(
          {
            ...editsWithoutInputs,
            inputs: Type.Optional(
              Type.Array(
                Type.Object(
                  {
                    name: Type.String({
                      description: 'The package’s input name.'
                    }),
                    path: relativePath(
                      'The replacement file, relative to the run file’s folder.'
                    )
                  },
                  {
                    additionalProperties: false,
                    errorCode: 'bad-run-file',
                    expected: '{name, path}'
                  }
                ),
                { maxItems: 256 }
              )
            )
          },
          {
            additionalProperties: false,
            errorCode: 'bad-run-file',
            unknownFields:
              'The run file’s edits have unknown fields: {fields} (known: {known}).'
          }
        )
      ),
      backend: Type.Optional(
        Type.String({
          maxLength: 32,
          description: 'auto (default), docker or sandbox.'
        })
      ),
      open: Type.Optional(
        Type.Array(RunFileFieldSchema, {
          maxItems: 256,
          description:
            'The fields the person running it may change; every other field keeps the run file’s value, in the panel and at the server. Absent: every field may change.'
        })
      )
    },
    {
      additionalProperties: false,
      errorCode: 'bad-run-file',
      unknownFields:
        'The run file has unknown fields: {fields} (known: {known}).'
    }
  )
);
export type RunFile = Static<typeof RunFileSchema>;

/** `GET /api/runfiles?path=`: a run file as the panel opens it. */
export const RunFileRecordSchema = named(
  'RunFileRecord',
  Type.Object({
    path: Type.String({ description: 'The run file, in the workspace.' }),
    runFile: RunFileSchema,
    packagePath: Type.Union([Type.String(), Type.Null()], {
      description:
        'The package’s workspace path when it is there, else null (fetch it from `runFile.package.source`).'
    }),
    inputPaths: Type.Record(Type.String(), Type.String(), {
      description:
        'Each input of the edits, by name: its file’s workspace path, as a run request names it.'
    }),
    locked: Type.Boolean({
      description:
        'The run file says which fields are open: all others are locked.'
    })
  })
);
export type RunFileRecord = Static<typeof RunFileRecordSchema>;
