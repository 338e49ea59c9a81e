import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxMechanism } from '../../src/backends/sandbox/detect';
import {
  runOnSandbox,
  type SandboxRunResult
} from '../../src/backends/sandbox/runner';
import { readPackage } from '../../src/rpz';
import type { PackageModel } from '../../src/rpz/model';
import type { RunEdits } from '../../src/runs/edits';
import type { RunEvent } from '../../src/runs/events';
import { DirectorySink } from '../../src/runs/output-sink';
import { planRun } from '../../src/runs/plan';
import { prepareRootfs, type PreparedRootfs } from '../../src/sandbox';

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

export interface FinishedSandboxRun {
  result: SandboxRunResult;
  events: RunEvent[];
  outDir: string;
  stdout: string;
  stderr: string;
  model: PackageModel;
}

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
  const model = await readPackage(rpz);
  const plan = planRun(model, edits);
  const rootfs = await rootfsOf(rpz);
  const outDir = mkdtempSync(join(tmpdir(), 'reproserver-out-'));
  const events: RunEvent[] = [];
  const result = await runOnSandbox({
    plan,
    rootfs,
    stateDir: sandboxStateDir(),
    mechanism: options.mechanism,
    limits: options.limits,
    isolation: options.isolation,
    sink: new DirectorySink(outDir),
    signal: options.signal,
    onEvent: event => {
      events.push(event);
      options.onEvent?.(event);
    }
  });
  const text = (stream: 'stdout' | 'stderr'): string =>
    events
      .filter(
        (e): e is Extract<RunEvent, { type: 'log' }> =>
          e.type === 'log' && e.stream === stream
      )
      .map(e => e.text)
      .join('');
  return {
    result,
    events,
    outDir,
    stdout: text('stdout'),
    stderr: text('stderr'),
    model
  };
}
