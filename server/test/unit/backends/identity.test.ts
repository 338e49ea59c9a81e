import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import {
  describeIds,
  DEFAULT_MAPPED_BASE,
  MAPPED_IDS,
  buildIdMap,
  findIdMapping,
  helperAs,
  innerId,
  listedEntry,
  mapArgs,
  mapText,
  mappedCapabilityArgs,
  mapsOwner,
  parseSubordinateIds,
  pickRange
} from '../../../src/backends/sandbox/identity';

describe('parseSubordinateIds', () => {
  const user = { name: 'jovyan', id: 1000 };

  it('keeps the lines of the user, by name or by number', () => {
    const text = [
      'root:100000:65536',
      'jovyan:200000:65536',
      '1000:300000:1000',
      'other:400000:65536'
    ].join('\n');
    expect(parseSubordinateIds(text, user)).toEqual([
      { start: 200000, count: 65536 },
      { start: 300000, count: 1000 }
    ]);
  });

  it('skips malformed, commented, empty and overflowing lines', () => {
    const text = [
      '# jovyan:1:2',
      'jovyan:abc:65536',
      'jovyan:-5:65536',
      'jovyan:100:0',
      'jovyan:4294967290:65536',
      'jovyan:1:2:3',
      'jovyan',
      '',
      ' jovyan:500000:65536 '
    ].join('\n');
    expect(parseSubordinateIds(text, user)).toEqual([
      { start: 500000, count: 65536 }
    ]);
  });

  it('finds nothing for a user without lines, or in an empty file', () => {
    expect(parseSubordinateIds('root:100000:65536\n', user)).toEqual([]);
    expect(parseSubordinateIds('', user)).toEqual([]);
  });
});

describe('pickRange', () => {
  it('takes the first range large enough', () => {
    const ranges = [
      { start: 1, count: 10 },
      { start: 100000, count: 65536 },
      { start: 300000, count: 65536 }
    ];
    expect(pickRange(ranges, 65536)).toEqual({ start: 100000, count: 65536 });
    expect(pickRange(ranges.slice(0, 1), 65536)).toBeNull();
  });
});

describe('buildIdMap', () => {
  const range = { start: 100000, count: 65536 };

  it('maps root onto the server, and the other ids onto the range', () => {
    const lines = buildIdMap(0, 1000, range);
    expect(lines).toEqual([
      { inner: 0, outer: 1000, count: 1 },
      { inner: 1, outer: 100001, count: 65535 }
    ]);
    expect(mapText(lines)).toBe('0 1000 1\n1 100001 65535\n');
    expect(mapArgs(lines)).toEqual(['0', '1000', '1', '1', '100001', '65535']);
  });

  it('maps a non-root common owner onto the server, around it the range', () => {
    const lines = buildIdMap(1000, 0, range);
    expect(lines).toEqual([
      { inner: 0, outer: 100000, count: 1000 },
      { inner: 1000, outer: 0, count: 1 },
      { inner: 1001, outer: 101001, count: 64535 }
    ]);
    // Every inner id below MAPPED_IDS is mapped exactly once, and no host id twice.
    const covered = lines.reduce((sum, line) => sum + line.count, 0);
    expect(covered).toBe(MAPPED_IDS);
    expect(innerId(lines, 0)).toBe(1000);
    expect(innerId(lines, 100000)).toBe(0);
    expect(innerId(lines, 101001)).toBe(1001);
    expect(innerId(lines, 101000)).toBeNull(); // the hole where the server's id is used
    expect(innerId(lines, 100000 + MAPPED_IDS)).toBeNull();
  });

  it('maps the last id onto the server with nothing after it', () => {
    expect(buildIdMap(MAPPED_IDS - 1, 7, range)).toEqual([
      { inner: 0, outer: 100000, count: MAPPED_IDS - 1 },
      { inner: MAPPED_IDS - 1, outer: 7, count: 1 }
    ]);
  });

  it('refuses owners outside the map and ranges too small', () => {
    expect(() => buildIdMap(MAPPED_IDS, 0, range)).toThrow(/outside/);
    expect(() => buildIdMap(-1, 0, range)).toThrow(/outside/);
    expect(() => buildIdMap(0, 0, { start: 1, count: 100 })).toThrow(/smaller/);
  });

  it('says which owners fit', () => {
    expect(mapsOwner([0, 0])).toBe(true);
    expect(mapsOwner([1000, 1000])).toBe(true);
    expect(mapsOwner([MAPPED_IDS, 0])).toBe(false);
    expect(mapsOwner([0, 4294967294])).toBe(false);
  });
});

describe('findIdMapping', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reproserver-subid-'));
  const files = {
    subuid: join(dir, 'subuid'),
    subgid: join(dir, 'subgid')
  };

  it('reads this user’s ranges; a root server falls back to its own range', async () => {
    const name = userInfo().username;
    writeFileSync(files.subuid, `${name}:300000:65536\n`);
    writeFileSync(files.subgid, `nobody-else:1:65536\n`);
    const found = await findIdMapping(files);
    if (process.getuid!() === 0) {
      expect(found).toMatchObject({
        writer: 'direct',
        uidRange: { start: 300000, count: 65536 },
        gidRange: { start: DEFAULT_MAPPED_BASE, count: MAPPED_IDS }
      });
    } else {
      // No subgid range: a normal user cannot map.
      expect(typeof found).toBe('string');
    }
  });
});

describe('command lines in a mapped namespace', () => {
  it('runs the helper as the step’s user', () => {
    expect(
      helperAs(['/h', 'run', '-', '1', 'A=b', '--', 'sh'], {
        uid: 1000,
        gid: 100
      })
    ).toEqual(['/h', 'as', '1000', '100', 'run', '-', '1', 'A=b', '--', 'sh']);
    expect(() => helperAs(['/h', 'step'], { uid: 0, gid: 0 })).toThrow();
  });

  it('gives a non-root step only what switching user needs', () => {
    const root = ['--cap-drop', 'ALL', '--cap-add', 'CAP_CHOWN'];
    expect(mappedCapabilityArgs(0, root)).toBe(root);
    expect(mappedCapabilityArgs(1000, root)).toEqual([
      '--cap-drop',
      'ALL',
      '--cap-add',
      'CAP_SETUID',
      '--cap-add',
      'CAP_SETGID',
      '--cap-add',
      'CAP_SETPCAP'
    ]);
  });
});

describe('describeIds', () => {
  it('says when changes of user fail because emulation does not work here', () => {
    expect(describeIds('proot', null)).toContain(
      'changes of user emulated by a supervisor'
    );
    expect(
      describeIds(
        'bwrap',
        null,
        'identity emulation does not work here (rpz-exec: identity emulation is not built for this architecture)'
      )
    ).toBe(
      'ids: one per step (no range of ids can be mapped); changes of user FAIL: identity emulation does not work here (rpz-exec: identity emulation is not built for this architecture)'
    );
  });
});

describe('listedEntry', () => {
  it("reads find's record, its path byte for byte", () => {
    const path = Buffer.from([0x6f, 0x75, 0x74, 0x2f, 0x63, 0x61, 0x66, 0xe9]); // out/caf\xe9
    const record = Buffer.concat([
      Buffer.from('1001 1001 f 1796147906.5 '),
      path
    ]);
    expect(listedEntry(record)).toEqual({
      uid: 1001,
      gid: 1001,
      type: 'f',
      changedMs: 1796147906500,
      path
    });
    // Spaces belong to the path.
    expect(listedEntry(Buffer.from('0 0 d 1 a b  c'))?.path.toString()).toBe(
      'a b  c'
    );
  });

  it('refuses what is not a record', () => {
    for (const text of [
      '',
      '1 2 f 3',
      '1 2 f 3 ',
      'x 2 f 3 p',
      '1 2 ff 3 p',
      '1 2 f 3e9 p'
    ]) {
      expect(listedEntry(Buffer.from(text))).toBeNull();
    }
  });
});
