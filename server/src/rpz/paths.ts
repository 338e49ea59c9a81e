/**
 * Member-name checks for DATA entries: strip `DATA/`, normalise, and refuse anything absolute or
 * leaving the root. Pure string functions (POSIX semantics), no filesystem access.
 */
import { RpzError } from './errors';

/** The prefix every data member carries, in both format versions. */
export const DATA_PREFIX = 'DATA/';

/**
 * Turns a raw member name (`DATA/usr/bin/ls`) into a root-relative path (`usr/bin/ls`). Returns
 * `''` for the root itself (`DATA`, `DATA/`), `null` for a name outside `DATA/` (not data).
 * Throws `unsafe-path` (or `unsafe-link` when `link` is true) for absolute or escaping names.
 */
export function dataPath(name: string, link = false): string | null {
  if (isPlainDataName(name)) {
    return name.slice(DATA_PREFIX.length); // already normal: nothing to strip or resolve
  }
  // Some writers prefix every name with "./"; it means the same member.
  const raw = name.replace(/^(\.\/)+/, '');
  const code = link ? 'unsafe-link' : 'unsafe-path';
  const what = link
    ? 'A hard link in the package points to'
    : 'The package has a member named';
  if (raw.startsWith('/')) {
    throw new RpzError(
      code,
      `${what} the absolute path ${raw}; only paths inside DATA/ are allowed.`,
      raw
    );
  }
  if (raw === 'DATA') {
    return '';
  }
  if (!raw.startsWith(DATA_PREFIX)) {
    if (link) {
      throw new RpzError(
        code,
        `${what} ${name}, which is outside DATA/.`,
        name
      );
    }
    // `../x` is not under DATA/ either, but it is an attack rather than stray metadata.
    if (raw.split('/').includes('..')) {
      throw new RpzError(
        code,
        `${what} ${raw}, which leaves the package root.`,
        raw
      );
    }
    return null;
  }
  const parts: string[] = [];
  for (const part of raw.slice(DATA_PREFIX.length).split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      if (parts.length === 0) {
        throw new RpzError(
          code,
          `${what} ${raw}, which leaves the package root.`,
          raw
        );
      }
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/**
 * True for `DATA/a/b` with no empty, `.` or `..` part and no trailing slash: what nearly every
 * member is called, and what `dataPath` would return unchanged after `DATA/`. A fast path only.
 */
function isPlainDataName(name: string): boolean {
  if (!name.startsWith(DATA_PREFIX) || name.length === DATA_PREFIX.length) {
    return false;
  }
  let partStart = DATA_PREFIX.length;
  for (let i = partStart; i <= name.length; i++) {
    if (i < name.length && name.charCodeAt(i) !== 0x2f) {
      continue;
    }
    const length = i - partStart;
    if (
      length === 0 ||
      (name.charCodeAt(partStart) === 0x2e &&
        (length === 1 ||
          (length === 2 && name.charCodeAt(partStart + 1) === 0x2e)))
    ) {
      return false; // '', '.' or '..'
    }
    partStart = i + 1;
  }
  return true;
}

/** The proper ancestors of a root-relative path: `a/b/c` → `a`, `a/b`. */
export function* ancestors(path: string): Generator<string> {
  let index = path.indexOf('/');
  while (index !== -1) {
    yield path.slice(0, index);
    index = path.indexOf('/', index + 1);
  }
}

/** A node of `PathTrie`: one path component. */
interface TrieNode<T> {
  children: Map<string, TrieNode<T>> | null;
  value: T | undefined;
}

/**
 * Values keyed by root-relative paths, answering "which ancestor of this path has a value" in
 * time linear in the path's length. (Looking each ancestor up in a Set hashes every prefix: time
 * quadratic in the depth, which a package of deep names turns into minutes.)
 */
export class PathTrie<T> {
  private readonly root: TrieNode<T> = { children: null, value: undefined };
  size = 0;

  set(path: string, value: T): void {
    let node = this.root;
    for (const part of path.split('/')) {
      node.children ??= new Map();
      let next = node.children.get(part);
      if (next === undefined) {
        next = { children: null, value: undefined };
        node.children.set(part, next);
      }
      node = next;
    }
    if (node.value === undefined) {
      this.size++;
    }
    node.value = value;
  }

  /**
   * The shortest proper ancestor of `path` (a prefix of whole components) that has a value, as
   * `[ancestor, value]`, or null.
   */
  ancestorWithValue(path: string): [string, T] | null {
    let node = this.root;
    let start = 0;
    while (true) {
      const slash = path.indexOf('/', start);
      if (slash === -1) {
        return null; // the last component is the path itself, not an ancestor
      }
      const next = node.children?.get(path.slice(start, slash));
      if (next === undefined) {
        return null;
      }
      if (next.value !== undefined) {
        return [path.slice(0, slash), next.value];
      }
      node = next;
      start = slash + 1;
    }
  }
}
