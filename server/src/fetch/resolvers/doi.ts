/**
 * DOIs, through the Handle System proxy's REST API (doi.org runs it): `GET /api/handles/{doi}`
 * answers `{responseCode: 1, values: [{type: "URL", data: {value: "https://…"}}]}` for a DOI, and
 * HTTP 404 with `responseCode: 100` for a handle that does not exist. The URL is where the DOI
 * leads: a record page, read as if the user had given it.
 */
import { DomainError } from '../../errors';
import { getJson } from '../http';
import { shorten } from '../source';
import { at, httpsUrl, type ResolveContext } from './api';

/** The URL a DOI leads to. */
export async function resolveDoi(
  doi: string,
  context: ResolveContext
): Promise<string> {
  const path = doi.split('/').map(encodeURIComponent).join('/');
  const url = `${context.services.doi}/api/handles/${path}`;
  const answer = await getJson(url, context.limits, context.signal);
  const code = at(answer.body, 'responseCode');
  if (answer.status === 404 || code === 100) {
    throw new DomainError(
      'unknown-doi',
      `The DOI ${shorten(doi)} does not exist; check it for typing mistakes.`
    );
  }
  if (answer.status !== 200 || code !== 1) {
    throw new DomainError(
      'download-failed',
      `The DOI resolver ${new URL(url).host} answered HTTP ${answer.status} for ${shorten(doi)}; try again later.`
    );
  }
  const values = at(answer.body, 'values');
  for (const value of Array.isArray(values) ? values.slice(0, 100) : []) {
    if (at(value, 'type') === 'URL') {
      const target = httpsUrl(at(value, 'data', 'value'), url);
      if (target) {
        return target;
      }
    }
  }
  throw new DomainError(
    'no-package-in-record',
    `The DOI ${shorten(doi)} leads to no https address.`
  );
}
