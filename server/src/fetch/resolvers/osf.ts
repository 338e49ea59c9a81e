/**
 * OSF, API v2: a file is `GET /v2/files/{id}/` (`data.attributes`: `name`, `kind`, `size`,
 * `extra.hashes.md5`/`sha256`; `data.links.download`); a project's files are
 * `GET /v2/nodes/{id}/files/osfstorage/`, a paginated list (`links.next`) of files and folders, a
 * folder's own list at `relationships.files.links.related.href`. Folders are walked to a bounded
 * depth and count.
 */
import {
  MAX_RECORD_FILES,
  hexOf,
  nameOf,
  sizeOf,
  type Candidate
} from '../candidates';
import { DomainError } from '../../errors';
import {
  at,
  httpsUrl,
  readApi,
  unknownRecord,
  type ResolveContext
} from './api';

const MAX_DEPTH = 4;
const MAX_PAGES = 50;

function fileOf(item: unknown, base: string): Candidate | undefined {
  const name = nameOf(at(item, 'attributes', 'name'));
  const link = httpsUrl(at(item, 'links', 'download'), base);
  if (at(item, 'attributes', 'kind') !== 'file' || !name || !link) {
    return undefined;
  }
  return {
    name,
    size: sizeOf(at(item, 'attributes', 'size')),
    url: link,
    md5: hexOf(at(item, 'attributes', 'extra', 'hashes', 'md5'), 32),
    sha256: hexOf(at(item, 'attributes', 'extra', 'hashes', 'sha256'), 64)
  };
}

export async function osfFile(
  id: string,
  context: ResolveContext
): Promise<Candidate[]> {
  const url = `${context.services.osfApi}/v2/files/${id}/`;
  const body = await readApi(url, context, unknownRecord(`OSF file ${id}`));
  const file = fileOf(body.data, url);
  if (!file) {
    throw new DomainError(
      'no-package-in-record',
      `OSF item ${id} is not a file; give its project's address instead.`
    );
  }
  return [file];
}

export async function osfNodeFiles(
  node: string,
  context: ResolveContext
): Promise<Candidate[]> {
  const found: Candidate[] = [];
  let pages = 0;
  const walk = async (url: string, depth: number): Promise<void> => {
    let next: string | undefined = url;
    while (next && found.length < MAX_RECORD_FILES && pages < MAX_PAGES) {
      pages++;
      const body = await readApi(
        next,
        context,
        unknownRecord(`OSF project ${node}`)
      );
      const items = Array.isArray(body.data) ? body.data : [];
      for (const item of items) {
        const file = fileOf(item, next);
        if (file) {
          found.push(file);
          continue;
        }
        const folder = httpsUrl(
          at(item, 'relationships', 'files', 'links', 'related', 'href'),
          next
        );
        if (
          at(item, 'attributes', 'kind') === 'folder' &&
          folder &&
          depth < MAX_DEPTH
        ) {
          await walk(folder, depth + 1);
        }
      }
      next = httpsUrl(at(body, 'links', 'next'), next);
    }
  };
  await walk(
    `${context.services.osfApi}/v2/nodes/${node}/files/osfstorage/`,
    0
  );
  return found;
}

/** An OSF GUID alone: a file's, or else a project's. */
export async function osfGuidFiles(
  guid: string,
  context: ResolveContext
): Promise<Candidate[]> {
  try {
    return await osfFile(guid, context);
  } catch (error) {
    if (error instanceof DomainError && error.code === 'unknown-record') {
      return osfNodeFiles(guid, context);
    }
    throw error;
  }
}
