/**
 * The pure core of sweeps: expansion (grid, zip, ids), merging into the base edits, ranges and
 * their printing, and every bound and mistake refused with its code before anything is listed.
 */
import type {
  SweepAxis,
  SweepSpec
} from '../../../src/contract/schemas/sweeps';
import { DomainError } from '../../../src/errors';
import type { PackageModel, RunModel } from '../../../src/rpz/model';
import { planRun } from '../../../src/runs/plan';
import { SWEEP_BOUNDS } from '../../../src/sweeps/bounds';
import {
  countVariants,
  expandSweep,
  variantId
} from '../../../src/sweeps/expand';
import {
  decimalsOf,
  rangeLength,
  rangeValues
} from '../../../src/sweeps/range';

function run(overrides: Partial<RunModel>): RunModel {
  return {
    id: 'run0',
    argv: ['sh', 'wordfreq.sh', 'words.txt', '3'],
    binary: '/usr/bin/sh',
    environ: { PATH: '/usr/bin:/bin' },
    workingdir: '/exp',
    uid: 1000,
    gid: 1000,
    exitcode: 0,
    signal: null,
    architecture: 'x86_64',
    distribution: { name: 'debian', version: '12' },
    hostname: 'lab',
    system: null,
    ...overrides
  };
}

const model: PackageModel = {
  format: 2,
  container: 'v2-tar',
  sha256: 'ab'.repeat(32),
  size: 1000,
  configVersion: '0.8',
  packId: null,
  runs: [run({}), run({ id: 'report', argv: ['./report', '--scale', '2'] })],
  files: [
    { name: 'words', path: '/exp/words.txt', readBy: [0], writtenBy: [] },
    { name: 'out', path: '/exp/out.txt', readBy: [], writtenBy: [1] }
  ],
  packages: [],
  otherFiles: [],
  data: { compressedSize: 10, listedPaths: 3 },
  trace: { status: 'absent' },
  extensions: [],
  warnings: []
};

const list = (...values: string[]) => ({ kind: 'list' as const, values });
const argAxis = (
  values: SweepAxis['values'],
  index = 3,
  step = 0
): SweepAxis => ({
  field: { kind: 'arg', step, index },
  values
});
const spec = (axes: SweepAxis[], more: Partial<SweepSpec> = {}): SweepSpec => ({
  package: 'ab'.repeat(32),
  axes,
  ...more
});

/** The code and message of what `fn` throws, which must be a domain error. */
function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return {
      code: (error as DomainError).code,
      message: (error as DomainError).message
    };
  }
  throw new Error('expected a refusal');
}

describe('ranges', () => {
  it.each([
    [{ start: 1, stop: 3, step: 1 }, ['1', '2', '3']],
    [{ start: 0, stop: 0.3, step: 0.1 }, ['0', '0.1', '0.2', '0.3']],
    [{ start: 1, stop: 0, step: -0.25 }, ['1', '0.75', '0.5', '0.25', '0']],
    [{ start: 0, stop: 10, step: 4 }, ['0', '4', '8']],
    [{ start: -1, stop: 1, step: 1 }, ['-1', '0', '1']],
    [{ start: 5, stop: 5, step: 1 }, ['5']],
    [{ start: 0, stop: 3e-7, step: 1e-7 }, ['0', '1e-7', '2e-7', '3e-7']]
  ])('lists %j as seq would, without float noise', (range, values) => {
    expect(rangeValues(range)).toEqual(values);
    expect(rangeLength(range)).toBe(values.length);
  });

  it('counts a huge range without listing it', () => {
    expect(rangeLength({ start: 1, stop: 1e12, step: 1 })).toBe(1e12);
    const { code } = refusal(() =>
      countVariants(
        spec([argAxis({ kind: 'range', start: 1, stop: 1e12, step: 1 })])
      )
    );
    expect(code).toBe('sweep-too-large');
  });

  it.each([
    [{ start: 0, stop: 1, step: 0 }, /step of 0/],
    [
      { start: 0, stop: 1, step: -1 },
      /moves away from its stop; use a positive step/
    ],
    [{ start: 0, stop: Infinity, step: 1 }, /not finite/],
    [{ start: NaN, stop: 1, step: 1 }, /not finite/]
  ])('refuses %j', (range, message) => {
    const refused = refusal(() => rangeLength(range));
    expect(refused.code).toBe('bad-sweep');
    expect(refused.message).toMatch(message);
  });

  it('knows how many decimals a number is written with', () => {
    expect([0.25, 3, 1e-7, 1.5e-8, -0.1].map(decimalsOf)).toEqual([
      2, 0, 7, 9, 1
    ]);
  });
});

describe('expandSweep', () => {
  it('expands a grid in axis order, the last axis fastest, with ids by count', () => {
    const { variants } = expandSweep(
      spec([
        argAxis(list('1', '2')),
        {
          field: { kind: 'env', step: 0, name: 'SEED' },
          values: list('a', 'b', 'c')
        }
      ]),
      model
    );
    expect(variants.map(v => [v.id, ...v.values])).toEqual([
      ['v001', '1', 'a'],
      ['v002', '1', 'b'],
      ['v003', '1', 'c'],
      ['v004', '2', 'a'],
      ['v005', '2', 'b'],
      ['v006', '2', 'c']
    ]);
    expect(variants[4].edits).toEqual({
      stepEdits: [
        { step: 0, args: [{ index: 3, value: '2' }], setEnv: { SEED: 'b' } }
      ]
    });
  });

  it('zips axes of the same length, and refuses different lengths with a sentence', () => {
    const axes = [
      argAxis(list('1', '2', '3')),
      argAxis(list('x', 'y', 'z'), 1, 1)
    ];
    const { variants } = expandSweep(spec(axes, { combine: 'zip' }), model);
    expect(variants.map(v => v.values)).toEqual([
      ['1', 'x'],
      ['2', 'y'],
      ['3', 'z']
    ]);
    const refused = refusal(() =>
      expandSweep(
        spec([argAxis(list('1', '2')), argAxis(list('x'), 1, 1)], {
          combine: 'zip'
        }),
        model
      )
    );
    expect(refused).toEqual({
      code: 'bad-sweep',
      message: expect.stringMatching(
        /same number of values; these have 2, 1 \(arg 0:3, arg 1:1\)/
      )
    });
  });

  it('merges into the base edits without changing them or dropping what they set', () => {
    const base = {
      steps: [0, 1],
      stepEdits: [
        {
          step: 0,
          args: [
            { index: 3, value: '9' },
            { index: 2, value: 'other.txt' }
          ],
          unsetEnv: ['SEED', 'HOME']
        }
      ],
      inputs: [
        { name: 'words', source: { kind: 'workspace' as const, path: 'a.txt' } }
      ],
      limits: { timeoutSeconds: 60 }
    };
    const frozen = structuredClone(base);
    const { variants } = expandSweep(
      spec(
        [
          argAxis(list('5')),
          { field: { kind: 'env', step: 0, name: 'SEED' }, values: list('7') },
          {
            field: { kind: 'input', name: 'words' },
            values: { kind: 'files', paths: ['b.txt'] }
          },
          {
            field: { kind: 'cmdline', step: 1 },
            values: list("./report --scale '2 5'")
          }
        ],
        { edits: base }
      ),
      model
    );
    expect(base).toEqual(frozen);
    expect(variants[0].edits).toEqual({
      steps: [0, 1],
      stepEdits: [
        {
          step: 0,
          args: [
            { index: 2, value: 'other.txt' },
            { index: 3, value: '5' }
          ],
          unsetEnv: ['HOME'],
          setEnv: { SEED: '7' }
        },
        { step: 1, argv: ['./report', '--scale', '2 5'] }
      ],
      inputs: [{ name: 'words', source: { kind: 'workspace', path: 'b.txt' } }],
      limits: { timeoutSeconds: 60 }
    });
    expect(planRun(model, variants[0].edits).steps[0].argv).toEqual([
      'sh',
      'wordfreq.sh',
      'other.txt',
      '5'
    ]);
  });

  it('gives input files the source the caller asks for', () => {
    const { variants } = expandSweep(
      spec([
        {
          field: { kind: 'input', name: 'words' },
          values: { kind: 'files', paths: ['/tmp/a'] }
        }
      ]),
      model,
      { inputSource: path => ({ kind: 'file', path }) }
    );
    expect(variants[0].edits.inputs).toEqual([
      { name: 'words', source: { kind: 'file', path: '/tmp/a' } }
    ]);
  });

  it('numbers ranges and widens ids with the count', () => {
    const { variants } = expandSweep(
      spec([argAxis({ kind: 'range', start: 1, stop: 1000, step: 1 })]),
      model
    );
    expect(variants).toHaveLength(1000);
    expect(variants[999]).toMatchObject({ id: 'v1000', values: ['1000'] });
    expect(variants[0].id).toBe('v0001');
    expect(variantId(0, 3)).toBe('v001');
    expect(variantId(9999, 10_000)).toBe('v10000');
  });

  it.each<[string, SweepSpec, string, RegExp]>([
    ['no axis', spec([]), 'bad-sweep', /at least one axis/],
    [
      'too many axes',
      spec(Array.from({ length: 9 }, (_, i) => argAxis(list('1'), i % 4))),
      'sweep-too-large',
      /at most 8 axes, not 9/
    ],
    ['an empty axis', spec([argAxis(list())]), 'bad-sweep', /has no values/],
    [
      'too many values',
      spec([argAxis(list(...Array.from({ length: 10_001 }, String)))]),
      'sweep-too-large',
      /10001 values, more than 10000/
    ],
    [
      'too many variants',
      spec([
        argAxis({ kind: 'range', start: 1, stop: 200, step: 1 }),
        argAxis({ kind: 'range', start: 1, stop: 200, step: 1 }, 2)
      ]),
      'sweep-too-large',
      /200 × 200 variants, more than 10000/
    ],
    [
      'a value too long',
      spec([argAxis(list('x'.repeat(SWEEP_BOUNDS.valueLength + 1)))]),
      'sweep-too-large',
      /4097 characters long/
    ],
    [
      'an unknown step',
      spec([argAxis(list('1'), 0, 5)]),
      'unknown-step',
      /Unknown step 5/
    ],
    [
      'an argument out of range',
      spec([argAxis(list('1'), 4)]),
      'arg-out-of-range',
      /arguments 0 to 3; there is no argument 4/
    ],
    [
      'an unknown input',
      spec([
        {
          field: { kind: 'input', name: 'nope' },
          values: { kind: 'files', paths: ['a'] }
        }
      ]),
      'unknown-input',
      /"nope" is not an input of this package; its inputs are: words/
    ],
    [
      'files for an argument',
      spec([
        {
          field: { kind: 'arg', step: 0, index: 1 },
          values: { kind: 'files', paths: ['a'] }
        }
      ]),
      'bad-sweep',
      /input axes only/
    ],
    [
      'a list for an input',
      spec([{ field: { kind: 'input', name: 'words' }, values: list('a') }]),
      'bad-sweep',
      /takes files/
    ],
    [
      'a bad variable name',
      spec([
        { field: { kind: 'env', step: 0, name: 'A=B' }, values: list('1') }
      ]),
      'bad-env',
      /cannot be an environment variable/
    ],
    [
      'the same field twice',
      spec([argAxis(list('1')), argAxis(list('2'))]),
      'bad-sweep',
      /Two axes vary arg 0:3/
    ],
    [
      'an unclosed quote',
      spec([{ field: { kind: 'cmdline', step: 0 }, values: list("sh 'oops") }]),
      'bad-sweep',
      /cannot be split/
    ],
    [
      'an empty command line',
      spec([{ field: { kind: 'cmdline', step: 0 }, values: list('sh x', '') }]),
      'empty-command',
      /Variant v002 \(\): The new command line of step 0/
    ],
    [
      'a step not selected',
      spec([argAxis(list('1'), 1, 1)], { edits: { steps: [0] } }),
      'unknown-step',
      /not selected to run/
    ],
    [
      'an unresolved glob',
      spec([
        {
          field: { kind: 'input', name: 'words' },
          values: { kind: 'glob', pattern: '*.txt' }
        }
      ]),
      'bad-sweep',
      /resolved into files/
    ]
  ])('refuses %s with a code and a sentence', (_, bad, code, message) => {
    const refused = refusal(() => expandSweep(bad, model));
    expect(refused.code).toBe(code);
    expect(refused.message).toMatch(message);
  });

  it('refuses a huge grid before listing any value', () => {
    const started = process.hrtime.bigint();
    const refused = refusal(() =>
      expandSweep(
        spec([
          argAxis({ kind: 'range', start: 0, stop: 9999, step: 1 }),
          argAxis({ kind: 'range', start: 0, stop: 1e15, step: 1 }, 2)
        ]),
        model
      )
    );
    expect(refused.code).toBe('sweep-too-large');
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
  });
});
