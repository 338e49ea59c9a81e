/**
 * Figshare: `GET /v2/articles/{id}` (or `/v2/articles/{id}/versions/{v}`) gives the article with
 * its `files`, each with `name`, `size`, `download_url` and `computed_md5`. Files that are only
 * links elsewhere (`is_link_only`) are not downloadable here.
 */
import {
  MAX_RECORD_FILES,
  hexOf,
  nameOf,
  sizeOf,
  type Candidate
} from '../candidates';
import {
  at,
  httpsUrl,
  readApi,
  unknownRecord,
  type ResolveContext
} from './api';

export async function figshareFiles(
  article: string,
  version: string | null,
  context: ResolveContext
): Promise<Candidate[]> {
  const url = `${context.services.figshareApi}/v2/articles/${article}${version ? `/versions/${version}` : ''}`;
  const body = await readApi(
    url,
    context,
    unknownRecord(
      `Figshare article ${article}${version ? ` version ${version}` : ''}`
    )
  );
  const files = Array.isArray(body.files) ? body.files : [];
  const candidates: Candidate[] = [];
  for (const file of files.slice(0, MAX_RECORD_FILES)) {
    const name = nameOf(at(file, 'name'));
    const link = httpsUrl(at(file, 'download_url'), url);
    if (name && link && at(file, 'is_link_only') !== true) {
      candidates.push({
        name,
        size: sizeOf(at(file, 'size')),
        url: link,
        md5:
          hexOf(at(file, 'computed_md5'), 32) ??
          hexOf(at(file, 'supplied_md5'), 32),
        sha256: null
      });
    }
  }
  return candidates;
}
