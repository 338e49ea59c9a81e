/**
 * The files a record offers, and the choice among them: only `.rpz` files are candidates; one is
 * taken, several are the user's choice (by name), none is a sentence saying what the record holds.
 */
import { DomainError } from '../errors';

/** One file of a record that may be downloaded. */
export interface Candidate {
  /** File name as the service gives it (a bare name: see `safeName`). */
  name: string;
  /** Bytes, when the service says. */
  size: number | null;
  url: string;
  /** Lowercase hex checksums, when the service gives them; checked after the download. */
  md5: string | null;
  sha256: string | null;
}

/** Files listed per record at most: beyond, the record is not one of packages. */
export const MAX_RECORD_FILES = 1000;
const MAX_NAME_LENGTH = 255;

/**
 * A name safe to create in a folder: its last path component, without control characters, not
 * hidden, at most 255 characters, ending in `.rpz`.
 */
export function safeName(name: string): string {
  const last = name.split(/[\\/]/).pop() ?? '';
  let clean = last.replace(/[\u0000-\u001f\u007f]/g, '').replace(/^\.+/, '');
  if (!/\.rpz$/i.test(clean)) {
    clean = `${clean || 'package'}.rpz`;
  }
  if (clean.length > MAX_NAME_LENGTH) {
    clean = clean.slice(0, MAX_NAME_LENGTH - 4) + '.rpz';
  }
  return clean === '.rpz' ? 'package.rpz' : clean;
}

/** The `.rpz` files of a record; throws `no-package-in-record` when there is none. */
export function packagesOf(files: Candidate[], record: string): Candidate[] {
  const packages = files.filter(file => /\.rpz$/i.test(file.name));
  if (packages.length === 0) {
    const names = files.slice(0, 5).map(file => file.name);
    const listed =
      files.length === 0
        ? 'no file'
        : `${files.length} file${files.length === 1 ? '' : 's'} (${names.join(', ')}${files.length > names.length ? ', …' : ''})`;
    throw new DomainError(
      'no-package-in-record',
      `${record} holds ${listed} and no ReproZip package (.rpz); check that it is the record you meant.`
    );
  }
  return packages;
}

/**
 * The candidate to download: the one named `file`, or the only one; undefined when there are
 * several and none was named (the caller asks the user).
 */
export function choose(
  candidates: Candidate[],
  file: string | undefined,
  record: string
): Candidate | undefined {
  if (file !== undefined) {
    const chosen = candidates.find(candidate => candidate.name === file);
    if (!chosen) {
      throw new DomainError(
        'unknown-file',
        `${record} has no package named "${file}"; its packages: ${candidates
          .map(candidate => candidate.name)
          .join(', ')}.`
      );
    }
    return chosen;
  }
  return candidates.length === 1 ? candidates[0] : undefined;
}

/** A service's number (size) as a size, or null when it is not a sane one. */
export function sizeOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? value
    : null;
}

/** A service's checksum as lowercase hex of the expected length, or null. */
export function hexOf(value: unknown, length: number): string | null {
  if (typeof value !== 'string') {
    return null;
  }
  const hex = value.replace(/^(md5|sha256):/i, '').toLowerCase();
  return hex.length === length && /^[0-9a-f]+$/.test(hex) ? hex : null;
}

/** A name from a service, bounded; undefined when it is not a string. */
export function nameOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0
    ? value.slice(0, 1024)
    : undefined;
}
