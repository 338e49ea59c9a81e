/** Which view suits an output: by its name's extension, else by whether its start is text. */
import type { OutputComparison } from '../contract/wire';

export type OutputView = OutputComparison['view'];

const BY_EXTENSION: Record<string, OutputView> = {
  csv: 'csv',
  tsv: 'csv',
  png: 'png',
  svg: 'svg'
};

/** Binary by their extension whatever their first bytes look like. */
const BINARY_EXTENSIONS = new Set([
  'gz',
  'zip',
  'xz',
  'bz2',
  'zst',
  'tar',
  'jpg',
  'jpeg',
  'gif',
  'webp',
  'pdf',
  'npy',
  'npz',
  'pkl',
  'h5',
  'hdf5',
  'parquet',
  'sqlite',
  'db',
  'so',
  'o',
  'bin'
]);

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/** The view its name's extension decides, or null when its first bytes must say. */
export function viewByName(name: string): OutputView | null {
  const extension = extensionOf(name);
  if (BY_EXTENSION[extension]) {
    return BY_EXTENSION[extension];
  }
  return BINARY_EXTENSIONS.has(extension) ? 'binary' : null;
}

/** The view of an output named `name` whose first bytes are `head` (of either run). */
export function viewOf(name: string, head: Buffer): OutputView {
  return viewByName(name) ?? (looksLikeText(head) ? 'text' : 'binary');
}

/** No NUL byte, and valid UTF-8 (a character cut at the end of the head does not count). */
export function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) {
    return false;
  }
  try {
    // Streaming: a character the head cut at its end is held back, not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** The separator of a CSV output: a tab for `.tsv`. */
export function csvSeparator(name: string): string {
  return extensionOf(name) === 'tsv' ? '\t' : ',';
}
