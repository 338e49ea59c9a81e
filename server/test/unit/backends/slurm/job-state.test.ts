import {
  endedBySlurm,
  isActive,
  killedForMemory,
  parseSacctJob,
  parseScontrolJob
} from '../../../../src/backends/slurm/job-state';
import type { RunPlan } from '../../../../src/runs/plan';

const plan = {
  steps: [{ id: 'run0' }],
  limits: { timeoutSeconds: 90, memoryMiB: 256 }
} as unknown as RunPlan;

/** A line as Slurm 22.05's `scontrol show job -o` prints it (shortened). */
const line = (state: string, reason: string, exit: string): string =>
  `JobId=12 JobName=reproserver-r1 UserId=root(0) GroupId=root(0) JobState=${state} Reason=${reason} Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 ExitCode=${exit} RunTime=00:00:21 TimeLimit=00:02:00 Command=/shared/slurm-runs/r1/job.sh WorkDir=/shared/slurm-runs/r1`;

describe('parseScontrolJob', () => {
  it('reads the state, reason and exit code', () => {
    expect(parseScontrolJob(line('TIMEOUT', 'TimeLimit', '0:15'))).toEqual({
      state: 'TIMEOUT',
      name: 'reproserver-r1',
      reason: 'TimeLimit',
      exitCode: 0,
      signal: 15
    });
  });

  it('refuses what is not a job line', () => {
    expect(parseScontrolJob('slurm_load_jobs error: Invalid job id')).toBe(
      undefined
    );
    expect(parseScontrolJob(line('TIME$OUT', 'x', '0:0'))).toBe(undefined);
    expect(parseScontrolJob(line('FAILED', 'x', '1:2:3'))).toBe(undefined);
  });
});

describe('parseSacctJob', () => {
  it('reads the state from the job’s line, the exit code from its batch step', () => {
    // As Slurm 22.05's sacct prints a job killed at its time limit.
    const timedOut =
      '12|TIMEOUT|0:0\n12.batch|CANCELLED|0:15\n12.extern|COMPLETED|0:0\n';
    expect(parseSacctJob(timedOut, '12')).toEqual({
      state: 'TIMEOUT',
      reason: 'TimeLimit',
      exitCode: 0,
      signal: 15
    });
    expect(
      parseSacctJob('7_3|FAILED|3:0\n7_3.batch|FAILED|3:0\n', '7_3')
    ).toEqual({
      state: 'FAILED',
      reason: 'NonZeroExitCode',
      exitCode: 3,
      signal: 0
    });
  });

  it('reads "CANCELLED by 0" as CANCELLED, a job without steps by its own line', () => {
    expect(parseSacctJob('12|CANCELLED by 0|0:0\n', '12')).toEqual({
      state: 'CANCELLED',
      reason: 'None',
      exitCode: 0,
      signal: 0
    });
  });

  it('is undefined without a record of that job', () => {
    expect(parseSacctJob('', '12')).toBe(undefined);
    expect(
      parseSacctJob('120|COMPLETED|0:0\n12.batch|COMPLETED|0:0\n', '12')
    ).toBe(undefined);
    expect(parseSacctJob('12|RUN NING|x\n', '12')).toBe(undefined);
  });
});

describe('isActive', () => {
  it.each([
    ['PENDING', true],
    ['RUNNING', true],
    ['COMPLETING', true],
    ['COMPLETED', false],
    ['TIMEOUT', false],
    ['NODE_FAIL', false]
  ])('%s: %s', (state, active) => {
    expect(isActive({ state, reason: 'None', exitCode: 0, signal: 0 })).toBe(
      active
    );
  });
});

describe('endedBySlurm', () => {
  const job = (state: string, reason = 'None') => ({
    state,
    reason,
    exitCode: 0,
    signal: 9
  });

  it.each([
    [
      'TIMEOUT',
      'TimeLimit',
      {
        status: 'timed-out',
        failedStep: 0,
        reason:
          'The run exceeded its time limit of 90 s (Slurm job 12 ended TIMEOUT, reason TimeLimit).'
      }
    ],
    [
      'OUT_OF_MEMORY',
      'OutOfMemory',
      {
        status: 'out-of-memory',
        failedStep: 0,
        reason:
          'Step 0 (run0) ran out of memory (limit 256 MiB; Slurm job 12 ended OUT_OF_MEMORY, reason OutOfMemory).'
      }
    ],
    [
      'CANCELLED',
      'None',
      {
        status: 'cancelled',
        failedStep: 0,
        reason:
          'The run was cancelled on the cluster (Slurm job 12 ended CANCELLED).'
      }
    ],
    [
      'NODE_FAIL',
      'NodeDown',
      {
        status: 'error',
        failedStep: 0,
        reason:
          'The cluster stopped the run: Slurm job 12 ended NODE_FAIL, reason NodeDown; run it again.'
      }
    ]
  ])('%s', (state, reason, result) => {
    expect(endedBySlurm(plan, 0, '12', job(state, reason))).toEqual(result);
  });

  it('says so when Slurm forgot the job', () => {
    expect(endedBySlurm(plan, 0, '12', undefined)).toMatchObject({
      status: 'error',
      reason: expect.stringMatching(/^Slurm no longer knows job 12/)
    });
  });
});

it('finds a memory kill in the job output', () => {
  expect(
    killedForMemory(
      'slurmstepd-node: error: Exceeded job memory limit\n*** JOB 3 CANCELLED ***'
    )
  ).toBe(true);
  expect(killedForMemory('MemoryError\n')).toBe(false);
});
