/**
 * Member names to root-relative paths: the plain names nearly every member has take a fast path,
 * which must give exactly what the general one gives; everything else goes the general way.
 */
import { dataPath } from '../../../src/rpz/paths';

describe('dataPath', () => {
  it('maps plain and unusual names alike', () => {
    const cases: [string, string | null][] = [
      ['DATA/usr/bin/ls', 'usr/bin/ls'],
      ['DATA/a', 'a'],
      ['DATA/.hidden/..name/...', '.hidden/..name/...'],
      ['DATA/a//b', 'a/b'],
      ['DATA/./a/./b', 'a/b'],
      ['DATA/a/b/', 'a/b'],
      ['DATA/a/../b', 'b'],
      ['DATA/a/..', ''],
      ['./DATA/a', 'a'],
      ['././DATA/a/b', 'a/b'],
      ['DATA', ''],
      ['DATA/', ''],
      ['DATA/.', ''],
      ['DATAX/a', null],
      ['METADATA/config.yml', null]
    ];
    for (const [name, path] of cases) {
      expect([name, dataPath(name)]).toEqual([name, path]);
    }
  });

  it('still refuses names that leave the root', () => {
    for (const name of ['DATA/..', 'DATA/a/../../b', '../DATA/a', '/DATA/a']) {
      expect(() => dataPath(name)).toThrow(
        expect.objectContaining({ code: 'unsafe-path' })
      );
    }
    expect(() => dataPath('DATA/../../etc', true)).toThrow(
      expect.objectContaining({ code: 'unsafe-link' })
    );
  });
});
