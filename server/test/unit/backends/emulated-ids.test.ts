import {
  IDS_SOCKET_FD,
  MAX_REPORT_RECORDS,
  REPORT_FD,
  emulatesIds,
  filterArgs,
  ownersFile,
  parseReport,
  relativeOwners,
  supervisorArgv
} from '../../../src/backends/sandbox/emulated-ids';

describe('emulated ids', () => {
  it('are on for proot and for bubblewrap without a mapped range, where they work, unless turned off', () => {
    expect(emulatesIds('proot', false, true, {})).toBe(true);
    expect(emulatesIds('bwrap', false, true, {})).toBe(true);
    expect(emulatesIds('bwrap', true, true, {})).toBe(false);
    expect(emulatesIds('proot', false, false, {})).toBe(false);
    expect(
      emulatesIds('proot', false, true, {
        REPROSERVER_SANDBOX_EMULATE_IDS: 'off'
      })
    ).toBe(false);
  });

  it('write owners files the supervisor can parse, skipping what it could not', () => {
    const file = ownersFile([
      { path: '/a b/c', uid: 1000, gid: 1000 },
      { path: 'relative', uid: 1, gid: 1 },
      { path: '/nul\0inside', uid: 1, gid: 1 },
      { path: '/neg', uid: -1, gid: 0 },
      { path: '/max', uid: 0xffffffff, gid: 0 }
    ]);
    expect(file.toString()).toBe('1000 1000 /a b/c\0');
    expect(parseReport(file)).toEqual([
      { path: '/a b/c', uid: 1000, gid: 1000 }
    ]);
  });

  it('read reports as hostile input: bad records skipped, last wins, bounded', () => {
    const report = Buffer.from(
      [
        '1 2 /x',
        'garbage',
        '1 2 relative',
        '99999999999 0 /big',
        '-1 0 /neg',
        '3 4 /x',
        '5 6 /with\nnewline'
      ].join('\0')
    );
    expect(parseReport(report)).toEqual([
      { path: '/x', uid: 3, gid: 4 },
      { path: '/with\nnewline', uid: 5, gid: 6 }
    ]);
    const many = Buffer.from(
      Array.from(
        { length: MAX_REPORT_RECORDS + 10 },
        (_, i) => `0 0 /f${i}`
      ).join('\0')
    );
    expect(parseReport(many)).toHaveLength(MAX_REPORT_RECORDS);
  });

  it('map reported paths into the run tree, never above it', () => {
    const owners = relativeOwners(
      [
        { path: '/run/root/tmp/a', uid: 1, gid: 2 },
        { path: '/run/rootless/b', uid: 1, gid: 2 },
        { path: '/run/root/../x', uid: 1, gid: 2 },
        { path: '/run/root', uid: 1, gid: 2 }
      ],
      '/run/root'
    );
    expect([...owners]).toEqual([['tmp/a', [1, 2]]]);
    expect([
      ...relativeOwners([{ path: '/etc/x', uid: 0, gid: 0 }], '')
    ]).toEqual([['etc/x', [0, 0]]]);
  });

  it('build the helper command lines', () => {
    expect(
      supervisorArgv(
        '/h',
        { uid: 0, gid: 0, common: [0, 0], sinceMs: 1.7, owners: '-' },
        ['proot', 'x']
      )
    ).toEqual([
      '/h',
      'emulate-ids',
      '0',
      '0',
      '0',
      '0',
      '1',
      '-',
      String(REPORT_FD),
      '--',
      'proot',
      'x'
    ]);
    expect(filterArgs('proot')).toEqual([
      '--ids-socket',
      String(IDS_SOCKET_FD),
      '--no-statx'
    ]);
    expect(filterArgs('bwrap')).toEqual([
      '--ids-socket',
      String(IDS_SOCKET_FD)
    ]);
  });
});
