/**
 * `reproserver prepare DIR --trees FOLDER [--images]`: makes a folder of packages ready for a
 * class, once, so that 200 students unpack and build nothing.
 *
 * - `--trees FOLDER`: each package's sandbox tree unpacked into `FOLDER/<sha256>/` (the layout of
 *   the sandbox's own cache), opened to every user with setuid and setgid bits removed
 *   (`sandbox/share-tree.ts`). Mounted read-only for every user and named in their servers'
 *   `REPROSERVER_SHARED_TREES`, it is used in place of their own cache when a package's sha256
 *   matches (`sandbox/rootfs-cache.ts` checks who can write there first).
 * - `--images`: each package's image built and pushed to the registry, where every server finds
 *   it by the package's sha256.
 *
 * Packages are found under DIR (subfolders too; links are not followed), at most
 * `MAX_PACKAGES`. A package that fails is reported and the others go on; the exit code says so.
 */
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type * as BuildModule from '../build';
import { formatBytes } from '../contract/bytes';
import { errorMessage } from '../describe';
import { loadConfig } from '../config';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import { prepareRootfs } from '../sandbox/rootfs-cache';
import { shareTree } from '../sandbox/share-tree';
import { argsOrExit, lastValues } from './args';
import { PREPARE_SPEC, PREPARE_USAGE } from './usage';

/** Packages one `prepare` takes at most, and folders it looks into at most. */
export const MAX_PACKAGES = 1000;
const MAX_FOLDERS = 10_000;
const MAX_DEPTH = 16;

/** Exit codes: 0 every package prepared, 1 some failed, 2 bad usage. */
export async function prepareCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(PREPARE_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const flags = lastValues(parsed.flags);
  const images = flags.images !== undefined;
  if (
    parsed.positionals.length !== 1 ||
    (flags.trees === undefined && !images)
  ) {
    console.error(
      `reproserver prepare: give one folder, and --trees FOLDER, --images or both.\n${PREPARE_USAGE}`
    );
    return 2;
  }
  const config = loadConfig({
    'docker-socket': flags['docker-socket'],
    registry: flags.registry,
    state: flags.state
  });
  const dir = resolve(parsed.positionals[0]);
  let packages: string[];
  try {
    packages = await findPackages(dir);
  } catch (error) {
    console.error(`reproserver prepare: ${errorMessage(error)}`);
    return 2;
  }
  if (packages.length === 0) {
    console.error(`reproserver prepare: no package (.rpz) in ${dir}.`);
    return 2;
  }
  console.error(
    `Preparing ${packages.length} package${packages.length === 1 ? '' : 's'} of ${dir}.`
  );
  const trees = flags.trees === undefined ? undefined : resolve(flags.trees);
  if (trees !== undefined) {
    await mkdir(trees, { recursive: true });
    await chmod(trees, 0o755);
  }
  const reader = new PackageReader(readerOptionsOf(config));
  let failed = 0;
  try {
    for (const path of packages) {
      const name = relative(dir, path);
      const done: string[] = [];
      try {
        const model = await reader.readPackage(path, { trace: false });
        if (trees !== undefined) {
          const started = Date.now();
          const rootfs = await prepareRootfs(path, {
            stateDir: config.stateDir,
            cacheDir: trees,
            sha256: model.sha256 ?? undefined,
            reader
          });
          const tree = join(trees, rootfs.info.sha256);
          await shareTree(join(tree, 'root'));
          await chmod(tree, 0o755);
          await chmod(join(tree, 'rootfs.json'), 0o644);
          done.push(
            rootfs.reused
              ? 'tree already there'
              : `tree unpacked (${formatBytes(rootfs.info.bytes)}, ${((Date.now() - started) / 1000).toFixed(1)} s)`
          );
        }
        if (images) {
          // Loaded now: the Docker client is most of the build's start-up.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { buildImage } = require('../build') as typeof BuildModule;
          const built = await buildImage(path, {
            dockerSocket: config.dockerSocket,
            registry:
              flags['no-registry'] !== undefined ? undefined : config.registry
          });
          done.push(`image ${built.image}`);
        }
        console.log(
          `${name}  ${model.sha256?.slice(0, 12)}  ${done.join('; ')}`
        );
      } catch (error) {
        failed++;
        console.log(`${name}  failed: ${errorMessage(error)}`);
      }
    }
  } finally {
    reader.close();
  }
  if (trees !== undefined) {
    console.error(
      `Trees in ${trees}: mount it read-only for your users and set REPROSERVER_SHARED_TREES=${trees} for their servers.`
    );
  }
  return failed === 0 ? 0 : 1;
}

/** The `.rpz` files under `dir`, sorted; links are not followed. Bounded (see the constants). */
export async function findPackages(dir: string): Promise<string[]> {
  const found: string[] = [];
  const pending: { folder: string; depth: number }[] = [
    { folder: dir, depth: 0 }
  ];
  let folders = 0;
  while (pending.length > 0) {
    const { folder, depth } = pending.pop()!;
    if (++folders > MAX_FOLDERS) {
      throw new Error(
        `${dir} has more than ${MAX_FOLDERS} folders: give the folder of the packages itself.`
      );
    }
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory() && depth < MAX_DEPTH) {
        pending.push({ folder: path, depth: depth + 1 });
      } else if (entry.isFile() && entry.name.endsWith('.rpz')) {
        found.push(path);
        if (found.length > MAX_PACKAGES) {
          throw new Error(
            `${dir} has more than ${MAX_PACKAGES} packages: prepare them a folder at a time.`
          );
        }
      }
    }
  }
  return found.sort();
}
