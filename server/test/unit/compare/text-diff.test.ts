/**
 * The unified diff: the same hunks as `diff -u` for small texts, and "too large to diff" (not a
 * hang) past each bound.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffLines } from '../../../src/compare/myers';
import { diffTexts, splitLines } from '../../../src/compare/text';
import { COMPARE_BOUNDS } from '../../../src/compare/bounds';

const side = (label: string, text: string | null, size = 0) => ({
  label,
  bytes: text === null ? null : Buffer.from(text),
  size: text === null ? size : Buffer.byteLength(text),
  sha256: 'f'.repeat(64)
});

/** What diff(1) prints for the two texts, from its hunks on. */
function gnuDiff(a: string, b: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'reproserver-diff-'));
  writeFileSync(join(dir, 'a'), a);
  writeFileSync(join(dir, 'b'), b);
  try {
    execFileSync('diff', ['-u', 'a', 'b'], { cwd: dir, encoding: 'utf8' });
    return '';
  } catch (error) {
    const out = (error as { stdout: string }).stdout;
    return out.slice(out.indexOf('@@'));
  }
}

const hunks = (diff: string | null) => diff!.slice(diff!.indexOf('@@'));

describe('diffTexts', () => {
  const base = Array.from({ length: 40 }, (_, i) => `line ${i}`);
  const cases: [string, string[]][] = [
    ['one line changed', base.map((l, i) => (i === 20 ? 'changed' : l))],
    ['lines added at both ends', ['first', ...base, 'last']],
    ['lines removed', base.filter((_, i) => i % 7 !== 3)],
    [
      'two far apart changes',
      base.map((l, i) => (i === 2 || i === 35 ? `${l}!` : l))
    ],
    ['everything replaced', ['x', 'y']],
    ['from nothing', []]
  ];
  it.each(cases)('%s: the hunks diff -u prints', async (_title, other) => {
    const a = base.join('\n') + '\n';
    const b = other.length ? other.join('\n') + '\n' : '';
    const result = await diffTexts(side('a', a), side('b', b));
    expect(result.tooLarge).toBeNull();
    expect(hunks(result.diff)).toBe(gnuDiff(a, b));
    expect(result.diff!.startsWith('--- a\n+++ b\n')).toBe(true);
  });

  it('says a missing final newline as diff does', async () => {
    const result = await diffTexts(side('a', 'x\ny'), side('b', 'x\ny\n'));
    expect(hunks(result.diff)).toBe(gnuDiff('x\ny', 'x\ny\n'));
  });

  it('gives an empty diff for the same text', async () => {
    expect(await diffTexts(side('a', 'same\n'), side('b', 'same\n'))).toEqual({
      diff: '',
      added: 0,
      removed: 0,
      tooLarge: null
    });
  });

  it('counts added and removed lines', async () => {
    const result = await diffTexts(
      side('a', 'a\nb\nc\n'),
      side('b', 'a\nB\nc\nd\n')
    );
    expect(result).toMatchObject({ added: 2, removed: 1 });
  });

  it('is too large to diff past the byte bound, with sizes and hashes', async () => {
    const result = await diffTexts(side('a', null, 5e6), side('b', 'x\n'));
    expect(result.diff).toBeNull();
    expect(result.tooLarge).toMatch(
      /^Too large to diff \(more than 2097152 bytes\): A is 5000000 bytes, sha256 f{64}; B is 2 bytes/
    );
  });

  it('gives up past the edit bound instead of working for long', async () => {
    const a =
      Array.from({ length: 20_000 }, (_, i) => `a${i}`).join('\n') + '\n';
    const b =
      Array.from({ length: 20_000 }, (_, i) => `b${i}`).join('\n') + '\n';
    const result = await diffTexts(side('a', a), side('b', b));
    expect(result.tooLarge).toMatch(/more than 2000 changed lines/);
  });

  it('refuses more lines than the line bound', async () => {
    const result = await diffTexts(
      side('a', 'x\n'.repeat(10)),
      side('b', 'y\n'),
      {
        ...COMPARE_BOUNDS,
        textLines: 5
      }
    );
    expect(result.tooLarge).toMatch(/more than 5 lines/);
  });
});

describe('diffLines', () => {
  it('finds a shortest script', async () => {
    const ops = await diffLines(
      ['a', 'b', 'c', 'a', 'b', 'b', 'a'],
      ['c', 'b', 'a', 'b', 'a', 'c'],
      100
    );
    // Myers' own example: 5 edits.
    expect(ops!.filter(op => op.op !== 'equal')).toHaveLength(5);
  });

  it('returns null past maxEdits', async () => {
    expect(await diffLines(['a', 'b'], ['c', 'd'], 3)).toBeNull();
    expect(await diffLines(['a', 'b'], ['c', 'd'], 4)).not.toBeNull();
  });

  it('splits lines as diff reads them', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\r\nb\n')).toEqual(['a', 'b']);
  });
});
