/**
 * What every resolver shares: reading one JSON document of a service's API, where "not found" is
 * the user's mistake (a record that does not exist) and anything else unexpected is the service's.
 */
import { DomainError } from '../../errors';
import { getJson, type HttpLimits } from '../http';
import type { ImportServices } from '../services';
import { shorten } from '../source';

export interface ResolveContext {
  services: ImportServices;
  limits: HttpLimits;
  signal?: AbortSignal;
}

/** A JSON object from `url`; `notFound` is the error of a 404 or 410. */
export async function readApi(
  url: string,
  context: ResolveContext,
  notFound: () => DomainError
): Promise<Record<string, unknown>> {
  const answer = await getJson(url, context.limits, context.signal);
  if (answer.status === 404 || answer.status === 410) {
    throw notFound();
  }
  if (answer.status < 200 || answer.status >= 300) {
    throw new DomainError(
      'download-failed',
      `${new URL(url).host} answered HTTP ${answer.status} for ${shorten(url)}; try again later.`
    );
  }
  if (!isObject(answer.body)) {
    throw new DomainError(
      'download-failed',
      `${new URL(url).host} did not answer JSON for ${shorten(url)}; is the address that of its API?`
    );
  }
  return answer.body;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A property path of untrusted JSON, or undefined. */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObject(current) || !Object.hasOwn(current, key)) {
      return undefined;
    }
    current = current[key];
  }
  return current;
}

/** An https URL given by a service, resolved against `base`; undefined otherwise. */
export function httpsUrl(value: unknown, base: string): string | undefined {
  if (typeof value !== 'string' || value.length > 4096) {
    return undefined;
  }
  try {
    const url = new URL(value, base);
    return url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export const unknownRecord = (what: string) => () =>
  new DomainError(
    'unknown-record',
    `${what} does not exist (or is not public); check the address.`
  );
