/** `reproserver sweep --metric`: the compact syntax, and a sentence for each mistake. */
import { parseMetricFlag } from '../../../src/cli/metric-flags';

describe('--metric', () => {
  it.each([
    ['acc=log', { name: 'acc', source: 'log-pair' }],
    ['acc=log:val_acc', { name: 'acc', source: 'log-pair', key: 'val_acc' }],
    ['acc=log-first', { name: 'acc', source: 'log-pair', pick: 'first' }],
    [
      'loss=regex:loss: ([0-9.]+)',
      { name: 'loss', source: 'log-regex', pattern: 'loss: ([0-9.]+)' }
    ],
    [
      'l=regex-first:x(\\d)',
      { name: 'l', source: 'log-regex', pattern: 'x(\\d)', pick: 'first' }
    ],
    [
      'rmse=csv:out.csv:rmse:-1',
      {
        name: 'rmse',
        source: 'csv',
        output: 'out.csv',
        column: 'rmse',
        row: -1
      }
    ],
    [
      'm=csv:/home/u/out.csv:2:mean',
      {
        name: 'm',
        source: 'csv',
        output: '/home/u/out.csv',
        column: 2,
        reduce: 'mean'
      }
    ],
    ['c=csv:o:a', { name: 'c', source: 'csv', output: 'o', column: 'a' }],
    [
      'n=json:result.json:stats.n',
      { name: 'n', source: 'json', output: 'result.json', path: 'stats.n' }
    ],
    [
      'd=json:r.json:',
      { name: 'd', source: 'json', output: 'r.json', path: '' }
    ]
  ])('%s', (text, spec) => {
    expect(parseMetricFlag(text)).toEqual(spec);
  });

  it.each([
    ['acc', /no NAME=/],
    ['acc=xml:a', /"xml" is not a source/],
    ['r=regex', /regex needs a pattern/],
    ['c=csv:out.csv', /csv needs an output and a column/],
    [
      'c=csv:out.csv:a:median',
      /"median" is neither a row number nor one of last/
    ],
    ['j=json:result.json', /json needs an output and a path/]
  ])('refuses %s', (text, message) => {
    expect(() => parseMetricFlag(text)).toThrow(message);
    expect(() => parseMetricFlag(text)).toThrow(/; write NAME=log\[:KEY\], /);
  });
});
