/**
 * Helpers for the builder's integration tests: what an image really holds on disk (read through a
 * created, never started container with `GET /containers/{id}/archive`, so it is the engine's view
 * of the unpacked layer, not an echo of the tar the builder sent), what a package holds (from
 * `readEntries`), and how they differ.
 */
import type Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { dockerClient } from '../../../src/backends/docker/client';
import { readEntries } from '../../../src/rpz';

/** One path as compared: attributes, link target, content hash. */
export interface Node {
  type: 'directory' | 'file' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds (the engine's archive has no fractions). */
  mtime: number;
  /** Symlink target verbatim, or the root-relative hard-link target. */
  target?: string;
  sha256?: string;
}

export function testDocker(): Docker {
  const socket = process.env.DOCKER_SOCKET;
  if (socket === undefined) {
    throw new Error(
      'DOCKER_SOCKET is not set: source .state/services.env before the integration tests.'
    );
  }
  return dockerClient(socket);
}

/** A repository name no other test run uses. */
export function uniqueRepository(): string {
  return `reproserver-test-${process.pid}-${randomBytes(4).toString('hex')}/rpz`;
}

async function hash(stream: AsyncIterable<unknown>): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

/** The package's tree, as the builder should write it. */
export async function packageTree(path: string): Promise<Map<string, Node>> {
  const tree = new Map<string, Node>();
  for await (const entry of readEntries(path)) {
    const node: Node = {
      type: entry.type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtime: Math.floor(entry.mtime)
    };
    if (entry.type === 'file') {
      node.sha256 = await hash(entry.body);
    } else if (entry.type !== 'directory') {
      node.target = entry.target;
    }
    tree.set(entry.path, node);
  }
  return tree;
}

/** Paths the engine's init layer puts in every container (they hide the image's own). */
export function isInitPath(path: string): boolean {
  return (
    ['.dockerenv', 'dev', 'proc', 'sys', 'etc'].includes(path) ||
    path.startsWith('dev/') ||
    ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab'].includes(path)
  );
}

/** The image's tree, read from the filesystem the engine unpacked. */
export async function imageTree(
  docker: Docker,
  reference: string
): Promise<Map<string, Node>> {
  const container = await docker.createContainer({
    Image: reference,
    Cmd: ['/never-started'],
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none' }
  });
  try {
    const archive = (await container.getArchive({ path: '/' })) as Readable;
    const extract = tar.extract();
    archive.on('error', error => extract.destroy(error));
    archive.pipe(extract as unknown as NodeJS.WritableStream);
    const tree = new Map<string, Node>();
    const clean = (name: string): string =>
      name.replace(/^\/+/, '').replace(/\/+$/, '');
    for await (const entry of extract) {
      const h = entry.header;
      const path = clean(h.name);
      const type =
        h.type === 'link'
          ? 'hardlink'
          : h.type === 'directory' || h.type === 'symlink'
            ? h.type
            : 'file';
      const node: Node = {
        type,
        mode: h.mode & 0o7777,
        uid: h.uid,
        gid: h.gid,
        mtime: Math.floor(h.mtime.getTime() / 1000)
      };
      if (type === 'file') {
        node.sha256 = await hash(entry);
      } else {
        entry.resume();
        if (type === 'symlink') {
          node.target = h.linkname ?? '';
        } else if (type === 'hardlink') {
          node.target = clean(h.linkname ?? '');
        }
      }
      if (path !== '') {
        tree.set(path, node);
      }
    }
    return tree;
  } finally {
    await container.remove({ force: true });
  }
}

/** Follows hard links to the first name of each inode. */
function canonical(tree: Map<string, Node>, path: string): string {
  let current = path;
  for (let i = 0; i < 64; i++) {
    const node = tree.get(current);
    if (node?.type !== 'hardlink' || node.target === undefined) {
      return current;
    }
    current = node.target;
  }
  return current;
}

/**
 * Differences between a package tree and an image tree, one line each. Hard links compare by the
 * inode they share (the engine may name either path first); file content by sha256.
 */
export function treeDifferences(
  expected: Map<string, Node>,
  actual: Map<string, Node>,
  options: { allowExtra?: (path: string) => boolean } = {}
): string[] {
  const problems: string[] = [];
  const content = (tree: Map<string, Node>, path: string) =>
    tree.get(canonical(tree, path))?.sha256;
  for (const [path, want] of expected) {
    if (isInitPath(path)) {
      continue;
    }
    const got = actual.get(path);
    if (got === undefined) {
      problems.push(`${path}: missing from the image`);
      continue;
    }
    // Linux ignores a symlink's own mode (always 777); a hard link shares its target's inode, and
    // the file entry's attributes are the ones that count.
    const fields =
      want.type === 'symlink'
        ? (['uid', 'gid', 'mtime'] as const)
        : want.type === 'hardlink'
          ? ([] as const)
          : (['mode', 'uid', 'gid', 'mtime'] as const);
    for (const field of fields) {
      if (want[field] !== got[field]) {
        problems.push(
          `${path}: ${field} ${want[field].toString(field === 'mode' ? 8 : 10)} in the package, ${got[field].toString(field === 'mode' ? 8 : 10)} in the image`
        );
      }
    }
    const fileLike = (type: Node['type']): boolean =>
      type === 'file' || type === 'hardlink';
    if (fileLike(want.type)) {
      const first = canonical(expected, path);
      if (!fileLike(got.type)) {
        problems.push(
          `${path}: ${want.type} in the package, ${got.type} in the image`
        );
      } else if (canonical(actual, path) !== canonical(actual, first)) {
        problems.push(
          `${path}: does not share an inode with ${first} in the image`
        );
      } else if (content(expected, path) !== content(actual, path)) {
        problems.push(`${path}: content differs`);
      }
    } else if (want.type !== got.type) {
      problems.push(
        `${path}: ${want.type} in the package, ${got.type} in the image`
      );
    } else if (want.type === 'symlink' && want.target !== got.target) {
      problems.push(
        `${path}: symlink to ${want.target} in the package, to ${got.target} in the image`
      );
    }
  }
  for (const path of actual.keys()) {
    if (
      !expected.has(path) &&
      !isInitPath(path) &&
      !options.allowExtra?.(path)
    ) {
      problems.push(`${path}: in the image but not in the package`);
    }
  }
  return problems;
}

/** Removes images, ignoring those already gone. */
export async function removeImages(
  docker: Docker,
  references: Iterable<string>
): Promise<void> {
  for (const reference of references) {
    await docker
      .getImage(reference)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

/** Image creation time, for "was it rebuilt?" checks. */
export async function created(
  docker: Docker,
  reference: string
): Promise<string> {
  return (await docker.getImage(reference).inspect()).Created;
}
