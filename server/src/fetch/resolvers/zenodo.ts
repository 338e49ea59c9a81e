/**
 * Zenodo: `GET /api/records/{id}` gives the record with its `files`, each with a `key` (its name),
 * `size`, `checksum` (`md5:…`) and `links` (`content` or `self` downloads it). The older API and
 * InvenioRDM's `files.entries` are read too.
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
  isObject,
  readApi,
  unknownRecord,
  type ResolveContext
} from './api';

export async function zenodoFiles(
  record: string,
  context: ResolveContext
): Promise<Candidate[]> {
  const url = `${context.services.zenodo}/api/records/${record}`;
  const body = await readApi(
    url,
    context,
    unknownRecord(`Zenodo record ${record}`)
  );
  const files = Array.isArray(body.files)
    ? body.files
    : isObject(at(body, 'files', 'entries'))
      ? Object.values(at(body, 'files', 'entries') as object)
      : [];
  const candidates: Candidate[] = [];
  for (const file of files.slice(0, MAX_RECORD_FILES)) {
    const name = nameOf(at(file, 'key')) ?? nameOf(at(file, 'filename'));
    const link =
      httpsUrl(at(file, 'links', 'content'), url) ??
      httpsUrl(at(file, 'links', 'self'), url) ??
      httpsUrl(at(file, 'links', 'download'), url);
    if (name && link) {
      candidates.push({
        name,
        size: sizeOf(at(file, 'size')) ?? sizeOf(at(file, 'filesize')),
        url: link,
        md5: hexOf(at(file, 'checksum'), 32),
        sha256: null
      });
    }
  }
  return candidates;
}
