/**
 * Slurm's accounting on the real one-node cluster of `scripts/services/slurm.sh` (MariaDB and
 * slurmdbd of its own): `sacct` answers for our finished jobs, and what the backend reads there
 * once the controller has forgotten a job (`accountingState`, which `jobState` falls back to)
 * says the same state, exit code and reason as the controller's record did, so the run ends
 * the same way and in the same words: a job that succeeded, one that failed with exit code 3, one
 * killed at its time limit, an array's task. They run at once.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  accountingState,
  jobState
} from '../../../src/backends/slurm/commands';
import {
  endedBySlurm,
  isActive,
  parseScontrolJob,
  type JobState
} from '../../../src/backends/slurm/job-state';
import type { RunPlan } from '../../../src/runs/plan';
import { slurmPartition, slurmShared } from '../../helpers/slurm-run';

jest.setTimeout(90_000);

const plan = {
  steps: [{ id: 'run0' }],
  limits: { timeoutSeconds: 60, memoryMiB: 64 }
} as unknown as RunPlan;

const run = (command: string, ...args: string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', timeout: 20_000 });

beforeAll(() => {
  slurmShared();
  // The cluster came up without accounting: the reason is in services.env.
  expect(process.env.SLURM_ACCOUNTING_UNAVAILABLE ?? 'slurmdbd').toBe(
    'slurmdbd'
  );
});

/** A batch job of one shell command, its output thrown away; its id. */
function submit(command: string, minutes = 1, options: string[] = []): string {
  const partition = slurmPartition();
  return run(
    'sbatch',
    '--parsable',
    '--job-name=reproserver-accounting-test',
    ...(partition ? [`--partition=${partition}`] : []),
    '--output=/dev/null',
    '--chdir=/tmp',
    '--mem=16M',
    `--time=${minutes}`,
    ...options,
    `--wrap=${command}`
  )
    .trim()
    .split(';')[0];
}

/** The controller's record of job `id` once it ended. */
async function controllerEnded(id: string): Promise<JobState> {
  for (let tries = 0; tries < 300; tries++) {
    const job = parseScontrolJob(run('scontrol', 'show', 'job', '-o', id));
    if (job && !isActive(job)) {
      return job;
    }
    await sleep(200);
  }
  throw new Error(`job ${id} did not end within a minute`);
}

/**
 * sacct's line of job `id` (`JobName|State`) once accounting has the whole record: slurmdbd hears
 * of a job's start and end a moment after the controller, and a short job's record may say
 * "allocation" for its name until the start message is in.
 */
async function accountingLine(id: string, expected: string): Promise<string> {
  let line = '';
  for (let tries = 0; tries < 100; tries++) {
    line = run('sacct', '-X', '-n', '-P', '-j', id, '-o', 'JobName,State');
    if (line === expected) {
      break;
    }
    await sleep(200);
  }
  return line;
}

/** Ends the job at once through its time limit, as an administrator may, once it runs. */
async function timeOut(id: string): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (
      parseScontrolJob(run('scontrol', 'show', 'job', '-o', id))?.state ===
      'RUNNING'
    ) {
      run('scontrol', 'update', `JobId=${id}`, 'TimeLimit=0');
      return;
    }
    await sleep(200);
  }
  throw new Error(`job ${id} did not start`);
}

it.concurrent.each([
  ['succeeded', 'true', 'COMPLETED', 'None', [[0, 0]]],
  ['failed with exit code 3', 'exit 3', 'FAILED', 'NonZeroExitCode', [[3, 0]]],
  // The controller looks at time limits every 30 s: this one ends 1 to 30 s after it started.
  // Slurm sends SIGTERM to the batch shell and to its `sleep`: the shell dies of it (0:15), or
  // it has seen its `sleep` die first and exits as the shell says a killed command ended (143).
  // Accounting, told apart from the controller, may then keep the signal as the exit code (15).
  // Either way the run ends the same (`endedBySlurm`, below): its time limit, in Slurm's words.
  [
    'was killed at its time limit',
    'sleep 80',
    'TIMEOUT',
    'TimeLimit',
    [
      [0, 15],
      [143, 0],
      [15, 0]
    ]
  ]
])(
  'a job that %s: accounting says what the controller said',
  async (_, command, state, reason, endings) => {
    const id = submit(command);
    if (state === 'TIMEOUT') {
      await timeOut(id);
    }
    const controller = await controllerEnded(id);
    expect(controller).toMatchObject({
      state,
      name: 'reproserver-accounting-test',
      reason
    });
    expect(endings).toContainEqual([controller.exitCode, controller.signal]);
    // sacct's own record of it: ours, ended in that state.
    const expected = `reproserver-accounting-test|${state}\n`;
    expect(await accountingLine(id, expected)).toBe(expected);
    const accounting = await accountingState(id);
    // The same but the job's name, which only the controller's answer carries, and how the job
    // ended, which each heard of on its own (one way when there is only one).
    const ended = { exitCode: 0, signal: 0 };
    expect({ ...accounting, name: controller.name, ...ended }).toEqual({
      ...controller,
      ...ended
    });
    expect(endings).toContainEqual([accounting?.exitCode, accounting?.signal]);
    // So the run would end the same way, in the same words.
    expect(endedBySlurm(plan, 0, id, accounting)).toEqual(
      endedBySlurm(plan, 0, id, controller)
    );
  }
);

it.concurrent(
  'an array task: accounting says what the controller said of it',
  async () => {
    // A sweep's variant is task N of an array, known to both as `<array id>_N`.
    const arrayId = submit('exit $SLURM_ARRAY_TASK_ID', 1, ['--array=0-1']);
    const id = `${arrayId}_1`;
    const controller = await controllerEnded(id);
    expect(controller).toMatchObject({
      state: 'FAILED',
      reason: 'NonZeroExitCode',
      exitCode: 1
    });
    const expected = 'reproserver-accounting-test|FAILED\n';
    expect(await accountingLine(id, expected)).toBe(expected);
    const accounting = await accountingState(id);
    expect({ ...accounting, name: controller.name }).toEqual(controller);
  }
);

it('falls back to accounting for a job the controller does not know', async () => {
  // No job has this id on a cluster started afresh: the controller answers "Invalid job id",
  // which sends jobState on to sacct, which has no record of it either.
  await expect(jobState('99999999')).resolves.toBe(undefined);
  expect(run('sacct', '-X', '-n', '-P', '-j', '99999999', '-o', 'JobID')).toBe(
    ''
  );
});
