/**
 * From a parsed source to the files it offers: one resolver per service, a DOI first resolved to
 * the page it leads to, which must then be a record of a service we know or an `.rpz` file.
 */
import { DomainError } from '../../errors';
import { safeName, type Candidate } from '../candidates';
import { recordOf, shorten, type Source } from '../source';
import type { ResolveContext } from './api';
import { dataverseFiles } from './dataverse';
import { resolveDoi } from './doi';
import { figshareFiles } from './figshare';
import { osfFile, osfGuidFiles, osfNodeFiles } from './osf';
import { zenodoFiles } from './zenodo';

export type { ResolveContext } from './api';

/** What a source names, for sentences: "Zenodo record 123". */
export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'doi':
      return `DOI ${source.doi}`;
    case 'zenodo':
      return `Zenodo record ${source.record}`;
    case 'osf-node':
      return `OSF project ${source.node}`;
    case 'osf-file':
      return `OSF file ${source.file}`;
    case 'osf-guid':
      return `OSF item ${source.guid}`;
    case 'figshare':
      return `Figshare article ${source.article}`;
    case 'dataverse':
      return `Dataverse dataset ${source.persistentId}`;
    case 'url':
      return shorten(source.url);
  }
}

/**
 * Every file the source offers (all of them: the caller keeps the packages), and what holds them
 * in words (a DOI's record, not the DOI).
 */
export async function filesOf(
  source: Source,
  context: ResolveContext
): Promise<{ files: Candidate[]; what: string }> {
  if (source.kind === 'doi') {
    const target = await resolveDoi(source.doi, context);
    const url = new URL(target);
    const record = recordOf(url, context.services);
    const found: Source | undefined =
      record ??
      (/\.rpz$/i.test(url.pathname) ? { kind: 'url', url: target } : undefined);
    if (!found) {
      throw new DomainError(
        'no-package-in-record',
        `The DOI ${shorten(source.doi)} leads to ${shorten(target)}, which is neither a record of Zenodo, OSF, Figshare or Dataverse nor an .rpz file.`
      );
    }
    return filesOf(found, context);
  }
  return {
    files: await recordFiles(source, context),
    what: describeSource(source)
  };
}

async function recordFiles(
  source: Exclude<Source, { kind: 'doi' }>,
  context: ResolveContext
): Promise<Candidate[]> {
  switch (source.kind) {
    case 'zenodo':
      return zenodoFiles(source.record, context);
    case 'osf-node':
      return osfNodeFiles(source.node, context);
    case 'osf-file':
      return osfFile(source.file, context);
    case 'osf-guid':
      return osfGuidFiles(source.guid, context);
    case 'figshare':
      return figshareFiles(source.article, source.version, context);
    case 'dataverse':
      return dataverseFiles(source.origin, source.persistentId, context);
    case 'url': {
      const last = new URL(source.url).pathname.split('/').pop() ?? '';
      return [
        {
          name: safeName(decodeURIComponentSafe(last)),
          size: null,
          url: source.url,
          md5: null,
          sha256: null
        }
      ];
    }
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
