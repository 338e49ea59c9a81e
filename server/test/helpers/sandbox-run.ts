import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxMechanism } from '../../src/backends/sandbox/detect';
import { runOnSandbox } from '../../src/backends/sandbox/runner';
import { readPackage } from '../../src/rpz';
import type { RunEdits } from '../../src/runs/edits';
import type { RunEvent } from '../../src/runs/events';
import { prepareRootfs, type PreparedRootfs } from '../../src/sandbox';
import { recordRun, type FinishedRun } from './run-recorder';

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

export type FinishedSandboxRun = FinishedRun;

/** Plans and runs a package in the sandbox, collecting every event. */
export async function runPackageInSandbox(
  rpz: string,
  edits: RunEdits = {},
  options: {
    signal?: AbortSignal;
    onEvent?: (event: RunEvent) => void;
    mechanism?: SandboxMechanism;
    limits?: 'auto' | 'rlimit';
    isolation?: 'auto' | 'copy';
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
      signal: options.signal
    })
  );
}
