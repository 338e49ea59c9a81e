/**
 * An import from start to end, the same for the API and the CLI: the source's files are listed
 * (through its service's API), the package chosen, downloaded beside its destination, checked by
 * the caller (the package reader), and placed under a free name. The caller says what "already
 * known" means (the server's registered packages; nothing for the CLI) and how to check a file.
 */
import { rm } from 'node:fs/promises';
import { DomainError } from '../errors';
import { choose, packagesOf, safeName, type Candidate } from './candidates';
import { download } from './download';
import type { HttpLimits } from './http';
import { placeFile } from './place';
import type { DownloadProgress } from './progress';
import { filesOf } from './resolvers';
import type { ImportServices } from './services';
import type { Source } from './source';
import { formatBytes } from '../contract/bytes';

export type ImportPhase = 'resolving' | 'downloading' | 'checking';

export interface ImportRequest {
  source: Source;
  /** The package to take when the record has several. */
  file?: string;
  /** Real path of the destination folder (made by the caller). */
  folder: string;
  maxBytes: number;
  services: ImportServices;
  limits: HttpLimits;
  signal?: AbortSignal;
  onPhase?: (phase: ImportPhase) => void;
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * The path of a known package with this sha256 that is still there, if any. `size`, when
   * known, lets a caller that must hash files to know them look only at files of that size.
   */
  known?: (sha256: string, size?: number) => Promise<string | undefined>;
  /** Reads the downloaded file; throws `bad-package` when it is not a readable package. */
  check: (path: string, name: string, sha256: string) => Promise<void>;
}

export type ImportOutcome =
  | { kind: 'choose'; candidates: Candidate[] }
  | {
      kind: 'done';
      path: string;
      name: string;
      sha256: string;
      size: number;
      /** A known package had the same sha256: nothing new was written. */
      reused: boolean;
    };

export async function importPackage(
  request: ImportRequest
): Promise<ImportOutcome> {
  request.onPhase?.('resolving');
  const context = {
    services: request.services,
    limits: request.limits,
    signal: request.signal
  };
  const { files, what } = await filesOf(request.source, context);
  const candidates = packagesOf(files, what);
  const chosen = choose(candidates, request.file, what);
  if (!chosen) {
    return { kind: 'choose', candidates };
  }
  const name = safeName(chosen.name);
  if (chosen.size !== null && chosen.size > request.maxBytes) {
    throw new DomainError(
      'too-large',
      `${name} is ${formatBytes(chosen.size)}, over the ${formatBytes(request.maxBytes)} limit of this server; ask its administrator to raise REPROSERVER_MAX_UPLOAD_MIB.`
    );
  }
  if (chosen.sha256 !== null) {
    const path = await request.known?.(chosen.sha256, chosen.size ?? undefined);
    if (path !== undefined) {
      return {
        kind: 'done',
        path,
        name,
        sha256: chosen.sha256,
        size: chosen.size ?? 0,
        reused: true
      };
    }
  }
  request.onPhase?.('downloading');
  const downloaded = await download({
    url: chosen.url,
    folder: request.folder,
    name,
    maxBytes: request.maxBytes,
    expected: { size: chosen.size, md5: chosen.md5, sha256: chosen.sha256 },
    limits: request.limits,
    signal: request.signal,
    onProgress: request.onProgress
  });
  try {
    const known = await request.known?.(downloaded.sha256, downloaded.size);
    if (known !== undefined) {
      await rm(downloaded.path, { force: true });
      return {
        kind: 'done',
        path: known,
        name,
        sha256: downloaded.sha256,
        size: downloaded.size,
        reused: true
      };
    }
    request.onPhase?.('checking');
    await request.check(downloaded.path, name, downloaded.sha256);
    const path = await placeFile(downloaded.path, request.folder, name);
    return {
      kind: 'done',
      path,
      name,
      sha256: downloaded.sha256,
      size: downloaded.size,
      reused: false
    };
  } finally {
    await rm(downloaded.path, { force: true });
  }
}

/** The sentence of a package check that failed, for `check` implementations. */
export function notAPackage(name: string, reason: string): DomainError {
  // The reader's sentence, without what it repeats and the temporary file's name.
  const why = reason
    .replace(/^Not a ReproZip package:\s*/i, '')
    .replace(/\s*\(\.[^()]*\.part-[0-9a-f]+\)/g, '')
    .replace(/\.$/, '');
  return new DomainError(
    'bad-package',
    `${name} is not a ReproZip package (${why}); check that the record holds the .rpz made by reprozip pack.`
  );
}
