/**
 * `reproserver sweep`'s VALUES and --input: lists with escapes, ranges, files from globs,
 * folders and lists (real files in a temporary folder).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseValues, resolveInputFiles } from '../../../src/cli/sweep-flags';

describe('VALUES', () => {
  it.each([
    ['1,2,5', { kind: 'list', values: ['1', '2', '5'] }],
    ['a\\,b,c', { kind: 'list', values: ['a,b', 'c'] }],
    ['x', { kind: 'list', values: ['x'] }],
    ['', { kind: 'list', values: [''] }],
    ['1\\:3', { kind: 'list', values: ['1:3'] }],
    ['http://h:80/p', { kind: 'list', values: ['http://h:80/p'] }],
    ['1:10', { kind: 'range', start: 1, stop: 10, step: 1 }],
    ['10:1', { kind: 'range', start: 10, stop: 1, step: -1 }],
    ['0:1:0.25', { kind: 'range', start: 0, stop: 1, step: 0.25 }],
    ['-1.5:2e1:-3', { kind: 'range', start: -1.5, stop: 20, step: -3 }],
    ['1:2,3', { kind: 'list', values: ['1:2', '3'] }]
  ])('reads %j', (text, values) => {
    expect(parseValues(text)).toEqual(values);
  });
});

describe('--input files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sweep-flags-'));
  mkdirSync(join(dir, 'data', 'sub'), { recursive: true });
  for (const name of ['b.txt', 'a.txt', 'c.csv']) {
    writeFileSync(join(dir, 'data', name), name);
  }

  it('takes a glob’s files, sorted, without folders', async () => {
    expect(await resolveInputFiles('data/*', dir)).toEqual(
      ['a.txt', 'b.txt', 'c.csv'].map(name => join(dir, 'data', name))
    );
    expect(await resolveInputFiles('data/*.txt', dir)).toEqual(
      ['a.txt', 'b.txt'].map(name => join(dir, 'data', name))
    );
  });

  it('takes a folder’s files, and a list as given', async () => {
    expect(await resolveInputFiles('data', dir)).toHaveLength(3);
    expect(await resolveInputFiles('data/c.csv,data/a.txt', dir)).toEqual([
      join(dir, 'data', 'c.csv'),
      join(dir, 'data', 'a.txt')
    ]);
  });

  it('refuses a glob that names nothing', async () => {
    await expect(resolveInputFiles('data/*.png', dir)).rejects.toThrow(
      '--input: "data/*.png" names no file; check the folder or the pattern.'
    );
  });
});
