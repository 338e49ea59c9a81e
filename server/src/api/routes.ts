/**
 * The API's HTTP endpoints, one handler for each route of the table (`contract/routes.ts`): each
 * reads its input (a JSON body is validated against the route's schema), calls a service, and
 * answers JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { detectBackends } from '../backends/detect';
import { runDefaults } from '../runs/default-limits';
import type { ServerConfig } from '../config';
import type { BuildService } from '../service/builds';
import type { CompareService } from '../service/compare';
import type { DeterminismService } from '../service/determinism';
import type { MetricService } from '../service/metrics';
import type { ImportService } from '../service/imports';
import type { PackageService } from '../service/packages';
import type { RunService } from '../service/runs';
import type { SweepService } from '../service/sweeps';
import type { RunFileService } from '../service/runfiles';
import {
  BlobTooLargeError,
  EventLogOffsetError,
  type BlobStore,
  type EventLogs,
  type EventPage
} from '../store';
import { SERVER_VERSION } from '../version';
import { ROUTES as R } from '../contract/routes';
import { readBody } from './body';
import { compareRoutes } from './compare-routes';
import { ApiError } from './errors';
import { openApiDocument } from './openapi';
import { sendJson } from './respond';
import { Router } from './router';
import type {
  BackendsResponse,
  HealthResponse,
  RunEventMessage,
  VersionResponse
} from '../contract/wire';

export interface Services {
  config: ServerConfig;
  packages: PackageService;
  builds: BuildService;
  runs: RunService;
  sweeps: SweepService;
  runFiles: RunFileService;
  imports: ImportService;
  metrics: MetricService;
  compare: CompareService;
  determinism: DeterminismService;
  logs: EventLogs;
  blobs: BlobStore;
  maxUploadBytes: number;
}

export function apiRoutes(services: Services, startedAt: number): Router {
  const { packages, builds, runs, sweeps } = services;
  // Comparisons and determinism checks first: their handlers live in compare-routes.ts.
  return compareRoutes(services)
    .on(R.health, ({ response }) => {
      const body: HealthResponse = {
        status: 'ok',
        version: SERVER_VERSION,
        uptime: Math.round((Date.now() - startedAt) / 1000)
      };
      sendJson(response, 200, body);
    })
    .on(R.version, ({ response }) => {
      const body: VersionResponse = {
        name: 'reproserver',
        version: SERVER_VERSION,
        node: process.version
      };
      sendJson(response, 200, body);
    })
    .on(R.backends, async ({ response }) => {
      const backends = await detectBackends(services.config);
      const body: BackendsResponse = {
        backends,
        default: backends.find(b => b.available)?.name ?? null,
        weakIsolation: services.config.weakIsolation,
        defaultLimits: runDefaults()
      };
      sendJson(response, 200, body);
    })
    .on(R.openapi, ({ response }) => sendJson(response, 200, openApiDocument()))
    .on(R.listPackages, ({ response }) =>
      sendJson(response, 200, { packages: packages.list() })
    )
    .on(R.registerPackage, async ({ request, response }) => {
      const body = await readBody(request, R.registerPackage.body.schema);
      sendJson(
        response,
        200,
        await packages.registerWorkspacePackage(body.path)
      );
    })
    .on(R.uploadPackage, async ({ request, response, url }) => {
      const name = basename(url.searchParams.get('name') ?? 'package.rpz');
      sendJson(
        response,
        200,
        await packages.upload(request, name || 'package.rpz')
      );
    })
    .on(R.packageDetails, async ({ response, params }) =>
      sendJson(response, 200, await packages.details(params.sha256))
    )
    .on(R.packageMetrics, ({ response, params }) =>
      sendJson(response, 200, services.metrics.get(params.sha256))
    )
    .on(R.setPackageMetrics, async ({ request, response, params }) => {
      const body = await readBody(request, R.setPackageMetrics.body.schema);
      sendJson(response, 200, services.metrics.set(params.sha256, body));
    })
    .on(R.buildStatus, ({ response, params }) => {
      packages.get(params.sha256);
      sendJson(response, 200, builds.status(params.sha256));
    })
    .on(R.startBuild, ({ response, params }) => {
      packages.get(params.sha256);
      // The build goes on after the answer; its state is polled or its events followed.
      builds.ensure(params.sha256).catch(() => undefined);
      sendJson(response, 202, builds.status(params.sha256));
    })
    .on(R.buildEvents, async ({ response, params }) => {
      packages.get(params.sha256);
      response.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-store'
      });
      // Live: the answer ends with the build (or with the client).
      const gone = new AbortController();
      response.on('close', () => gone.abort());
      await builds.follow(
        params.sha256,
        event => response.write(JSON.stringify(event) + '\n'),
        gone.signal
      );
      response.end();
    })
    .on(R.upload, async ({ request, response }) => {
      try {
        sendJson(
          response,
          200,
          await services.blobs.put(request, {
            maxBytes: services.maxUploadBytes
          })
        );
      } catch (error) {
        if (error instanceof BlobTooLargeError) {
          throw new ApiError('too-large', error.message);
        }
        throw error;
      }
    })
    .on(R.createRun, async ({ request, response, user }) => {
      const body = await readBody(request, R.createRun.body.schema);
      if (body.runFile !== undefined) {
        // Checked before anything is queued: a locked field cannot be changed through the API.
        await services.runFiles.checkRun(
          body.runFile,
          body.package,
          body.edits ?? {}
        );
      }
      sendJson(
        response,
        202,
        await runs.create(
          {
            package: body.package,
            edits: body.edits ?? {},
            backend: body.backend,
            acceptWeakIsolation: body.acceptWeakIsolation === true
          },
          undefined,
          user
        )
      );
    })
    .on(R.readRunFile, async ({ response, url }) =>
      sendJson(
        response,
        200,
        await services.runFiles.read(url.searchParams.get('path') ?? '')
      )
    )
    .on(R.listRuns, ({ response, url, user }) =>
      sendJson(response, 200, {
        runs: runs.list(url.searchParams.get('package') ?? undefined, user)
      })
    )
    .on(R.getRun, ({ response, params, user }) =>
      sendJson(response, 200, runs.get(params.id, user))
    )
    .on(R.deleteRun, async ({ response, params, user }) => {
      await runs.delete(params.id, user);
      response.writeHead(204).end();
    })
    .on(R.cancelRun, async ({ response, params, user }) =>
      sendJson(response, 200, await runs.cancel(params.id, user))
    )
    .on(R.runEvents, async ({ response, params, url, user }) => {
      runs.get(params.id, user);
      await sendEventsSoFar(services.logs, params.id, offsetOf(url), response);
    })
    .on(R.runOutput, async ({ response, params, user }) => {
      const output = await runs.output(params.id, params.name, user);
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': output.size,
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(basename(output.name))}`,
        'cache-control': 'no-store'
      });
      await pipeline(output.body, response);
    })
    .on(R.createSweep, async ({ request, response, user }) => {
      const { runFile, ...spec } = await readBody(
        request,
        R.createSweep.body.schema
      );
      if (runFile !== undefined) {
        // As for a run: a sweep through a run file changes only the fields it opens.
        await services.runFiles.checkSweep(
          runFile,
          spec.package,
          spec.edits ?? {},
          spec.axes
        );
      }
      sendJson(response, 201, await sweeps.create(spec, user));
    })
    .on(R.listSweeps, ({ response, url, user }) =>
      sendJson(response, 200, {
        sweeps: sweeps.list(url.searchParams.get('package') ?? undefined, user)
      })
    )
    .on(R.getSweep, async ({ response, params, url, user }) =>
      sendJson(
        response,
        200,
        await sweeps.read(
          params.id,
          user,
          url.searchParams.get('since') ?? undefined
        )
      )
    )
    .on(R.cancelSweep, async ({ response, params, user }) =>
      sendJson(response, 200, await sweeps.cancel(params.id, user))
    )
    .on(R.createImport, async ({ request, response, user }) => {
      const body = await readBody(request, R.createImport.body.schema);
      sendJson(response, 202, await services.imports.create(body, user));
    })
    .on(R.getImport, ({ response, params, user }) =>
      sendJson(response, 200, services.imports.get(params.id, user))
    )
    .on(R.cancelImport, ({ response, params, user }) =>
      sendJson(response, 200, services.imports.cancel(params.id, user))
    )
    .on(R.saveOutputs, async ({ request, response, params, user }) => {
      const body = await readBody(request, R.saveOutputs.body.schema);
      sendJson(response, 200, await runs.save(params.id, body.folder, user));
    });
}

/** The `offset` query parameter: a byte offset the server gave earlier (default 0). */
export function offsetOf(url: URL): number {
  const text = url.searchParams.get('offset') ?? '0';
  if (!/^\d{1,15}$/.test(text)) {
    throw new ApiError(
      'bad-offset',
      `The offset "${text}" is not a byte offset.`
    );
  }
  return Number(text);
}

/** Streams the events logged so far as newline-delimited JSON, page by page. */
async function sendEventsSoFar(
  logs: EventLogs,
  runId: string,
  offset: number,
  response: ServerResponse<IncomingMessage>
): Promise<void> {
  let page: EventPage;
  try {
    page = await logs.read(runId, offset);
  } catch (error) {
    if (error instanceof EventLogOffsetError) {
      throw new ApiError('bad-offset', error.message);
    }
    throw error;
  }
  response.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store'
  });
  for (;;) {
    // Each log line is the event's JSON and a newline, so the offset after an event is the sum of
    // the lines before; the last one is the page's own next offset, whatever happens.
    let at = offset;
    page.events.forEach((event, i) => {
      at =
        i === page.events.length - 1
          ? page.nextOffset
          : at + Buffer.byteLength(JSON.stringify(event)) + 1;
      const message: RunEventMessage = { offset: at, event };
      response.write(JSON.stringify(message) + '\n');
    });
    if (page.events.length === 0 || page.nextOffset === offset) {
      break;
    }
    if (response.writableNeedDrain) {
      await new Promise(resolve => response.once('drain', resolve));
    }
    offset = page.nextOffset;
    page = await logs.read(runId, offset);
  }
  response.end();
}
