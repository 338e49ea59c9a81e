/**
 * What the user gave, understood: a DOI, a record of a data repository we know (Zenodo, OSF,
 * Figshare, Dataverse), or the https URL of an `.rpz` file. Anything else is refused here, with a
 * sentence listing what would do, before any request leaves the machine.
 */
import { DomainError } from '../errors';
import { pathBelow, type ImportServices } from './services';

export type Source =
  | { kind: 'doi'; doi: string }
  | { kind: 'zenodo'; record: string }
  | { kind: 'osf-node'; node: string }
  | { kind: 'osf-file'; file: string }
  /** An OSF GUID alone names a project or a file; the API tells which. */
  | { kind: 'osf-guid'; guid: string }
  | { kind: 'figshare'; article: string; version: string | null }
  | { kind: 'dataverse'; origin: string; persistentId: string }
  | { kind: 'url'; url: string };

/** Longest source accepted, characters. */
export const MAX_SOURCE_LENGTH = 2048;

const WHAT_WORKS =
  'give a DOI (10.5281/zenodo.123), a Zenodo, OSF, Figshare or Dataverse record URL, or the https URL of an .rpz file';

/** A DOI: the `10.` prefix, a registrant code, a slash and a suffix without spaces. */
const DOI = /^10\.\d{4,9}\/\S{1,1000}$/;

function refuse(sentence: string): DomainError {
  return new DomainError('bad-source', sentence);
}

/** The DOI of a `doi:` string or a doi.org link, if it is one. */
function doiOf(text: string, services: ImportServices): string | undefined {
  const bare = text.replace(/^doi:\s*/i, '');
  if (DOI.test(bare)) {
    return bare;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const resolvers = ['doi.org', 'dx.doi.org', 'www.doi.org'];
  let path: string | undefined;
  if (
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    resolvers.includes(url.hostname)
  ) {
    path = url.pathname;
  } else {
    path = pathBelow(url, services.doi);
  }
  if (path === undefined) {
    return undefined;
  }
  const doi = decodeURIComponent(path.replace(/^\/+/, ''));
  return DOI.test(doi) ? doi : undefined;
}

/** Reads what the user typed; throws `bad-source` with what would do instead. */
export function parseSource(input: string, services: ImportServices): Source {
  const text = input.trim();
  if (text === '') {
    throw refuse(`Nothing to import: ${WHAT_WORKS}.`);
  }
  if (text.length > MAX_SOURCE_LENGTH) {
    throw refuse(
      `The source is longer than ${MAX_SOURCE_LENGTH} characters: ${WHAT_WORKS}.`
    );
  }
  const doi = doiOf(text, services);
  if (doi !== undefined) {
    return { kind: 'doi', doi };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse(
      `"${shorten(text)}" is neither a DOI nor a URL: ${WHAT_WORKS}.`
    );
  }
  if (url.protocol !== 'https:') {
    throw refuse(
      `Only https:// URLs are fetched (not ${url.protocol.replace(/:$/, '')}): ${WHAT_WORKS}.`
    );
  }
  if (url.username || url.password) {
    throw refuse('URLs with a user name or password are not fetched.');
  }
  const source = recordOf(url, services);
  if (source) {
    return source;
  }
  if (/\.rpz$/i.test(url.pathname)) {
    return { kind: 'url', url: url.href };
  }
  throw refuse(
    `${shorten(url.href)} is neither a record of Zenodo, OSF, Figshare or Dataverse nor an .rpz file: ${WHAT_WORKS}.`
  );
}

/** The record a repository URL names, if it is one we know. */
export function recordOf(
  url: URL,
  services: ImportServices
): Source | undefined {
  const zenodo = pathBelow(url, services.zenodo);
  if (zenodo !== undefined) {
    const match = /^\/(?:api\/)?records?\/(\d{1,20})(?:\/|$)/.exec(zenodo);
    return match ? { kind: 'zenodo', record: match[1] } : undefined;
  }
  const osf = pathBelow(url, services.osf);
  if (osf !== undefined) {
    return osfOf(osf);
  }
  const figshare = pathBelow(url, services.figshare);
  if (figshare !== undefined) {
    // /articles/{type}/{title}/{id}[/{version}], older pages /articles/{title}/{id}[/{version}]
    const match =
      /^\/articles\/(?:[^/]+\/){0,2}?(\d{1,20})(?:\/(\d{1,6}))?\/?$/.exec(
        figshare
      );
    return match
      ? { kind: 'figshare', article: match[1], version: match[2] ?? null }
      : undefined;
  }
  if (/\/dataset\.xhtml$/.test(url.pathname)) {
    const persistentId = url.searchParams.get('persistentId');
    if (persistentId && /^(doi|hdl):\S{1,1000}$/.test(persistentId)) {
      return { kind: 'dataverse', origin: url.origin, persistentId };
    }
  }
  return undefined;
}

/** OSF's page paths: `/{guid}/`, `/{node}/files/…/{file}`, `/download/{guid}`. */
function osfOf(path: string): Source | undefined {
  const guid = '([A-Za-z0-9]{5,24})';
  const files = new RegExp(`^/${guid}/files(?:/osfstorage)?/?$`).exec(path);
  if (files) {
    return { kind: 'osf-node', node: files[1] };
  }
  const file = new RegExp(`^/${guid}/files/(?:osfstorage/)?${guid}/?$`).exec(
    path
  );
  if (file) {
    return { kind: 'osf-file', file: file[2] };
  }
  const download = new RegExp(`^/download/${guid}/?$`).exec(path);
  if (download) {
    return { kind: 'osf-file', file: download[1] };
  }
  const alone = new RegExp(`^/${guid}/?$`).exec(path);
  return alone ? { kind: 'osf-guid', guid: alone[1] } : undefined;
}

/** A source as it appears in a sentence: not a screenful. */
export function shorten(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
