/**
 * The endpoints of comparisons and determinism checks (`compare/`, `service/compare.ts`,
 * `service/determinism.ts`), part of the one route table (`routes.ts` spreads them in).
 */
import { Type } from '@sinclair/typebox';
import type { Parameter, RouteSpec } from './routes';
import { Sha256Schema } from './schemas/common';
import {
  CompareSummarySchema,
  DeterminismCheckSchema,
  DeterminismListSchema,
  OutputDetailSchema,
  StartDeterminismRequestSchema,
  TextDiffSchema
} from './schemas/compare';

const id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const runA = {
  name: 'a',
  in: 'query',
  description: 'Run A’s id (required).',
  schema: id
} satisfies Parameter;
const runB = {
  ...runA,
  name: 'b',
  description: 'Run B’s id (required).'
} satisfies Parameter;
const outputName = {
  name: 'name',
  in: 'query',
  description:
    'The output: its declared name, or the absolute path of a changed file (required).',
  schema: Type.String()
} satisfies Parameter;
const runsErrors = {
  'bad-request': 'A run id is missing.',
  'not-found': 'No such run (or output).',
  'not-ended': 'A run has not ended.'
} satisfies RouteSpec['errors'];

export const COMPARE_ROUTES = {
  compareRuns: {
    method: 'GET',
    path: '/api/compare',
    summary:
      'Compare two ended runs: the edits that separate them, and each output identical, changed, or in one run only, with the view that suits it.',
    parameters: [runA, runB],
    answers: {
      200: { description: 'The comparison.', schema: CompareSummarySchema }
    },
    errors: runsErrors
  },
  compareOutput: {
    method: 'GET',
    path: '/api/compare/output',
    summary:
      'One output of two runs in detail: a unified diff (text, SVG, CSV), changed CSV cells with numeric deltas and a tolerance, a pixel difference (PNG).',
    parameters: [
      runA,
      runB,
      outputName,
      {
        name: 'tolerance',
        in: 'query',
        description:
          'CSV: numbers that differ by at most this much are within tolerance (default 0).',
        schema: Type.Number({ minimum: 0 })
      },
      {
        name: 'relativeTolerance',
        in: 'query',
        description:
          'CSV: numbers that differ by at most this fraction of the larger are within tolerance (default 0).',
        schema: Type.Number({ minimum: 0 })
      }
    ],
    answers: {
      200: { description: 'The detail.', schema: OutputDetailSchema }
    },
    errors: runsErrors
  },
  compareImage: {
    method: 'GET',
    path: '/api/compare/image',
    summary:
      'The difference image of a PNG output of two runs: differing pixels red over a faded copy of A.',
    parameters: [runA, runB, outputName],
    answers: { 200: { description: 'A PNG image.', contentType: 'image/png' } },
    errors: {
      ...runsErrors,
      'not-comparable':
        'The output is not a PNG in both runs, or the two are not comparable pixel by pixel (sizes differ, too large).'
    }
  },
  compareLogs: {
    method: 'GET',
    path: '/api/compare/log',
    summary:
      'The logs of two runs (what their steps printed, each headed by its command line) as a unified diff.',
    parameters: [runA, runB],
    answers: { 200: { description: 'The diff.', schema: TextDiffSchema } },
    errors: runsErrors
  },
  startDeterminism: {
    method: 'POST',
    path: '/api/packages/:sha256/determinism',
    summary:
      'Check the package’s determinism: run it unmodified twice (on one backend, or once on each of two) through the run queue, then compare the two runs.',
    parameters: [{ name: 'sha256', in: 'path', schema: Sha256Schema }],
    body: { schema: StartDeterminismRequestSchema, required: false },
    answers: {
      202: {
        description: 'The check, its two runs queued.',
        schema: DeterminismCheckSchema
      }
    },
    errors: {
      'not-found': 'Package not registered.',
      'bad-backend': 'Both backend and backends, or an unknown backend.',
      'backend-unavailable': 'No backend can run here.',
      'weak-isolation-consent':
        'The backend isolates less than files + network and the request did not accept it.',
      'weak-isolation-refused':
        'The backend isolates less than files + network and this server refuses such runs.',
      'too-many-runs': 'Too many runs of this package in the last minute.',
      'queue-full': 'The server takes no more runs now.',
      'rate-limited':
        'A shared server: this user started as many runs in the last minute as one user may (Retry-After says when to try again).',
      'user-queue-full':
        'A shared server: this user already has as many runs queued or running as one user may.'
    }
  },
  packageDeterminism: {
    method: 'GET',
    path: '/api/packages/:sha256/determinism',
    summary:
      'The latest determinism check of the package on each backend (pair), decided once both its runs have ended.',
    parameters: [{ name: 'sha256', in: 'path', schema: Sha256Schema }],
    answers: {
      200: { description: 'The checks.', schema: DeterminismListSchema }
    },
    errors: { 'not-found': 'Package not registered.' }
  },
  getDeterminism: {
    method: 'GET',
    path: '/api/determinism/:id',
    summary:
      'One determinism check: `running` until both runs have ended, then `identical`, `varies` (with the varying outputs) or `failed`.',
    parameters: [{ name: 'id', in: 'path', schema: id }],
    answers: {
      200: { description: 'The check.', schema: DeterminismCheckSchema }
    },
    errors: { 'not-found': 'No such check.' }
  }
} satisfies Record<string, RouteSpec>;
