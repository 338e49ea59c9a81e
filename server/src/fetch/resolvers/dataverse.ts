/**
 * Dataverse (any installation): `GET /api/datasets/:persistentId/?persistentId=doi:…` gives the
 * dataset, whose `data.latestVersion.files` each hold a `dataFile` (`id`, `filename`, `filesize`,
 * `md5` or `checksum`); `GET /api/access/datafile/{id}` downloads one.
 */
import {
  MAX_RECORD_FILES,
  hexOf,
  nameOf,
  sizeOf,
  type Candidate
} from '../candidates';
import { at, readApi, unknownRecord, type ResolveContext } from './api';

export async function dataverseFiles(
  origin: string,
  persistentId: string,
  context: ResolveContext
): Promise<Candidate[]> {
  const url = `${origin}/api/datasets/:persistentId/?persistentId=${encodeURIComponent(persistentId)}`;
  const body = await readApi(
    url,
    context,
    unknownRecord(
      `The Dataverse dataset ${persistentId} on ${new URL(origin).host}`
    )
  );
  const files = at(body, 'data', 'latestVersion', 'files');
  const candidates: Candidate[] = [];
  for (const file of Array.isArray(files)
    ? files.slice(0, MAX_RECORD_FILES)
    : []) {
    const dataFile = at(file, 'dataFile');
    const id = at(dataFile, 'id');
    const name = nameOf(at(dataFile, 'filename')) ?? nameOf(at(file, 'label'));
    if (name && typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) {
      const checksumType = at(dataFile, 'checksum', 'type');
      const checksum = at(dataFile, 'checksum', 'value');
      candidates.push({
        name,
        size: sizeOf(at(dataFile, 'filesize')),
        url: `${origin}/api/access/datafile/${id}`,
        md5:
          hexOf(at(dataFile, 'md5'), 32) ??
          (checksumType === 'MD5' ? hexOf(checksum, 32) : null),
        sha256: checksumType === 'SHA-256' ? hexOf(checksum, 64) : null
      });
    }
  }
  return candidates;
}
