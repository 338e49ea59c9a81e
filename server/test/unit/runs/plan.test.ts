import type { PackageModel, RunModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { PlanError, planRun, resolveStep } from '../../../src/runs/plan';

function run(overrides: Partial<RunModel>): RunModel {
  return {
    id: 'run0',
    argv: ['sh', 'go.sh', 'in.txt', '3'],
    binary: '/usr/bin/sh',
    environ: { PATH: '/usr/bin:/bin', HOME: '/home/ana' },
    workingdir: '/home/ana/exp',
    uid: 1000,
    gid: 1000,
    exitcode: 0,
    signal: null,
    architecture: 'x86_64',
    distribution: { name: 'debian', version: '12' },
    hostname: 'lab-ws3',
    system: null,
    ...overrides
  };
}

/** Two steps: `prepare` reads in.txt and writes mid.txt; `report` reads mid.txt, writes out.txt. */
const model: PackageModel = {
  format: 2,
  container: 'v2-tar',
  sha256: 'ab'.repeat(32),
  size: 1000,
  configVersion: '0.8',
  packId: null,
  runs: [
    run({ id: 'prepare' }),
    run({
      id: 'report',
      argv: ['./report', '--scale', '2.5'],
      binary: '/home/ana/exp/report',
      uid: 1001,
      gid: 1002,
      hostname: 'other'
    })
  ],
  files: [
    { name: 'in', path: '/home/ana/exp/in.txt', readBy: [0], writtenBy: [] },
    { name: 'mid', path: '/home/ana/exp/mid.txt', readBy: [1], writtenBy: [0] },
    { name: 'out', path: '/home/ana/exp/out.txt', readBy: [], writtenBy: [1] }
  ],
  packages: [],
  otherFiles: [],
  data: { compressedSize: 10, listedPaths: 3 },
  trace: { status: 'absent' },
  extensions: [],
  warnings: []
};

describe('planRun', () => {
  it('runs every step exactly as recorded when nothing is edited', () => {
    const plan = planRun(model);
    expect(plan.steps).toEqual([
      {
        index: 0,
        id: 'prepare',
        argv: ['sh', 'go.sh', 'in.txt', '3'],
        binary: '/usr/bin/sh',
        environ: { PATH: '/usr/bin:/bin', HOME: '/home/ana' },
        workingdir: '/home/ana/exp',
        uid: 1000,
        gid: 1000
      },
      expect.objectContaining({ index: 1, id: 'report', uid: 1001, gid: 1002 })
    ]);
    expect(plan.outputs).toEqual([
      { name: 'mid', path: '/home/ana/exp/mid.txt' },
      { name: 'out', path: '/home/ana/exp/out.txt' }
    ]);
    expect(plan.inputs).toEqual([]);
    expect(plan.hostname).toBe('lab-ws3');
    expect(plan.limits).toEqual(DEFAULT_LIMITS);
  });

  it('does not share objects with the model (edits never leak back)', () => {
    const plan = planRun(model, {
      stepEdits: [{ step: 0, setEnv: { X: '1' } }]
    });
    expect(model.runs[0].environ).not.toHaveProperty('X');
    plan.steps[0].argv.push('mutated');
    expect(model.runs[0].argv).toHaveLength(4);
  });

  it('selects steps, and collects only the outputs of the selected ones', () => {
    const plan = planRun(model, { steps: [1] });
    expect(plan.steps.map(s => s.id)).toEqual(['report']);
    expect(plan.outputs).toEqual([
      { name: 'out', path: '/home/ana/exp/out.txt' }
    ]);
    expect(plan.hostname).toBe('other');
  });

  it('replaces single arguments and keeps the recorded program', () => {
    const plan = planRun(model, {
      stepEdits: [{ step: 0, args: [{ index: 3, value: '5' }] }]
    });
    expect(plan.steps[0].argv).toEqual(['sh', 'go.sh', 'in.txt', '5']);
    expect(plan.steps[0].binary).toBe('/usr/bin/sh');
  });

  it('looks the program up in PATH when the command line or argv[0] is replaced', () => {
    const whole = planRun(model, {
      stepEdits: [{ step: 1, argv: ['python3', '-c', 'print(1)'] }]
    });
    expect(whole.steps[1]).toMatchObject({
      argv: ['python3', '-c', 'print(1)'],
      binary: null
    });
    const first = planRun(model, {
      stepEdits: [{ step: 0, args: [{ index: 0, value: 'bash' }] }]
    });
    expect(first.steps[0]).toMatchObject({
      argv: ['bash', 'go.sh', 'in.txt', '3'],
      binary: null
    });
    const same = planRun(model, {
      stepEdits: [{ step: 0, args: [{ index: 0, value: 'sh' }] }]
    });
    expect(same.steps[0].binary).toBe('/usr/bin/sh');
  });

  it('sets and unsets environment variables per step', () => {
    const plan = planRun(model, {
      stepEdits: [
        {
          step: 0,
          setEnv: { GREETING: 'Hello', HOME: '/root' },
          unsetEnv: ['PATH']
        }
      ]
    });
    expect(plan.steps[0].environ).toEqual({ HOME: '/root', GREETING: 'Hello' });
    expect(plan.steps[1].environ).toEqual(model.runs[1].environ);
  });

  it('places a replaced input before the first selected step that reads it, owned by that step', () => {
    const source = { kind: 'file' as const, path: '/tmp/mine.txt' };
    const all = planRun(model, { inputs: [{ name: 'mid', source }] });
    expect(all.inputs).toEqual([
      {
        name: 'mid',
        path: '/home/ana/exp/mid.txt',
        source,
        beforeStep: 1,
        uid: 1001,
        gid: 1002,
        mode: 0o644
      }
    ]);
    const alone = planRun(model, {
      steps: [1],
      inputs: [{ name: 'mid', source }]
    });
    expect(alone.inputs[0].beforeStep).toBe(0);
  });

  it('merges limits with the defaults', () => {
    expect(
      planRun(model, { limits: { memoryMiB: 64, timeoutSeconds: 5 } }).limits
    ).toEqual({
      ...DEFAULT_LIMITS,
      memoryMiB: 64,
      timeoutSeconds: 5
    });
  });

  it.each([
    [
      { steps: [2] },
      'unknown-step',
      'Unknown step 2: this package has 2 steps: 0 (prepare), 1 (report).'
    ],
    [
      { steps: [] },
      'unknown-step',
      'No step is selected: select at least one.'
    ],
    [
      { steps: [0], stepEdits: [{ step: 1, setEnv: { A: 'b' } }] },
      'unknown-step',
      'Step 1 (report) is edited but not selected to run.'
    ],
    [
      { stepEdits: [{ step: 0, args: [{ index: 4, value: 'x' }] }] },
      'arg-out-of-range',
      'Step 0 (prepare) has arguments 0 to 3; there is no argument 4.'
    ],
    [
      { stepEdits: [{ step: 1, argv: [] }] },
      'empty-command',
      'The new command line of step 1 (report) is empty.'
    ],
    [
      { stepEdits: [{ step: 0, args: [{ index: 0, value: '' }] }] },
      'empty-command',
      'The program of step 0 (prepare) is empty.'
    ],
    [
      {
        inputs: [{ name: 'out', source: { kind: 'file' as const, path: '/x' } }]
      },
      'unknown-input',
      '"out" is not an input of this package; its inputs are: in, mid.'
    ],
    [
      { stepEdits: [{ step: 0, setEnv: { 'A=B': 'c' } }] },
      'bad-env',
      '"A=B" cannot be an environment variable name.'
    ],
    [
      { limits: { memoryMiB: -1 } },
      'bad-limit',
      'The limit memoryMiB must be a positive number, not -1.'
    ],
    [
      { limits: { memoryMiB: 4 } },
      'bad-limit',
      'The memory limit must be at least 6 MiB (Docker refuses less).'
    ]
  ])('refuses %j with a clear sentence', (edits, code, message) => {
    let error: unknown;
    try {
      planRun(model, edits);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlanError);
    expect(error).toMatchObject({ code, message });
  });
});

describe('resolveStep', () => {
  it('takes a run id or a 0-based index', () => {
    expect(resolveStep(model, 'report')).toBe(1);
    expect(resolveStep(model, '0')).toBe(0);
    expect(() => resolveStep(model, '7')).toThrow(PlanError);
    expect(() => resolveStep(model, 'nope')).toThrow('Unknown step "nope"');
  });
});
