/**
 * Runs on the Slurm backend for the tests: the one-node cluster of `scripts/services/slurm.sh`
 * (SLURM_CONF, REPROSERVER_SLURM_SHARED and REPROSERVER_SLURM_PARTITION from services.env), a
 * shared folder of this test file's own under the cluster's, the packages' trees unpacked there.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runsFolder } from '../../src/backends/slurm/layout';
import {
  runOnSlurm,
  type SlurmRunOptions
} from '../../src/backends/slurm/runner';
import { readPackage } from '../../src/rpz';
import type { RunEdits } from '../../src/runs/edits';
import { prepareRootfs, type PreparedRootfs } from '../../src/sandbox';
import { recordRun, type FinishedRun, type RunOptions } from './run-recorder';

/** The cluster's shared folder; throws when the cluster is not running (setup starts it). */
export function slurmShared(): string {
  const shared = process.env.REPROSERVER_SLURM_SHARED;
  if (!shared || !process.env.SLURM_CONF) {
    throw new Error(
      `SLURM_CONF and REPROSERVER_SLURM_SHARED are not set${process.env.SLURM_UNAVAILABLE ? ` (${process.env.SLURM_UNAVAILABLE})` : ''}: run these tests through ./reproserver-lab test`
    );
  }
  return shared;
}

export function slurmPartition(): string | undefined {
  return process.env.REPROSERVER_SLURM_PARTITION || undefined;
}

/** One shared folder per test file: its rootfs cache is shared by that file's runs. */
let shared: string | undefined;
export function slurmTestShared(): string {
  if (!shared) {
    mkdirSync(slurmShared(), { recursive: true });
    shared = mkdtempSync(join(slurmShared(), 'test-'));
  }
  return shared;
}

const prepared = new Map<string, Promise<PreparedRootfs>>();

/** The package's root filesystem, extracted once per test file into the shared folder. */
export function slurmRootfsOf(rpz: string): Promise<PreparedRootfs> {
  let found = prepared.get(rpz);
  if (!found) {
    found = readPackage(rpz).then(model =>
      prepareRootfs(rpz, {
        stateDir: slurmTestShared(),
        sha256: model.sha256 ?? undefined
      })
    );
    prepared.set(rpz, found);
  }
  return found;
}

/** The run folders left in the shared folder: none, when every run removed its own. */
export function leftSlurmRuns(): string[] {
  const dir = runsFolder(slurmTestShared());
  return existsSync(dir)
    ? readdirSync(dir).map(name => `Slurm run folder ${join(dir, name)}`)
    : [];
}

/** Plans and runs a package as a Slurm job, collecting every event. */
export async function runPackageOnSlurm(
  rpz: string,
  edits: RunEdits = {},
  options: RunOptions &
    Partial<Pick<SlurmRunOptions, 'name' | 'onJob' | 'reattach'>> = {}
): Promise<FinishedRun> {
  const rootfs = await slurmRootfsOf(rpz);
  return recordRun(rpz, edits, options.onEvent, common =>
    runOnSlurm({
      ...common,
      rootfs,
      shared: slurmTestShared(),
      partition: slurmPartition(),
      name: options.name ?? `test-${randomBytes(6).toString('hex')}`,
      onJob: options.onJob,
      reattach: options.reattach,
      signal: options.signal
    })
  );
}

/**
 * A folder holding an `sbatch` that submits with the real one, then holds its answer back for as
 * long as its caller lives: put first on a server's PATH, the server can be killed with its job
 * in Slurm and no job id kept, as when a server is killed while sbatch answers.
 */
export function heldBackSbatch(): string {
  const bin = mkdtempSync(join(tmpdir(), 'held-sbatch-'));
  const sbatch = execFileSync('sh', ['-c', 'command -v sbatch'], {
    encoding: 'utf8'
  }).trim();
  writeFileSync(
    join(bin, 'sbatch'),
    [
      '#!/bin/sh',
      `out=$('${sbatch}' "$@") || exit $?`,
      'while kill -0 "$PPID" 2>/dev/null; do sleep 0.2; done',
      'echo "$out"',
      ''
    ].join('\n'),
    { mode: 0o755 }
  );
  return bin;
}
