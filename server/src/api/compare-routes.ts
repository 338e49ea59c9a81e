/**
 * The handlers of comparisons and determinism checks (`contract/compare-routes.ts`): each reads
 * its query or body, calls `CompareService` or `DeterminismService`, and answers.
 */
import { COMPARE_ROUTES as R } from '../contract/compare-routes';
import { toleranceOf, type CompareService } from '../service/compare';
import {
  checkDeterminismRequest,
  type DeterminismService
} from '../service/determinism';
import { readBody } from './body';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { Router } from './router';
import type { RunService } from '../service/runs';

/**
 * The ids of the two runs compared, `?a=…&b=…`; on a shared server both must be the user's (a run
 * of another user is not found, as an unknown one).
 */
function runsOf(
  url: URL,
  user: string | undefined,
  runs: Pick<RunService, 'get'>
): { a: string; b: string } {
  const a = url.searchParams.get('a');
  const b = url.searchParams.get('b');
  if (!a || !b) {
    throw new ApiError(
      'bad-request',
      'Name the two runs to compare: ?a=<run id>&b=<run id>.'
    );
  }
  if (user !== undefined) {
    runs.get(a, user);
    runs.get(b, user);
  }
  return { a, b };
}

function nameOf(url: URL): string {
  const name = url.searchParams.get('name');
  if (!name) {
    throw new ApiError(
      'bad-request',
      'Name the output to compare: &name=<output name>.'
    );
  }
  return name;
}

/** A router holding these routes; the API's other routes are added to it. */
export function compareRoutes(services: {
  compare: CompareService;
  determinism: DeterminismService;
  runs: Pick<RunService, 'get'>;
}): Router {
  const { compare, determinism, runs } = services;
  return new Router()
    .on(R.compareRuns, async ({ response, url, user }) => {
      const { a, b } = runsOf(url, user, runs);
      sendJson(response, 200, await compare.summary(a, b));
    })
    .on(R.compareOutput, async ({ response, url, user }) => {
      const { a, b } = runsOf(url, user, runs);
      const tolerance = toleranceOf(
        url.searchParams.get('tolerance'),
        url.searchParams.get('relativeTolerance')
      );
      sendJson(
        response,
        200,
        await compare.output(a, b, nameOf(url), tolerance)
      );
    })
    .on(R.compareImage, async ({ response, url, user }) => {
      const { a, b } = runsOf(url, user, runs);
      const png = await compare.image(a, b, nameOf(url));
      response.writeHead(200, {
        'content-type': 'image/png',
        'content-length': png.length,
        'cache-control': 'no-store'
      });
      response.end(png);
    })
    .on(R.compareLogs, async ({ response, url, user }) => {
      const { a, b } = runsOf(url, user, runs);
      sendJson(response, 200, await compare.log(a, b));
    })
    .on(R.startDeterminism, async ({ request, response, params, user }) => {
      const body = await readBody(request, R.startDeterminism.body.schema);
      checkDeterminismRequest(body);
      sendJson(
        response,
        202,
        await determinism.start(params.sha256, body, user)
      );
    })
    .on(R.packageDeterminism, async ({ response, params, user }) =>
      sendJson(response, 200, {
        checks: await determinism.list(params.sha256, user)
      })
    )
    .on(R.getDeterminism, async ({ response, params, user }) =>
      sendJson(response, 200, await determinism.get(params.id, user))
    );
}
