/**
 * Extracting metrics from a run's log and outputs: each source on ordinary output, then on
 * hostile output, where every case gives null or a clear refusal, never a hang.
 */
import { Readable } from 'node:stream';
import type { MetricSpec } from '../../../src/contract/schemas/metrics';
import { DomainError } from '../../../src/errors';
import { METRIC_BOUNDS } from '../../../src/metrics/bounds';
import { csvValues } from '../../../src/metrics/csv-output';
import { extractMetrics } from '../../../src/metrics/extract';
import { pairValues } from '../../../src/metrics/log-pair';
import { parseMetricNumber } from '../../../src/metrics/numbers';
import { hasNestedQuantifier } from '../../../src/metrics/regex-check';
import { checkMetrics } from '../../../src/metrics/validate';
import { eventLog, sources } from './helpers';

describe('numbers', () => {
  it.each([
    ['3', 3],
    ['-0.25', -0.25],
    ['.5', 0.5],
    ['+2.', 2],
    ['1e-3', 0.001],
    [' 7 ', 7],
    ['inf', null],
    ['nan', null],
    ['NaN', null],
    ['1e999', null],
    ['12%', null],
    ['0x10', null],
    ['1,5', null],
    ['', null],
    ['1'.repeat(100), null]
  ])('%j is %p', (text, value) => {
    expect(parseMetricNumber(text)).toBe(value);
  });
});

describe('log pairs', () => {
  it('reads key=value and key: value, whole words only', () => {
    expect(pairValues('epoch 3 acc=0.9, loss: 1.5e-2', 'acc')).toEqual([0.9]);
    expect(pairValues('epoch 3 acc=0.9, loss: 1.5e-2', 'loss')).toEqual([
      0.015
    ]);
    expect(pairValues('val_acc=0.5 acc.x=1', 'acc')).toEqual([]);
    expect(pairValues('{"acc": 0.75}', 'acc')).toEqual([0.75]);
    expect(pairValues('acc = nan', 'acc')).toEqual([null]);
    expect(pairValues('acc=1 acc=2', 'acc')).toEqual([1, 2]);
  });

  it('takes the last value by default, the first when asked, over lines cut into chunks', async () => {
    const log = eventLog(['ac', 'c=1\nnoise\nacc=', '2\n', 'acc=3']);
    const values = await extractMetrics(
      [
        { name: 'acc', source: 'log-pair' },
        { name: 'first', source: 'log-pair', key: 'acc', pick: 'first' },
        { name: 'absent', source: 'log-pair' }
      ],
      sources(log)
    );
    expect(values).toEqual({ acc: 3, first: 1, absent: null });
  });

  it('reads stderr too, and never the server’s own events', async () => {
    const log = eventLog([{ stream: 'stderr', text: 'loss=0.5\n' }]);
    const values = await extractMetrics(
      [
        { name: 'loss', source: 'log-pair' },
        { name: 'acc', source: 'log-pair' }
      ],
      sources(log)
    );
    expect(values).toEqual({ loss: 0.5, acc: null });
  });
});

describe('log regular expressions', () => {
  it('gives the first group, else the whole match', async () => {
    const log = eventLog(['step 1 loss 0.5\n', 'step 2 loss 0.25\n', '42\n']);
    const values = await extractMetrics(
      [
        { name: 'loss', source: 'log-regex', pattern: 'loss ([0-9.]+)' },
        {
          name: 'loss0',
          source: 'log-regex',
          pattern: 'loss ([0-9.]+)',
          pick: 'first'
        },
        { name: 'whole', source: 'log-regex', pattern: '^\\d+$' },
        { name: 'none', source: 'log-regex', pattern: 'accuracy (\\d+)' }
      ],
      sources(log)
    );
    expect(values).toEqual({ loss: 0.25, loss0: 0.5, whole: 42, none: null });
  });

  it('refuses nested quantifiers before anything runs, saying what to write', () => {
    expect(hasNestedQuantifier('(a+)+b')).toBe(true);
    expect(hasNestedQuantifier('^(\\w+\\s?)*$')).toBe(true);
    expect(hasNestedQuantifier('((ab)*c)+')).toBe(true);
    expect(hasNestedQuantifier('(\\d+)')).toBe(false);
    expect(hasNestedQuantifier('(ab)+[x+]*\\+')).toBe(false);
    expect(hasNestedQuantifier('(a{2})+')).toBe(false);
    expect(() =>
      checkMetrics([{ name: 'x', source: 'log-regex', pattern: '(a+)+b' }])
    ).toThrow(
      /repeats a group that itself repeats.*\(a\+\) instead of \(a\+\)\+/
    );
  });

  it('stops a pattern that backtracks for too long: null, within the time limit', async () => {
    // Polynomial (n³ on a 64 KiB line): passes the static check, caught by the worker's limit.
    const log = eventLog(['a'.repeat(70_000) + '\n', 'acc=1\n']);
    const started = Date.now();
    const values = await extractMetrics(
      [
        { name: 'slow', source: 'log-regex', pattern: 'a*a*a*b' },
        { name: 'acc', source: 'log-pair' }
      ],
      sources(log),
      { regexTimeMs: 300 }
    );
    expect(values).toEqual({ slow: null, acc: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('a 10 MB line', () => {
  it('is cut at the line bound: a pair at its start is found, the lines after it too', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const log = eventLog([
      'first=1 ',
      ...Array.from({ length: 160 }, () => chunk),
      ' tail=5\n',
      'after=2\n'
    ]);
    const started = Date.now();
    const values = await extractMetrics(
      [
        { name: 'first', source: 'log-pair' },
        { name: 'tail', source: 'log-pair' },
        { name: 'after', source: 'log-pair' },
        { name: 'r', source: 'log-regex', pattern: 'after=(\\d)' }
      ],
      sources(log)
    );
    // `tail` is past the cut: not seen.
    expect(values).toEqual({ first: 1, tail: null, after: 2, r: 2 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('CSV outputs', () => {
  const csv = [
    'epoch,"loss, train",note,acc',
    '1,0.9,"a ""quoted"" note",0.5',
    '2,0.5,"two',
    'lines",0.75',
    '',
    '3,0.25,,n/a',
    ''
  ].join('\r\n');

  it('reads cells by header or index, rows from either end, reduced columns', async () => {
    const specs: MetricSpec[] = [
      { name: 'last', source: 'csv', output: 'out', column: 'loss, train' },
      { name: 'byIndex', source: 'csv', output: 'out', column: 1, row: 0 },
      { name: 'second', source: 'csv', output: 'out', column: 'acc', row: 1 },
      { name: 'fromEnd', source: 'csv', output: 'out', column: 1, row: -2 },
      { name: 'text', source: 'csv', output: 'out', column: 'acc', row: -1 },
      {
        name: 'mean',
        source: 'csv',
        output: 'out',
        column: 'acc',
        reduce: 'mean'
      },
      { name: 'min', source: 'csv', output: 'out', column: 1, reduce: 'min' },
      { name: 'sum', source: 'csv', output: 'out', column: 0, reduce: 'sum' },
      {
        name: 'count',
        source: 'csv',
        output: 'out',
        column: 'acc',
        reduce: 'count'
      },
      { name: 'noColumn', source: 'csv', output: 'out', column: 'nope' },
      { name: 'noRow', source: 'csv', output: 'out', column: 0, row: 9 },
      { name: 'noOutput', source: 'csv', output: 'other', column: 0 }
    ];
    expect(
      await extractMetrics(specs, sources(eventLog([]), { out: csv }))
    ).toEqual({
      last: 0.25,
      byIndex: 0.9,
      second: 0.75,
      fromEnd: 0.5,
      text: null,
      mean: 0.625,
      min: 0.25,
      sum: 6,
      count: 2,
      noColumn: null,
      noRow: null,
      noOutput: null
    });
  });

  it('gives null for an unterminated quote', async () => {
    const values = await csvValues(
      Readable.from([Buffer.from('a,b\n1,"2\n3,4\n')]),
      [{ column: 'a' }, { column: 'b', row: 0 }]
    );
    expect(values).toEqual([null, null]);
  });

  it('gives null for a row longer than the bound (a quote never closed in a big file)', async () => {
    const big = 'a\n"' + 'x'.repeat(METRIC_BOUNDS.lineBytes + 10) + '\n1\n';
    expect(
      await csvValues(Readable.from([Buffer.from(big)]), [{ column: 'a' }])
    ).toEqual([null]);
  });

  it('stops reading once a cell from the start is known', async () => {
    let served = 0;
    async function* endless() {
      yield Buffer.from('a\n1\n2\n');
      for (;;) {
        served++;
        yield Buffer.from('3\n'.repeat(1000));
      }
    }
    expect(
      await csvValues(Readable.from(endless()), [{ column: 'a', row: 1 }])
    ).toEqual([2]);
    expect(served).toBeLessThan(3);
  });
});

describe('JSON outputs', () => {
  it('reads numbers (or numeric strings) at paths', async () => {
    const doc = JSON.stringify({
      stats: { n: 4, mean: '2.5', tags: ['a'] },
      runs: [{ y: 1 }, { y: 2 }],
      bad: 'high'
    });
    const specs: MetricSpec[] = [
      { name: 'n', source: 'json', output: 'r.json', path: 'stats.n' },
      { name: 'mean', source: 'json', output: 'r.json', path: 'stats.mean' },
      { name: 'y1', source: 'json', output: 'r.json', path: 'runs[1].y' },
      { name: 'bad', source: 'json', output: 'r.json', path: 'bad' },
      { name: 'missing', source: 'json', output: 'r.json', path: 'runs[5].y' },
      { name: 'object', source: 'json', output: 'r.json', path: 'stats' }
    ];
    expect(
      await extractMetrics(specs, sources(eventLog([]), { 'r.json': doc }))
    ).toEqual({
      n: 4,
      mean: 2.5,
      y1: 2,
      bad: null,
      missing: null,
      object: null
    });
  });

  it('gives null for a deep document, a broken one, and one over the size bound', async () => {
    const spec = (output: string): MetricSpec => ({
      name: output,
      source: 'json',
      output,
      path: ''
    });
    const deep = '['.repeat(100_000) + '1' + ']'.repeat(100_000);
    const huge = Buffer.alloc(METRIC_BOUNDS.jsonBytes + 1, ' ');
    huge.write('1', 0);
    const values = await extractMetrics(
      [spec('deep'), spec('broken'), spec('huge'), spec('fine')],
      sources(eventLog([]), {
        deep,
        broken: '{"a": 1',
        huge,
        fine: ' 3 '
      })
    );
    expect(values).toEqual({ deep: null, broken: null, huge: null, fine: 3 });
  });
});

describe('checking a list', () => {
  const refused = (specs: MetricSpec[]): string => {
    try {
      checkMetrics(specs);
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('bad-metric');
      return (error as Error).message;
    }
    throw new Error('not refused');
  };

  it('refuses what cannot be extracted, saying what to change', () => {
    expect(
      refused([
        { name: 'a', source: 'log-pair' },
        { name: 'a', source: 'log-pair', key: 'b' }
      ])
    ).toBe('Two metrics are named "a"; give each its own name.');
    expect(
      refused([{ name: 'r', source: 'log-regex', pattern: '(unclosed' }])
    ).toMatch(
      /^Metric "r": The pattern \/\(unclosed\/ is not a regular expression/
    );
    expect(
      refused([{ name: 'j', source: 'json', output: 'o', path: 'a..b' }])
    ).toBe('Metric "j": "a..b" has an empty key; write a.b[0].c.');
    expect(
      refused([{ name: 'j', source: 'json', output: 'o', path: 'a[x]' }])
    ).toMatch(/bracket without an index/);
    expect(
      refused([
        { name: 'c', source: 'csv', output: 'o', column: 0, row: -2_000_000 }
      ])
    ).toMatch(/beyond the 1000000 rows read/);
    expect(
      refused([
        {
          name: 'c',
          source: 'csv',
          output: 'o',
          column: 0,
          row: 1,
          reduce: 'mean'
        }
      ])
    ).toBe('Metric "c": give a row or a reduce, not both.');
  });

  it('accepts a good list as it is', () => {
    const specs: MetricSpec[] = [
      { name: 'acc', source: 'log-pair' },
      { name: 'n', source: 'json', output: 'o', path: 'a.b[0].c' }
    ];
    expect(checkMetrics(specs)).toEqual(specs);
  });
});
