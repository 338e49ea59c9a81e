/**
 * A run's folder in the shared folder, made ready for a job to run its steps: the package's
 * cached tree copied (`root/`), the replacement inputs placed, the helper copied for the nodes,
 * the recorded owners, and the batch script (`job-script.ts`). What the server decided is kept in
 * `run.json` (`RunFacts`), so that whoever follows the job later (this process once it is
 * submitted, an array's task once the queue reaches it, a restarted server) reads it back.
 * Nothing here talks to Slurm: `runner.ts` submits one run's job, `array.ts` a sweep's array.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../../sandbox';
import type { RunResult } from '../common/run-backend';
import { openFileInput } from '../common/run-backend';
import { helperPath as defaultHelperPath } from '../docker/helper-path';
import { detectSandbox, type SandboxStatus } from '../sandbox/detect';
import { emulatesIds, ownersFile } from '../sandbox/emulated-ids';
import { rlimitFacts } from '../sandbox/limits';
import { placeInput } from '../sandbox/outputs';
import { copyTree } from '../sandbox/run-tree';
import { stepArgv } from '../sandbox/step-argv';
import { readHead } from './follow';
import { jobScript, type JobStep } from './job-script';
import { runLayout, runsFolder, stepFiles } from './layout';
import type { SlurmRunOptions } from './runner';

/** What the job decided once, kept in the run's folder for whoever follows the job. */
export interface RunFacts {
  mechanism: 'bwrap' | 'proot';
  /** Steps report emulated owners; paths start with `prefix`. */
  emulation: boolean;
  prefix: string;
  /** When the run's tree was complete (ms): what changed later is the run's. */
  since: number;
  /** The sandbox's description, said when the run starts. */
  detail?: string;
  /** A task of an array: the array's job name, and Slurm's output file for the task. */
  job?: { name: string; output: string };
}

export type PreparedFolder =
  | { ready: true; runDir: string; facts: RunFacts }
  | { ready: false; result: RunResult };

/** The run's folder under the shared folder (named by the run's id). */
export function runFolder(shared: string, name: string): string {
  return join(runsFolder(shared), name);
}

/** Makes the run's folder ready for its job; `job`: the array task's name and output file. */
export async function prepareRunFolder(
  options: Pick<
    SlurmRunOptions,
    'plan' | 'rootfs' | 'shared' | 'name' | 'helperPath' | 'openInput'
  >,
  signal: AbortSignal,
  job?: RunFacts['job']
): Promise<PreparedFolder> {
  const { plan } = options;
  const runDir = runFolder(options.shared, options.name);
  const layout = runLayout(runDir);
  const sandbox = await detectSandbox({
    helperPath: options.helperPath ?? defaultHelperPath()
  });
  const refused = refusal(sandbox, plan.inputs);
  if (refused) {
    return { ready: false, result: { status: 'error', reason: refused } };
  }
  const mechanism = sandbox.mechanism!;
  await removeTree(runDir).catch(() => undefined);
  await mkdir(layout.steps, { recursive: true, mode: 0o700 });
  await copyTree(options.rootfs.root, layout.root, signal);
  for (const input of plan.inputs) {
    await placeInput(
      layout.root,
      input,
      options.openInput ?? openFileInput,
      undefined
    );
  }
  // The helper, where the nodes reach it.
  const helper = join(runDir, 'rpz-exec');
  await copyFile(options.helperPath ?? defaultHelperPath(), helper);
  await chmod(helper, 0o755);
  const emulation = emulatesIds(
    mechanism,
    false,
    sandbox.idsEmulation === true
  );
  const prefix = mechanism === 'proot' ? layout.root : '';
  const facts: RunFacts = {
    mechanism,
    emulation,
    prefix,
    since: Date.now() + 1,
    detail: sandbox.detail,
    ...(job ? { job } : {})
  };
  await writeFile(join(runDir, 'run.json'), JSON.stringify(facts));
  const owners = options.rootfs.info.owners;
  if (emulation) {
    await writeFile(
      stepFiles(runDir, 0).recordedOwners,
      ownersFile(
        Object.entries(owners.others).map(([rel, [uid, gid]]) => ({
          path: `${prefix}/${rel}`,
          uid,
          gid
        }))
      )
    );
  }
  const proot =
    mechanism === 'proot'
      ? { shm: join(runDir, 'shm'), tmpDir: join(runDir, 'tmp') }
      : undefined;
  if (proot) {
    await mkdir(proot.shm, { mode: 0o1777 });
    await chmod(proot.shm, 0o1777);
    await mkdir(proot.tmpDir, { mode: 0o700 });
  }
  const rlimit = sandbox.prlimit
    ? await rlimitFacts(sandbox.prlimit, plan.limits, 'rlimit')
    : undefined;
  const steps: JobStep[] = plan.steps.map((step, position) => ({
    emulation,
    command: stepArgv({
      sandbox,
      helper,
      hostname: plan.hostname,
      root: layout.root,
      step,
      emulation: emulation
        ? {
            common: owners.common,
            sinceMs: facts.since,
            owners: stepFiles(runDir, position).owners
          }
        : undefined,
      proot,
      rlimit
    })
  }));
  await writeFile(layout.script, jobScript(runDir, steps, plan.limits.pids), {
    mode: 0o700
  });
  if (signal.aborted) {
    return { ready: false, result: { status: 'cancelled' } };
  }
  return { ready: true, runDir, facts };
}

/** Why a run cannot go to Slurm as planned, or undefined when it can. */
function refusal(
  sandbox: SandboxStatus,
  inputs: { name: string; beforeStep: number }[]
): string | undefined {
  if (!sandbox.available) {
    return sandbox.detail;
  }
  if (sandbox.mechanism === 'proot' && sandbox.runUser) {
    return 'The Slurm backend cannot run proot under a root server (each run would need a user of its own on the nodes); install bubblewrap on the nodes and this host.';
  }
  const late = inputs.find(input => input.beforeStep > 0);
  if (late) {
    return `The input "${late.name}" replaces a file a later step reads, and a Slurm job gets its inputs before its first step: run that step alone, or on another backend.`;
  }
  return undefined;
}

/** The run's facts as `prepareRunFolder` wrote them; undefined when the folder or file is gone. */
export async function readFacts(runDir: string): Promise<RunFacts | undefined> {
  try {
    const value = JSON.parse(
      (await readHead(join(runDir, 'run.json'), 64 * 1024)).toString('utf8')
    ) as Partial<RunFacts>;
    if (
      (value.mechanism === 'bwrap' || value.mechanism === 'proot') &&
      typeof value.emulation === 'boolean' &&
      typeof value.prefix === 'string' &&
      typeof value.since === 'number' &&
      (value.detail === undefined || typeof value.detail === 'string') &&
      (value.job === undefined ||
        (typeof value.job?.name === 'string' &&
          typeof value.job?.output === 'string'))
    ) {
      return value as RunFacts;
    }
  } catch {
    // missing or unreadable: gone
  }
  return undefined;
}
