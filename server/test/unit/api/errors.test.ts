/**
 * Errors at the API edge: every error code has its HTTP status in one table, and what a service
 * throws reaches the client through the real routes with that status and the body
 * `{ error: { code, message } }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ApiError, HTTP_STATUS, errorAnswer } from '../../../src/api/errors';
import { sendError } from '../../../src/api/respond';
import { apiRoutes, type Services } from '../../../src/api/routes';
import type { ApiErrorBody } from '../../../src/contract/wire';
import {
  DomainError,
  ERROR_CODES,
  notFound,
  type ErrorCode
} from '../../../src/errors';
import { PackageService } from '../../../src/service/packages';
import type { PackageReader } from '../../../src/rpz/worker';
import type { BlobStore, Records } from '../../../src/store';

/** The status each code answered with before the table existed (from each `new ApiError`). */
const STATUSES: Record<ErrorCode, number> = {
  'bad-request': 400,
  'bad-json': 400,
  'too-large': 413,
  'bad-offset': 400,
  'not-found': 404,
  'method-not-allowed': 405,
  unauthorized: 401,
  'cross-origin': 403,
  'bad-path': 400,
  'outside-workspace': 403,
  'not-a-file': 400,
  'not-a-folder': 409,
  'bad-package': 422,
  'package-changed': 409,
  'bad-edits': 400,
  'bad-backend': 400,
  'bad-input': 400,
  'unknown-upload': 400,
  'backend-unavailable': 409,
  'weak-isolation-consent': 409,
  'weak-isolation-refused': 403,
  'too-many-runs': 429,
  'queue-full': 429,
  'rate-limited': 429,
  'user-queue-full': 429,
  'already-ended': 409,
  'not-ended': 409,
  'bad-sweep': 400,
  'sweep-too-large': 422,
  'bad-metric': 400,
  'not-comparable': 409,
  'bad-run-file': 400,
  'locked-field': 403,
  'run-file-mismatch': 409,
  'no-runs': 400,
  'unknown-step': 400,
  'arg-out-of-range': 400,
  'empty-command': 400,
  'unknown-input': 400,
  'bad-env': 400,
  'bad-limit': 400,
  'bad-source': 400,
  'unknown-doi': 404,
  'unknown-record': 404,
  'no-package-in-record': 422,
  'unknown-file': 400,
  'download-failed': 502,
  'download-timeout': 504,
  'tls-error': 502,
  'too-many-imports': 429,
  internal: 500
};

describe('the table of error codes and HTTP statuses', () => {
  it('gives every code a status, and names no other code', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it.each([...ERROR_CODES])('answers %s with its status', code => {
    expect(HTTP_STATUS[code]).toBe(STATUSES[code]);
    const { status, body } = errorAnswer(new DomainError(code, 'Why.'));
    expect(status).toBe(STATUSES[code]);
    expect(body).toEqual({ error: { code, message: 'Why.' } });
  });

  it('gives api-layer errors their status from the same table', () => {
    const error = new ApiError('cross-origin', 'No.');
    expect(error).toBeInstanceOf(DomainError);
    expect(error.status).toBe(403);
    expect(errorAnswer(error).status).toBe(403);
  });

  it('answers anything else as internal, without its message', () => {
    expect(errorAnswer(new Error('secret detail'))).toEqual({
      status: 500,
      body: {
        error: {
          code: 'internal',
          message: 'The server failed to handle this request; see its log.'
        }
      }
    });
  });
});

/** A response that keeps what the routes and `sendError` write. */
class RecordedResponse {
  status = 0;
  text = '';
  headersSent = false;
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  end(text = ''): this {
    this.text += text;
    return this;
  }
  destroy(): void {
    throw new Error('The response was destroyed.');
  }
  get body(): ApiErrorBody {
    return JSON.parse(this.text) as ApiErrorBody;
  }
}

/** One request through the router and handler the way `ReproServer` serves it. */
async function call(
  services: Partial<Services>,
  method: string,
  path: string,
  body?: unknown
): Promise<RecordedResponse> {
  const router = apiRoutes(services as Services, Date.now());
  const text = body === undefined ? '' : JSON.stringify(body);
  const request = Object.assign(Readable.from([Buffer.from(text)]), {
    method,
    headers: { 'content-length': String(Buffer.byteLength(text)) }
  }) as unknown as IncomingMessage;
  const response = new RecordedResponse();
  const serverResponse = response as unknown as ServerResponse;
  const url = new URL(path, 'http://server');
  try {
    const { handler, params } = router.resolve(method, url.pathname);
    await handler({ request, response: serverResponse, params, url });
  } catch (error) {
    sendError(serverResponse, error);
  }
  return response;
}

describe('domain errors thrown by services, through the routes', () => {
  it.each([...ERROR_CODES].filter(code => code !== 'internal'))(
    '%s answers its status',
    async code => {
      const runs = {
        get: (): never => {
          throw new DomainError(code, `Refused: ${code}.`);
        }
      };
      const response = await call(
        { runs: runs as unknown as Services['runs'] },
        'GET',
        '/api/runs/42'
      );
      expect(response.status).toBe(STATUSES[code]);
      expect(response.body).toEqual({
        error: { code, message: `Refused: ${code}.` }
      });
    }
  );

  it('answers 500 internal for what is not a domain error', async () => {
    const runs = {
      cancel: (): Promise<never> => Promise.reject(new Error('disk on fire'))
    };
    const log = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const response = await call(
        { runs: runs as unknown as Services['runs'] },
        'POST',
        '/api/runs/42/cancel'
      );
      expect(response.status).toBe(500);
      expect(response.body.error.code).toBe('internal');
      expect(response.body.error.message).not.toContain('disk on fire');
      expect(log).toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });

  it('answers not-found 404 for a helper-made domain error', async () => {
    const runs = {
      output: (): Promise<never> =>
        Promise.reject(notFound('The output "x" of run 42'))
    };
    const response = await call(
      { runs: runs as unknown as Services['runs'] },
      'GET',
      '/api/runs/42/outputs/x'
    );
    expect(response.status).toBe(404);
    expect(response.body.error.message).toBe(
      'The output "x" of run 42 does not exist.'
    );
  });

  describe('with the real package service and workspace layer', () => {
    const workspace = mkdtempSync(join(tmpdir(), 'reproserver-errors-'));
    writeFileSync(join(workspace, 'notes.txt'), 'not a package');
    const records = {
      getPackage: () => undefined
    } as unknown as Records;
    const packages = new PackageService({
      records,
      blobs: {} as BlobStore,
      workspace,
      stateDir: workspace,
      maxUploadBytes: 1024,
      reader: {} as PackageReader
    });

    it.each([
      [{ path: '../outside.rpz' }, 400, 'bad-path'],
      [{ path: 'missing.rpz' }, 404, 'not-found'],
      [{ path: '.' }, 400, 'not-a-file'],
      [{ path: 42 }, 400, 'bad-request']
    ])('POST /api/packages %j → %d %s', async (body, status, code) => {
      const response = await call({ packages }, 'POST', '/api/packages', body);
      expect(response.status).toBe(status);
      expect(response.body.error.code).toBe(code);
    });

    it('GET /api/packages/:sha256 of an unknown package → 404 not-found', async () => {
      const response = await call(
        { packages },
        'GET',
        `/api/packages/${'0'.repeat(64)}`
      );
      expect(response.status).toBe(404);
      expect(response.body.error).toEqual({
        code: 'not-found',
        message: `No package with sha256 ${'0'.repeat(64)} is registered.`
      });
    });
  });

  it('answers what the router itself refuses from the same table', async () => {
    expect((await call({}, 'PATCH', '/api/runs/42')).status).toBe(405);
    expect((await call({}, 'GET', '/api/nothing')).body.error.code).toBe(
      'not-found'
    );
  });
});
