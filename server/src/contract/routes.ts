/**
 * Every endpoint of the API, declared once: the router registers a handler for each
 * (`api/routes.ts`), the OpenAPI document is generated from this table (`api/openapi.ts`), and a
 * test checks that the two list the same routes. Request bodies name their schema, which the
 * server validates; errors are listed by code (their HTTP status is `api/errors.ts`'s).
 *
 * All under the server's base URL, all needing the token. The events of a run are also served
 * over WebSocket at the same URL (`api/events-socket.ts`): `RunEventMessage` per message, live,
 * until the run ends.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { ErrorCode } from '../errors';
import { COMPARE_ROUTES } from './compare-routes';
import { BackendsResponseSchema } from './schemas/backends';
import {
  HealthResponseSchema,
  Sha256Schema,
  VersionResponseSchema
} from './schemas/common';
import {
  BuildStatusSchema,
  PackageDetailsSchema,
  PackageListSchema,
  PackageSummarySchema,
  RegisterPackageRequestSchema,
  UploadResponseSchema
} from './schemas/packages';
import {
  CreateRunRequestSchema,
  RunEventMessageSchema,
  RunListSchema,
  RunRecordSchema,
  SaveOutputsRequestSchema,
  SaveOutputsResponseSchema
} from './schemas/runs';
import { MetricListSchema } from './schemas/metrics';
import { RunFileRecordSchema } from './schemas/runfile';
import {
  CreateSweepRequestSchema,
  SweepListSchema,
  SweepRecordSchema
} from './schemas/sweeps';
import {
  CreateImportRequestSchema,
  ImportRecordSchema
} from './schemas/imports';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A path or query parameter. */
export interface Parameter {
  name: string;
  in: 'path' | 'query';
  schema: TSchema;
  description?: string;
}

/** A successful answer. */
export interface Answer {
  description: string;
  /** Default `application/json` when there is a schema. */
  contentType?: string;
  schema?: TSchema;
}

export interface RouteSpec {
  method: Method;
  /** With `:name` for path parameters, as the router matches it. */
  path: string;
  summary: string;
  parameters?: Parameter[];
  /** A JSON body, validated against this schema before the handler sees it. */
  body?: { schema: TSchema; required: boolean };
  /** A streamed body of bytes (an upload), not JSON. */
  streamedBody?: true;
  /** The successful answers by HTTP status. */
  answers: Record<number, Answer>;
  /**
   * What this endpoint may refuse, by error code, besides what every endpoint may (no token,
   * cross-origin) and what a JSON body may (not JSON, too large, its schema's codes).
   */
  errors?: Partial<Record<ErrorCode, string>>;
}

const sha256 = {
  name: 'sha256',
  in: 'path',
  schema: Sha256Schema
} satisfies Parameter;
const runId = {
  name: 'id',
  in: 'path',
  schema: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })
} satisfies Parameter;
const offset = {
  name: 'offset',
  in: 'query',
  description:
    'Byte offset in the run’s event log, as given by an earlier message (default 0).',
  schema: Type.Integer({ minimum: 0 })
} satisfies Parameter;
const ndjson = 'application/x-ndjson';
const bytes = 'application/octet-stream';
const workspacePath = {
  'bad-path': 'The path is empty, absolute or leaves the workspace by `..`.',
  'outside-workspace': 'The path leads outside the workspace through a link.'
} satisfies RouteSpec['errors'];

export const ROUTES = {
  ...COMPARE_ROUTES,
  health: {
    method: 'GET',
    path: '/api/health',
    summary: 'The server answers.',
    answers: { 200: { description: 'Up.', schema: HealthResponseSchema } }
  },
  version: {
    method: 'GET',
    path: '/api/version',
    summary: 'Server and Node.js versions.',
    answers: {
      200: { description: 'Versions.', schema: VersionResponseSchema }
    }
  },
  backends: {
    method: 'GET',
    path: '/api/backends',
    summary:
      'Which backends can run experiments here, why not, and what each isolates.',
    answers: {
      200: { description: 'Backends.', schema: BackendsResponseSchema }
    }
  },
  openapi: {
    method: 'GET',
    path: '/api/openapi.json',
    summary: 'This document.',
    answers: {
      200: { description: 'OpenAPI 3.1.', contentType: 'application/json' }
    }
  },
  listPackages: {
    method: 'GET',
    path: '/api/packages',
    summary: 'Registered packages.',
    answers: { 200: { description: 'Packages.', schema: PackageListSchema } }
  },
  registerPackage: {
    method: 'POST',
    path: '/api/packages',
    summary: 'Register a package of the workspace by its path.',
    body: { schema: RegisterPackageRequestSchema, required: true },
    answers: {
      200: {
        description: 'Registered (or already was).',
        schema: PackageSummarySchema
      }
    },
    errors: {
      ...workspacePath,
      'not-found': 'No such file.',
      'not-a-file': 'The path is not a file.',
      'bad-package': 'Not a readable ReproZip package.',
      'package-changed':
        'The file changed since it was registered, while it was being read.'
    }
  },
  uploadPackage: {
    method: 'PUT',
    path: '/api/packages/upload',
    summary: 'Upload a package (streamed body).',
    parameters: [
      {
        name: 'name',
        in: 'query',
        description: 'Its file name (default `package.rpz`).',
        schema: Type.String()
      }
    ],
    streamedBody: true,
    answers: {
      200: { description: 'Registered.', schema: PackageSummarySchema }
    },
    errors: {
      'too-large': 'Larger than the upload limit.',
      'bad-package': 'Not a readable ReproZip package.'
    }
  },
  packageDetails: {
    method: 'GET',
    path: '/api/packages/:sha256',
    summary: 'The package model and the typed parameters of its runs.',
    parameters: [sha256],
    answers: { 200: { description: 'Details.', schema: PackageDetailsSchema } },
    errors: { 'not-found': 'Not registered.' }
  },
  packageMetrics: {
    method: 'GET',
    path: '/api/packages/:sha256/metrics',
    summary:
      'The package’s remembered metrics: what each run’s values are extracted from (none until set).',
    parameters: [sha256],
    answers: { 200: { description: 'Metrics.', schema: MetricListSchema } },
    errors: { 'not-found': 'Not registered.' }
  },
  setPackageMetrics: {
    method: 'PUT',
    path: '/api/packages/:sha256/metrics',
    summary:
      'Remember the package’s metrics (replacing them); every ended run of it has its values extracted again, in the background.',
    parameters: [sha256],
    body: { schema: MetricListSchema, required: true },
    answers: {
      200: {
        description: 'The metrics, as remembered.',
        schema: MetricListSchema
      }
    },
    errors: {
      'not-found': 'Not registered.',
      'bad-metric':
        'A metric cannot be extracted as given: two with one name, a regular expression that does not compile or repeats a repeating group, a bad JSON path, a CSV row beyond the rows read.'
    }
  },
  buildStatus: {
    method: 'GET',
    path: '/api/packages/:sha256/build',
    summary: 'State of the package’s image.',
    parameters: [sha256],
    answers: {
      200: { description: 'Build status.', schema: BuildStatusSchema }
    },
    errors: { 'not-found': 'Not registered.' }
  },
  startBuild: {
    method: 'POST',
    path: '/api/packages/:sha256/build',
    summary: 'Start or join the build of the package’s image.',
    parameters: [sha256],
    answers: {
      202: { description: 'Build status.', schema: BuildStatusSchema }
    },
    errors: { 'not-found': 'Not registered.' }
  },
  buildEvents: {
    method: 'GET',
    path: '/api/packages/:sha256/build/events',
    summary:
      'The build’s latest events (those of the last build when none is going on), then its new events as they happen, as newline-delimited BuildEvent; the answer ends with the build.',
    parameters: [sha256],
    answers: {
      200: {
        description: 'Build events.',
        contentType: ndjson,
        schema: BuildStatusSchema.properties.events.items
      }
    },
    errors: { 'not-found': 'Not registered.' }
  },
  upload: {
    method: 'POST',
    path: '/api/uploads',
    summary:
      'Upload an input file (streamed body); use its sha256 as an input source.',
    streamedBody: true,
    answers: { 200: { description: 'Stored.', schema: UploadResponseSchema } },
    errors: { 'too-large': 'Larger than the upload limit.' }
  },
  createRun: {
    method: 'POST',
    path: '/api/runs',
    summary: 'Queue a run of a package with edits.',
    body: { schema: CreateRunRequestSchema, required: true },
    answers: { 202: { description: 'Queued.', schema: RunRecordSchema } },
    errors: {
      'not-found': 'Package not registered.',
      'backend-unavailable': 'No backend can run here.',
      'weak-isolation-consent':
        'The backend isolates less than files + network and the request did not accept it.',
      'weak-isolation-refused':
        'The backend isolates less than files + network and this server refuses such runs.',
      'too-many-runs': 'Too many runs of this package in the last minute.',
      'queue-full':
        'The server already has as many runs queued or running as it takes (REPROSERVER_MAX_QUEUED_RUNS).',
      'rate-limited':
        'A shared server: this user started as many runs in the last minute as one user may (REPROSERVER_USER_RUNS_PER_MINUTE); the Retry-After header says when to try again.',
      'user-queue-full':
        'A shared server: this user already has as many runs queued or running as one user may (REPROSERVER_USER_MAX_QUEUED).',
      'no-runs': 'The edits leave no step to run.',
      'unknown-step': 'An edit names a step the package does not have.',
      'arg-out-of-range': 'An argument index is out of range.',
      'empty-command': 'An edit leaves a step with an empty command line.',
      'unknown-input': 'An input the package does not declare.',
      'bad-env': 'A bad environment variable name.',
      'bad-limit': 'A limit is not positive, or above its maximum.',
      'bad-input':
        'An input that comes neither from the workspace nor an upload.',
      'not-a-file': 'An input path that is not a file.',
      'too-large': 'An input file larger than the upload limit.',
      'unknown-upload': 'An input naming an upload the server does not have.',
      'bad-run-file':
        'The run file named by `runFile` is not one this server reads.',
      'locked-field': 'The edits change a field that the run file locks.',
      'run-file-mismatch': 'The run file is for another package.',
      ...workspacePath
    }
  },
  readRunFile: {
    method: 'GET',
    path: '/api/runfiles',
    summary:
      'A run file (`.rpzrun`) of the workspace, as the panel opens it: its package and inputs as workspace paths, and whether it locks fields.',
    parameters: [
      {
        name: 'path',
        in: 'query',
        description: 'The run file, relative to the workspace.',
        schema: Type.String({ minLength: 1, maxLength: 4096 })
      }
    ],
    answers: {
      200: { description: 'The run file.', schema: RunFileRecordSchema }
    },
    errors: {
      'not-found': 'No such file in the workspace.',
      'not-a-file': 'The path is not a file.',
      'bad-run-file':
        'Not a run file this version reads: not JSON, too large, not the schema, or no package.',
      ...workspacePath
    }
  },
  listRuns: {
    method: 'GET',
    path: '/api/runs',
    summary: 'Runs, newest first.',
    parameters: [
      {
        name: 'package',
        in: 'query',
        description: 'Only the runs of this package.',
        schema: Sha256Schema
      }
    ],
    answers: { 200: { description: 'Runs.', schema: RunListSchema } }
  },
  getRun: {
    method: 'GET',
    path: '/api/runs/:id',
    summary: 'One run.',
    parameters: [runId],
    answers: { 200: { description: 'The run.', schema: RunRecordSchema } },
    errors: { 'not-found': 'No such run.' }
  },
  deleteRun: {
    method: 'DELETE',
    path: '/api/runs/:id',
    summary: 'Delete a run and the blobs only it used.',
    parameters: [runId],
    answers: { 204: { description: 'Deleted.' } },
    errors: { 'not-found': 'No such run.' }
  },
  cancelRun: {
    method: 'POST',
    path: '/api/runs/:id/cancel',
    summary: 'Cancel a queued or running run.',
    parameters: [runId],
    answers: { 200: { description: 'The run.', schema: RunRecordSchema } },
    errors: { 'not-found': 'No such run.', 'already-ended': 'Already ended.' }
  },
  runEvents: {
    method: 'GET',
    path: '/api/runs/:id/events',
    summary:
      'The run’s events logged so far, as newline-delimited RunEventMessage. Over WebSocket (same URL): the same, then live events until the run ends.',
    parameters: [runId, offset],
    answers: {
      200: {
        description: 'Events.',
        contentType: ndjson,
        schema: RunEventMessageSchema
      }
    },
    errors: { 'bad-offset': 'Bad offset.', 'not-found': 'No such run.' }
  },
  runOutput: {
    method: 'GET',
    path: '/api/runs/:id/outputs/:name',
    summary:
      'Download one output (declared name, or the absolute path of a changed file).',
    parameters: [runId, { name: 'name', in: 'path', schema: Type.String() }],
    answers: { 200: { description: 'The bytes.', contentType: bytes } },
    errors: { 'not-found': 'No such run or output.' }
  },
  createSweep: {
    method: 'POST',
    path: '/api/sweeps',
    summary:
      'Create a sweep: a run of the package for each variant of the axes (grid or zip), queued together.',
    body: { schema: CreateSweepRequestSchema, required: true },
    answers: {
      201: {
        description:
          'Created: the rows of the variants whose runs were created so far; the others’ runs are created in the background (`creating`), and again by a restarted server.',
        schema: SweepRecordSchema
      }
    },
    errors: {
      'bad-sweep':
        'The axes do not make a sweep: no values, a bad range, zipped axes of different lengths, files for a field that is not an input.',
      'sweep-too-large':
        'More than 8 axes, 10,000 values per axis, 10,000 variants, or 4,096 characters per value.',
      'not-found': 'Package not registered, or an input file missing.',
      'backend-unavailable': 'No backend can run here.',
      'weak-isolation-consent':
        'The backend isolates less than files + network and the request did not accept it.',
      'weak-isolation-refused':
        'The backend isolates less than files + network and this server refuses such runs.',
      'too-many-runs':
        'Too many runs of this package in the last minute (a sweep counts as one).',
      'queue-full':
        'The sweep’s runs would take the runs queued or running past what the server takes (REPROSERVER_MAX_QUEUED_RUNS).',
      'rate-limited':
        'A shared server: this user started as many runs (a sweep counts as one) in the last minute as one user may; the Retry-After header says when to try again.',
      'user-queue-full':
        'A shared server: the sweep’s runs would take this user’s runs queued or running past what one user may have (REPROSERVER_USER_MAX_QUEUED).',
      'bad-run-file':
        'The run file named by `runFile` is not one this server reads.',
      'locked-field':
        'The base edits or an axis change a field that the run file locks.',
      'run-file-mismatch': 'The run file is for another package.',
      'no-runs': 'The edits leave no step to run.',
      'unknown-step': 'An axis or edit names a step the package does not have.',
      'arg-out-of-range': 'An argument index is out of range.',
      'empty-command': 'A variant leaves a step with an empty command line.',
      'unknown-input': 'An input the package does not declare.',
      'bad-env': 'A bad environment variable name.',
      'bad-limit': 'A limit is not positive, or above its maximum.',
      'bad-input':
        'An input that comes neither from the workspace nor an upload.',
      'not-a-file': 'An input path that is not a file.',
      'too-large': 'An input file larger than the upload limit.',
      'unknown-upload': 'An input naming an upload the server does not have.',
      ...workspacePath
    }
  },
  listSweeps: {
    method: 'GET',
    path: '/api/sweeps',
    summary: 'Sweeps, newest first, with their runs counted by status.',
    parameters: [
      {
        name: 'package',
        in: 'query',
        description: 'Only the sweeps of this package.',
        schema: Sha256Schema
      }
    ],
    answers: { 200: { description: 'Sweeps.', schema: SweepListSchema } }
  },
  getSweep: {
    method: 'GET',
    path: '/api/sweeps/:id',
    summary:
      'One sweep, with one row per variant: its values, run, status, exit code and duration.',
    parameters: [
      runId,
      {
        name: 'since',
        in: 'query',
        description:
          'The `revision` of an earlier answer: only the rows created or changed after it are answered (`incremental: true`), which is what polling asks. A revision this server process did not give (it restarted) answers every row.',
        schema: Type.String({ maxLength: 40 })
      }
    ],
    answers: { 200: { description: 'The sweep.', schema: SweepRecordSchema } },
    errors: { 'not-found': 'No such sweep.' }
  },
  cancelSweep: {
    method: 'POST',
    path: '/api/sweeps/:id/cancel',
    summary: 'Cancel every run of the sweep that has not ended.',
    parameters: [runId],
    answers: { 200: { description: 'The sweep.', schema: SweepRecordSchema } },
    errors: {
      'not-found': 'No such sweep.',
      'already-ended': 'Every run of it has ended.'
    }
  },
  createImport: {
    method: 'POST',
    path: '/api/imports',
    summary:
      'Fetch a package into the workspace from a DOI, a Zenodo, OSF, Figshare or Dataverse record, or an https URL; poll the import until its status is final (then the package is registered).',
    body: { schema: CreateImportRequestSchema, required: true },
    answers: {
      202: { description: 'Started.', schema: ImportRecordSchema }
    },
    errors: {
      'bad-source':
        'Neither a DOI, a record URL of a known service, nor the https URL of an .rpz file.',
      'too-many-imports': 'As many imports are going on as the server takes.',
      'not-a-folder': 'The destination is a file.',
      ...workspacePath
    }
  },
  getImport: {
    method: 'GET',
    path: '/api/imports/:id',
    summary:
      'One import: its status, progress (bytes, total, rate, time left), the candidates when a choice is needed, the package when done, the error when failed (`unknown-doi`, `unknown-record`, `no-package-in-record`, `unknown-file`, `bad-package`, `too-large`, `download-failed`, `download-timeout`, `tls-error`).',
    parameters: [runId],
    answers: {
      200: { description: 'The import.', schema: ImportRecordSchema }
    },
    errors: { 'not-found': 'No such import (or forgotten).' }
  },
  cancelImport: {
    method: 'POST',
    path: '/api/imports/:id/cancel',
    summary: 'Cancel an import going on; its partial file is removed.',
    parameters: [runId],
    answers: {
      200: { description: 'The import.', schema: ImportRecordSchema }
    },
    errors: {
      'not-found': 'No such import.',
      'already-ended': 'Already ended.'
    }
  },
  saveOutputs: {
    method: 'POST',
    path: '/api/runs/:id/save',
    summary:
      'Write the run’s outputs into a workspace folder (never overwriting).',
    parameters: [runId],
    body: { schema: SaveOutputsRequestSchema, required: false },
    answers: {
      200: { description: 'Written.', schema: SaveOutputsResponseSchema }
    },
    errors: {
      ...workspacePath,
      'not-a-folder': 'The path is a file.',
      'not-found': 'No such run.',
      'not-ended': 'The run has not ended.'
    }
  }
} satisfies Record<string, RouteSpec>;
