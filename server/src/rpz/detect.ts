/**
 * Content sniffing: is this file a plain tar, a gzip stream, a ZIP, or something else? The name of
 * the file is never consulted.
 */
import type { PositionalFile } from './positional-file';
import { RpzError } from './errors';
import { BLOCK, checksumOk } from './tar-header';
import { readAt } from './tar-walk';

/** How the outer container is compressed. */
export type OuterEncoding = 'tar' | 'gzip';

/** Sniffs the first bytes of `file`. Throws `not-a-package` or `unsupported-zip`. */
export async function sniffContainer(
  file: PositionalFile,
  fileSize: number
): Promise<OuterEncoding> {
  const head = await readAt(file, 0, Math.min(fileSize, BLOCK));
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    return 'gzip';
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x504b0304) {
    throw new RpzError(
      'unsupported-zip',
      'This is a ZIP file; ReproZip packages in ZIP form are not supported (repack it with reprozip ≥ 1.0).'
    );
  }
  if (head.length === BLOCK && checksumOk(head)) {
    return 'tar';
  }
  if (fileSize === 0) {
    throw new RpzError(
      'not-a-package',
      'Not a ReproZip package: the file is empty.'
    );
  }
  throw new RpzError(
    'not-a-package',
    'Not a ReproZip package: the file is neither a tar nor a gzip-compressed tar.'
  );
}
