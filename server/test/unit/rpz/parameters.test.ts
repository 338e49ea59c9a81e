import type { IoFileModel, RunModel } from '../../../src/rpz/model';
import {
  isNumber,
  packageParameters,
  runParameters
} from '../../../src/rpz/parameters';

function run(argv: string[], workingdir = '/home/ana'): RunModel {
  return {
    id: 'r',
    argv,
    binary: '/usr/bin/x',
    environ: {},
    workingdir,
    uid: 1000,
    gid: 1000,
    exitcode: 0,
    signal: null,
    architecture: 'x86_64',
    distribution: null,
    hostname: null,
    system: null
  };
}

const files: IoFileModel[] = [
  { name: 'data', path: '/home/ana/data/raw.csv', readBy: [0], writtenBy: [] },
  { name: 'out', path: '/home/ana/out/clean.csv', readBy: [], writtenBy: [0] },
  { name: 'both', path: '/tmp/state.db', readBy: [0], writtenBy: [0] }
];

describe('runParameters', () => {
  it('finds files named relative to the working directory or absolutely', () => {
    const p = runParameters(
      run([
        'python3',
        'clean.py',
        'data/raw.csv',
        '/home/ana/out/clean.csv',
        '../ana/data/raw.csv'
      ]),
      0,
      files
    );
    expect(p.args.map(a => [a.kind, a.file, a.role])).toEqual([
      ['program', undefined, undefined],
      ['text', undefined, undefined],
      ['file', 0, 'input'],
      ['file', 1, 'output'],
      ['file', 0, 'input']
    ]);
  });

  it('classifies --n 5, --n=5, -k 3, numbers and option values that are files', () => {
    const p = runParameters(
      run([
        'prog',
        '--n',
        '5',
        '--rate=0.5',
        '-k',
        '3',
        '--name',
        'abc',
        '42',
        '-1.5e3',
        '--db=/tmp/state.db',
        '-i',
        'data/raw.csv',
        '--verbose',
        '--x'
      ]),
      0,
      files
    );
    expect(p.args).toEqual([
      { index: 0, text: 'prog', kind: 'program' },
      { index: 1, text: '--n', kind: 'option', option: '--n' },
      {
        index: 2,
        text: '5',
        kind: 'option-value',
        option: '--n',
        value: '5',
        valueType: 'number'
      },
      {
        index: 3,
        text: '--rate=0.5',
        kind: 'option',
        option: '--rate',
        value: '0.5',
        valueType: 'number'
      },
      { index: 4, text: '-k', kind: 'option', option: '-k' },
      {
        index: 5,
        text: '3',
        kind: 'option-value',
        option: '-k',
        value: '3',
        valueType: 'number'
      },
      { index: 6, text: '--name', kind: 'option', option: '--name' },
      {
        index: 7,
        text: 'abc',
        kind: 'option-value',
        option: '--name',
        value: 'abc',
        valueType: 'string'
      },
      { index: 8, text: '42', kind: 'number', valueType: 'number' },
      { index: 9, text: '-1.5e3', kind: 'number', valueType: 'number' },
      {
        index: 10,
        text: '--db=/tmp/state.db',
        kind: 'option',
        option: '--db',
        value: '/tmp/state.db',
        valueType: 'file',
        file: 2,
        role: 'both'
      },
      { index: 11, text: '-i', kind: 'option', option: '-i' },
      {
        index: 12,
        text: 'data/raw.csv',
        kind: 'file',
        option: '-i',
        value: 'data/raw.csv',
        valueType: 'file',
        file: 0,
        role: 'input'
      },
      { index: 13, text: '--verbose', kind: 'option', option: '--verbose' },
      { index: 14, text: '--x', kind: 'option', option: '--x' }
    ]);
  });

  it('is JSON-serialisable and does not treat dashes or shell code as options', () => {
    const p = runParameters(run(['sh', '-c', 'cat in.txt | wc -l']), 0, files);
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
    expect(p.args[2]).toMatchObject({
      kind: 'option-value',
      valueType: 'string'
    });
    expect(isNumber('1.')).toBe(true);
    expect(isNumber('1.2.3')).toBe(false);
    expect(isNumber('-')).toBe(false);
  });

  it('classifies a huge argv against many files in linear time', () => {
    // 100 000 arguments against 100 000 files: a scan per argument was 10^10 path comparisons.
    const many: IoFileModel[] = Array.from({ length: 100_000 }, (_, i) => ({
      name: `f${i}`,
      path: `/data/f${i}`,
      readBy: [0],
      writtenBy: []
    }));
    const argv = [
      'prog',
      ...Array.from({ length: 100_000 }, (_, i) => `f${i}`)
    ];
    const started = Date.now();
    const [p] = packageParameters({ runs: [run(argv, '/data')], files: many });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(p.args[100_000]).toMatchObject({
      kind: 'file',
      file: 99_999,
      role: 'input'
    });
  });
});
