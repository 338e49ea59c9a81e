import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxMechanism } from '../../src/backends/sandbox/detect';
import { runOnSandbox } from '../../src/backends/sandbox/runner';
import { readPackage } from '../../src/rpz';
import type { RunEdits } from '../../src/runs/edits';
import { prepareRootfs, type PreparedRootfs } from '../../src/sandbox';
import { recordRun, type FinishedRun, type RunOptions } from './run-recorder';

/** One state folder per test file: its rootfs cache is shared by that file's runs. */
let stateDir: string | undefined;
export function sandboxStateDir(): string {
  stateDir ??= mkdtempSync(join(tmpdir(), 'reproserver-sandbox-state-'));
  return stateDir;
}

const prepared = new Map<string, Promise<PreparedRootfs>>();

/** The package's root filesystem, extracted once per test file through the real cache. */
export function rootfsOf(rpz: string): Promise<PreparedRootfs> {
  let found = prepared.get(rpz);
  if (!found) {
    found = readPackage(rpz).then(model =>
      prepareRootfs(rpz, {
        stateDir: sandboxStateDir(),
        sha256: model.sha256 ?? undefined
      })
    );
    prepared.set(rpz, found);
  }
  return found;
}

/** sha256 over every path, type, mode, size, mtime, inode, link target and content of a tree. */
export function hashTree(root: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string): void => {
    const names = readdirSync(join(root, rel)).sort();
    for (const name of names) {
      const path = join(rel, name);
      const info = lstatSync(join(root, path), { bigint: true });
      hash.update(
        `${path}\0${info.mode}\0${info.size}\0${info.mtimeNs}\0${info.ino}\0`
      );
      if (info.isSymbolicLink()) {
        hash.update(readlinkSync(join(root, path)));
      } else if (info.isFile()) {
        hash.update(readFileSync(join(root, path)));
      } else if (info.isDirectory()) {
        walk(path);
      }
    }
  };
  walk('');
  return hash.digest('hex');
}

/** The run trees the tests' runs left behind: none, when every run removed its own. */
export function leftRunTrees(): string[] {
  const runsDir = join(sandboxStateDir(), 'sandbox', 'runs');
  return existsSync(runsDir)
    ? readdirSync(runsDir).map(name => `run tree ${join(runsDir, name)}`)
    : [];
}

export type FinishedSandboxRun = FinishedRun;

/** Plans and runs a package in the sandbox, collecting every event. */
export async function runPackageInSandbox(
  rpz: string,
  edits: RunEdits = {},
  options: RunOptions & {
    mechanism?: SandboxMechanism;
    limits?: 'auto' | 'rlimit';
    isolation?: 'auto' | 'copy';
    ids?: 'auto' | 'one';
  } = {}
): Promise<FinishedSandboxRun> {
  const rootfs = await rootfsOf(rpz);
  return recordRun(rpz, edits, options.onEvent, common =>
    runOnSandbox({
      ...common,
      rootfs,
      stateDir: sandboxStateDir(),
      mechanism: options.mechanism,
      limits: options.limits,
      isolation: options.isolation,
      ids: options.ids,
      signal: options.signal
    })
  );
}
