/**
 * Sizes of the package's input and output files as packed, for the panel: one pass over the
 * entry stream, bodies skipped unread (only headers are kept, one number per file path), links
 * followed inside the package the way the experiment's filesystem would.
 */
import { posix } from 'node:path';
import { readEntries } from './entries';
import type { PackageModel } from './model';
import { PathTrie } from './paths';

const MAX_LINK_HOPS = 40;

/** File name → size in bytes, or null when the package does not hold it (e.g. not packed). */
export async function ioFileSizes(
  packagePath: string,
  model: Pick<PackageModel, 'files'>
): Promise<Record<string, number | null>> {
  const sizes = new Map<string, number>();
  // Keyed without the leading slash; a trie, so a lookup costs the path's length, not its square.
  const links = new PathTrie<string>();
  for await (const entry of readEntries(packagePath)) {
    const path = '/' + entry.path;
    if (entry.type === 'file') {
      sizes.set(path, entry.size);
      entry.body.resume();
    } else if (entry.type === 'hardlink') {
      const size = sizes.get('/' + entry.target);
      if (size !== undefined) {
        sizes.set(path, size);
      }
    } else if (entry.type === 'symlink') {
      links.set(entry.path, entry.target);
    }
  }
  const resolve = (path: string): number | null => {
    let current = posix.normalize(path);
    for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
      const size = sizes.get(current);
      if (size !== undefined) {
        return size;
      }
      const target = linkOf(current, links);
      if (target === undefined) {
        return null;
      }
      current = target;
    }
    return null;
  };
  return Object.fromEntries(
    model.files.map(file => [file.name, resolve(file.path)])
  );
}

/**
 * Where `path` (absolute, normalised) leads when it, or one of its ancestors, is a symlink;
 * undefined otherwise. The package never holds an entry below a symlink (the reader refuses it),
 * so at most one component of the path is a link.
 */
function linkOf(path: string, links: PathTrie<string>): string | undefined {
  if (!path.startsWith('/')) {
    return undefined;
  }
  const hit = links.ancestorWithValue(`${path.slice(1)}/`);
  if (hit === null) {
    return undefined;
  }
  const [prefix, target] = hit;
  const rest = path.slice(prefix.length + 2);
  const base = target.startsWith('/')
    ? target
    : posix.join(posix.dirname(`/${prefix}`), target);
  return posix.normalize(posix.join(base, rest));
}
