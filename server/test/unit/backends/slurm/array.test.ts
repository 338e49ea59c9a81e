import {
  arrayGroups,
  arrayScript,
  slurmLimits,
  taskList
} from '../../../../src/backends/slurm/array';
import { arrayTask } from '../../../../src/backends/slurm/commands';
import { parseArrayTask } from '../../../../src/backends/slurm/job-state';

/** A record as Slurm 22.05's `scontrol show job -o ARRAY` prints it (shortened). */
const record = (job: number, tasks: string, state: string): string =>
  `JobId=${job} ArrayJobId=40 ArrayTaskId=${tasks} ArrayTaskThrottle=2 JobName=reproserver-sweep-s1 UserId=root(0) JobState=${state} Reason=None Dependency=(null) ExitCode=0:0 RunTime=00:00:01`;

describe('parseArrayTask', () => {
  const records = [
    record(41, '0', 'COMPLETED'),
    record(42, '1', 'RUNNING'),
    record(40, '2-5,7%2', 'PENDING')
  ].join('\n');

  it('reads a task’s own record, or the pending tasks’ record that holds it', () => {
    expect(parseArrayTask(records, '40', 1)).toMatchObject({
      state: 'RUNNING',
      name: 'reproserver-sweep-s1'
    });
    expect(parseArrayTask(records, '40', 0)?.state).toBe('COMPLETED');
    expect(parseArrayTask(records, '40', 4)?.state).toBe('PENDING');
    expect(parseArrayTask(records, '40', 7)?.state).toBe('PENDING');
  });

  it('takes a task without a record while its array is known as cancelled', () => {
    // Slurm leaves no record of a pending task cancelled on its own (6 here).
    expect(parseArrayTask(records, '40', 6)).toMatchObject({
      state: 'CANCELLED'
    });
    // Pending tasks cancelled with their array: one record, task id NO_VAL-1.
    const whole = [
      record(41, '0', 'CANCELLED'),
      record(40, '4294967294', 'CANCELLED')
    ].join('\n');
    expect(parseArrayTask(whole, '40', 3)).toMatchObject({
      state: 'CANCELLED',
      name: 'reproserver-sweep-s1'
    });
  });

  it('guesses nothing from the answer about one task (orCancelled false)', () => {
    expect(parseArrayTask(records, '40', 6, false)).toBeUndefined();
    expect(parseArrayTask(records, '40', 1, false)?.state).toBe('RUNNING');
  });

  it('knows nothing of another array, or of lines that are not records', () => {
    expect(parseArrayTask(records, '41', 0)).toBeUndefined();
    expect(parseArrayTask('ArrayJobId=40 ArrayTaskId=0\n', '40', 0)).toBe(
      undefined
    );
  });
});

describe('arrayTask', () => {
  it('splits a task’s id, and only a task’s', () => {
    expect(arrayTask('40_7')).toEqual({ arrayId: '40', task: 7 });
    expect(arrayTask('40')).toBeUndefined();
    expect(arrayTask('40_7; rm -rf /')).toBeUndefined();
    expect(arrayTask('40_[1-3]')).toBeUndefined();
  });
});

describe('arrayGroups', () => {
  const run = (id: string, memoryMiB = 2048) => ({
    id,
    limits: slurmLimits({ memoryMiB, timeoutSeconds: 61, cpus: 0.5 })
  });

  it('keeps runs with the same limits together, in order, at most MaxArraySize each', () => {
    const runs = [run('a'), run('b', 512), run('c'), run('d'), run('e')];
    expect(arrayGroups(runs, 2).map(g => g.map(r => r.id))).toEqual([
      ['a', 'c'],
      ['d', 'e'],
      ['b']
    ]);
    expect(arrayGroups(runs, 1001).map(g => g.length)).toEqual([4, 1]);
  });

  it('rounds limits up to what sbatch takes', () => {
    expect(run('a').limits).toEqual({
      memoryMiB: 2048,
      timeMinutes: 2,
      cpus: 1
    });
  });
});

describe('taskList and arrayScript', () => {
  const dirs = [
    '/s/slurm-runs/a',
    undefined,
    '/s/slurm-runs/c',
    '/s/slurm-runs/d'
  ];

  it('lists the tasks of the runs not left out', () => {
    expect(taskList(dirs)).toBe('0,2-3');
    expect(taskList(['x', 'y', 'z'])).toBe('0-2');
  });

  it('maps each task id to its run’s batch script, and no other', () => {
    const script = arrayScript(dirs);
    expect(script).toContain(
      `  0) exec /bin/bash '/s/slurm-runs/a/job.sh' ;;\n  2) exec /bin/bash '/s/slurm-runs/c/job.sh' ;;`
    );
    expect(script).not.toMatch(/^ {2}1\)/m);
    expect(script).toMatch(/\*\) echo .*; exit 1 ;;/);
  });
});
