/** Imports: a package fetched into the workspace from a DOI, a repository record or a URL. */
import { Type, type Static } from '@sinclair/typebox';
import {
  ErrorCodeSchema,
  Sha256Schema,
  named,
  nullable,
  oneOf
} from './common';

/** Where an import is; the last four are final. */
export const IMPORT_STATUSES = [
  'resolving',
  'downloading',
  'checking',
  'choosing',
  'done',
  'failed',
  'cancelled'
] as const;

export const CreateImportRequestSchema = Type.Object({
  source: Type.String({
    maxLength: 2048,
    description:
      'A DOI (`10.5281/zenodo.123`, `doi:…`, `https://doi.org/…`), a Zenodo, OSF, Figshare or Dataverse record URL, or the https URL of an `.rpz` file.',
    errorMessage:
      'The source must be a DOI or a URL of at most 2048 characters.'
  }),
  file: Type.Optional(
    Type.String({
      maxLength: 1024,
      description:
        'The package to take when the record has several (a name among the candidates).'
    })
  ),
  to: Type.Optional(
    Type.String({
      description:
        'Workspace-relative folder to download into (default: the workspace root); made if missing.',
      errorMessage: 'The folder must be a path in the workspace.'
    })
  )
});
/** `POST /api/imports`. */
export type CreateImportRequest = Static<typeof CreateImportRequestSchema>;

export const ImportCandidateSchema = named(
  'ImportCandidate',
  Type.Object(
    {
      name: Type.String(),
      size: nullable(Type.Integer(), {
        description: 'Bytes, when the service says.'
      })
    },
    { description: 'A package of the record, to choose from.' }
  )
);
export type ImportCandidate = Static<typeof ImportCandidateSchema>;

export const ImportRecordSchema = named(
  'ImportRecord',
  Type.Object(
    {
      id: Type.String(),
      source: Type.String({ description: 'As given.' }),
      status: oneOf(IMPORT_STATUSES, {
        description:
          '`choosing`: the record has several packages; ask again with `file` set to one of `candidates`. `done`, `failed`, `choosing` and `cancelled` are final.'
      }),
      file: nullable(Type.String(), { description: 'The chosen package.' }),
      bytes: Type.Integer({ description: 'Bytes downloaded so far.' }),
      total: nullable(Type.Integer(), {
        description: 'Bytes in all, when known.'
      }),
      rate: nullable(Type.Integer(), {
        description: 'Bytes per second over the last seconds.'
      }),
      etaSeconds: nullable(Type.Integer(), {
        description: 'Seconds left at that rate.'
      }),
      candidates: nullable(Type.Array(ImportCandidateSchema), {
        description: 'The record’s packages, when a choice is needed.'
      }),
      result: nullable(
        Type.Object({
          sha256: Sha256Schema,
          path: Type.String({
            description: 'Workspace-relative path of the package file.'
          }),
          name: Type.String(),
          size: Type.Integer(),
          reused: Type.Boolean({
            description:
              'A registered package had the same sha256 and is still there: it is used, nothing new was written.'
          })
        }),
        { description: 'The package, once done (registered).' }
      ),
      error: nullable(
        Type.Object({ code: ErrorCodeSchema, message: Type.String() }),
        { description: 'Why it failed.' }
      ),
      createdAt: Type.String({ format: 'date-time' })
    },
    {
      description:
        'An import of a package into the workspace; poll it until its status is final.'
    }
  )
);
export type ImportRecord = Static<typeof ImportRecordSchema>;
export type ImportStatus = ImportRecord['status'];
