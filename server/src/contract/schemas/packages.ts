/** Packages, their images and uploaded input files. */
import { Type, type Static } from '@sinclair/typebox';
import type { BuildEvent } from '../../build/events';
import type { PackageModel } from '../../rpz/model';
import type { RunParameters } from '../../rpz/parameters';
import { Sha256Schema, named, nullable, oneOf } from './common';

/**
 * Shapes declared by the modules that build them (`rpz/`, `build/`), described to other clients
 * as objects; the server never receives them, so nothing validates them.
 */
const PackageModelSchema = Type.Unsafe<PackageModel>({
  type: 'object',
  description:
    'The package as read from its configuration: runs (argv, environment, working directory, user), input and output files, the recorded machine.'
});
const RunParametersSchema = Type.Unsafe<RunParameters>({
  type: 'object',
  description: 'The typed parameters of one run, derived from its argv.'
});
const BuildEventSchema = Type.Unsafe<BuildEvent>({
  type: 'object',
  description: 'A phase or progress event of a build (`build/events.ts`).'
});

export const PackageSummarySchema = named(
  'PackageSummary',
  Type.Object(
    {
      sha256: Sha256Schema,
      name: Type.String({ description: 'File name, e.g. `experiment.rpz`.' }),
      size: Type.Integer(),
      path: nullable(Type.String(), {
        description:
          'Workspace-relative path it was registered from; null for uploads.'
      }),
      createdAt: Type.String({ format: 'date-time' })
    },
    { description: 'A registered package.' }
  )
);
export type PackageSummary = Static<typeof PackageSummarySchema>;

export const PackageListSchema = named(
  'PackageList',
  Type.Object({ packages: Type.Array(PackageSummarySchema) })
);
export type PackageList = Static<typeof PackageListSchema>;

export const PackageDetailsSchema = named(
  'PackageDetails',
  Type.Composite(
    [
      PackageSummarySchema,
      Type.Object({
        model: PackageModelSchema,
        parameters: Type.Array(RunParametersSchema, {
          description: 'Typed parameters derived from each run’s argv.'
        }),
        fileSizes: nullable(
          Type.Record(Type.String(), nullable(Type.Integer())),
          {
            description:
              'Packed size of each input/output file by name (null: not in the package); null while the server has not measured a large package yet.'
          }
        )
      })
    ],
    { description: 'Everything the panel shows before a run.' }
  )
);
export type PackageDetails = Static<typeof PackageDetailsSchema>;

export const RegisterPackageRequestSchema = Type.Object({
  path: Type.String({
    description: 'Path of the .rpz relative to the workspace root.',
    errorMessage: 'Give the package as {"path": "<path in the workspace>"}.'
  })
});
/** `POST /api/packages`. */
export type RegisterPackageRequest = Static<
  typeof RegisterPackageRequestSchema
>;

export const BuildStateSchema = oneOf([
  'none',
  'building',
  'ready',
  'failed'
] as const);
export type BuildState = Static<typeof BuildStateSchema>;

export const BuildStatusSchema = named(
  'BuildStatus',
  Type.Object(
    {
      state: BuildStateSchema,
      image: nullable(Type.String()),
      events: Type.Array(BuildEventSchema, {
        description:
          'The last progress and phase events; the full stream is on the run’s events.'
      }),
      error: nullable(Type.String())
    },
    { description: 'The image of a package.' }
  )
);
export type BuildStatus = Static<typeof BuildStatusSchema>;

export const UploadResponseSchema = named(
  'UploadResponse',
  Type.Object({ sha256: Sha256Schema, size: Type.Integer() })
);
/** `POST /api/uploads`. */
export type UploadResponse = Static<typeof UploadResponseSchema>;
