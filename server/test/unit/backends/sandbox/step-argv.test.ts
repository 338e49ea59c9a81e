import type { ProbedConfinement } from '../../../../src/backends/sandbox/confine';
import {
  HELPER,
  OWNERS_IN_SANDBOX,
  SHM_BYTES,
  stepArgv,
  type StepArgvInput
} from '../../../../src/backends/sandbox/step-argv';

// The command line of a sandbox step is what isolates it: these tests pin the arguments that
// matter for safety, for every combination that changes them.

const CONFINED = { files: true, network: true } as unknown as ProbedConfinement;

const STEP: StepArgvInput['step'] = {
  uid: 1000,
  gid: 100,
  workingdir: '/home/user',
  environ: { PATH: '/usr/bin', LANG: 'C' },
  binary: '/usr/bin/python3',
  argv: ['python3', 'run.py', '--fast']
};

function bwrap(extra: Partial<StepArgvInput> = {}): StepArgvInput {
  return {
    sandbox: { mechanism: 'bwrap', program: '/usr/bin/bwrap' },
    helper: '/opt/rpz-exec',
    hostname: 'experiment',
    root: '/state/runs/1/root',
    step: STEP,
    ...extra
  };
}

function proot(extra: Partial<StepArgvInput> = {}): StepArgvInput {
  return {
    sandbox: { mechanism: 'proot', program: '/usr/bin/proot' },
    helper: '/opt/rpz-exec',
    hostname: 'experiment',
    root: '/state/runs/1/root',
    step: STEP,
    proot: { shm: '/state/runs/1/shm', tmpDir: '/tmp' },
    ...extra
  };
}

/** The helper's part of the command line for STEP, with its options after `run`. */
function exec(...options: string[]): string[] {
  return [
    HELPER,
    'run',
    ...options,
    '/usr/bin/python3',
    '2',
    'PATH=/usr/bin',
    'LANG=C',
    '--',
    'python3',
    'run.py',
    '--fast'
  ];
}

/** Every host path bound into a bubblewrap sandbox: `[option, source, destination]`. */
function bwrapBinds(argv: string[]): string[][] {
  const options = [
    '--bind',
    '--bind-try',
    '--ro-bind',
    '--ro-bind-try',
    '--dev-bind',
    '--dev-bind-try'
  ];
  const found: string[][] = [];
  const end = argv.indexOf('--', argv.indexOf('/usr/bin/bwrap'));
  for (let i = 0; i < end; i++) {
    if (options.includes(argv[i])) {
      found.push(argv.slice(i, i + 3));
    }
  }
  return found;
}

/** Every host path bound into a proot sandbox (`-b` arguments). */
function prootBinds(argv: string[]): string[] {
  const start = argv.indexOf('/usr/bin/proot');
  const end = argv.indexOf(HELPER, start);
  const found: string[] = [];
  for (let i = start; i < end; i++) {
    if (argv[i] === '-b') {
      found.push(argv[i + 1]);
    }
  }
  return found;
}

const NAMESPACES = [
  '--unshare-user',
  '--unshare-pid',
  '--unshare-net',
  '--unshare-uts',
  '--unshare-ipc',
  '--unshare-cgroup-try',
  '--die-with-parent',
  '--new-session'
];

describe('stepArgv: bubblewrap', () => {
  it('runs a step in every namespace, as its ids, with nothing of the host but its tree and the helper', () => {
    const command = stepArgv(bwrap());
    expect(command).toEqual({
      file: '/usr/bin/bwrap',
      argv: [
        '/usr/bin/bwrap',
        ...NAMESPACES,
        '--hostname',
        'experiment',
        '--uid',
        '1000',
        '--gid',
        '100',
        '--bind',
        '/state/runs/1/root',
        '/',
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--perms',
        '1777',
        '--size',
        String(SHM_BYTES),
        '--tmpfs',
        '/dev/shm',
        '--remount-ro',
        '/dev',
        '--ro-bind-try',
        '/sys',
        '/sys',
        '--ro-bind',
        '/opt/rpz-exec',
        HELPER,
        '--chdir',
        '/home/user',
        '--clearenv',
        '--cap-drop',
        'ALL',
        '--',
        ...exec()
      ],
      env: {}
    });
    expect(command.argv).not.toContain('--share-net');
  });

  it('keeps a short list of capabilities for a root step only', () => {
    const { argv } = stepArgv(bwrap({ step: { ...STEP, uid: 0, gid: 0 } }));
    const caps = argv.slice(argv.indexOf('--clearenv') + 1, argv.indexOf('--'));
    expect(caps.slice(0, 2)).toEqual(['--cap-drop', 'ALL']);
    expect(caps.filter(arg => arg === '--cap-add')).toHaveLength(9);
    expect(caps).not.toContain('CAP_SYS_ADMIN');
    expect(caps).not.toContain('CAP_MKNOD');
  });

  it('forbids nested user namespaces where bubblewrap can', () => {
    const { argv } = stepArgv(
      bwrap({ sandbox: { ...bwrap().sandbox, disableUserns: true } })
    );
    expect(argv.slice(argv.indexOf('--') - 1, argv.indexOf('--'))).toEqual([
      '--disable-userns'
    ]);
  });

  it('passes the step recorded environment, binary, working directory and argv to the helper only', () => {
    const { argv, env } = stepArgv(
      bwrap({
        step: {
          ...STEP,
          binary: null,
          workingdir: '/work dir',
          environ: { A: 'x y=z' },
          argv: ['sh', '-c', 'echo $A']
        }
      })
    );
    expect(env).toEqual({});
    expect(argv).toContain('--clearenv');
    expect(
      argv.slice(argv.indexOf('--chdir'), argv.indexOf('--chdir') + 2)
    ).toEqual(['--chdir', '/work dir']);
    expect(argv.slice(argv.indexOf(HELPER, argv.indexOf('--')))).toEqual([
      HELPER,
      'run',
      '-',
      '1',
      'A=x y=z',
      '--',
      'sh',
      '-c',
      'echo $A'
    ]);
  });

  it('confines the step through the helper when confinement works', () => {
    const { argv } = stepArgv(
      bwrap({ sandbox: { ...bwrap().sandbox, confinement: CONFINED } })
    );
    expect(argv.slice(argv.indexOf('--') + 1)).toEqual(
      exec('--confine', '--write', '/')
    );
  });

  it('enters the run namespace where a range of ids is mapped, and lets the helper become the user', () => {
    const enter = [
      '/usr/bin/nsenter',
      '-t',
      '42',
      '-U',
      '--preserve-credentials',
      '--'
    ];
    const { argv } = stepArgv(bwrap({ ids: { enter } }));
    expect(argv.slice(0, enter.length)).toEqual(enter);
    const inner = argv.slice(enter.length);
    expect(inner[0]).toBe('/usr/bin/bwrap');
    expect(inner).not.toContain('--unshare-user');
    expect(inner).not.toContain('--uid');
    for (const option of NAMESPACES.slice(1)) {
      expect(inner).toContain(option);
    }
    expect(
      inner.slice(inner.indexOf('--clearenv') + 1, inner.indexOf('--'))
    ).toEqual([
      '--cap-drop',
      'ALL',
      '--cap-add',
      'CAP_SETUID',
      '--cap-add',
      'CAP_SETGID',
      '--cap-add',
      'CAP_SETPCAP'
    ]);
    const helper = inner.slice(inner.indexOf('--') + 1);
    expect(helper.slice(0, 4)).toEqual([HELPER, 'as', '1000', '100']);
    expect(helper.slice(4)).toEqual(exec().slice(1));
  });

  it('does not add --disable-userns in a mapped namespace (it forbids nested ones itself)', () => {
    const { argv } = stepArgv(
      bwrap({
        sandbox: { ...bwrap().sandbox, disableUserns: true },
        ids: { enter: ['/usr/bin/nsenter', '--'] }
      })
    );
    expect(argv).not.toContain('--disable-userns');
  });

  it('binds the overlay merged tree as / and enters its mount namespace (not the ids one)', () => {
    const overlayEnter = ['/usr/bin/nsenter', '-t', '7', '-U', '-m', '--'];
    const { argv } = stepArgv(
      bwrap({
        overlay: { merged: '/state/runs/1/merged', enter: overlayEnter },
        ids: { enter: ['/usr/bin/nsenter', '-t', '42', '-U', '--'] }
      })
    );
    expect(argv.slice(0, overlayEnter.length)).toEqual(overlayEnter);
    expect(argv[overlayEnter.length]).toBe('/usr/bin/bwrap');
    expect(bwrapBinds(argv)).toEqual([
      ['--bind', '/state/runs/1/merged', '/'],
      ['--ro-bind-try', '/sys', '/sys'],
      ['--ro-bind', '/opt/rpz-exec', HELPER]
    ]);
  });

  it('runs the step under the supervisor of emulated ids, which reads the owners file read-only', () => {
    const command = stepArgv(
      bwrap({
        emulation: {
          common: [0, 0],
          sinceMs: 1234.9,
          owners: '/state/runs/1/ids-owners'
        }
      })
    );
    expect(bwrapBinds(command.argv)).toEqual([
      ['--bind', '/state/runs/1/root', '/'],
      ['--ro-bind-try', '/sys', '/sys'],
      ['--ro-bind', '/opt/rpz-exec', HELPER],
      ['--ro-bind', '/state/runs/1/ids-owners', OWNERS_IN_SANDBOX]
    ]);
    const inner = command.argv.slice(command.argv.indexOf('--') + 1);
    expect(inner).toEqual([
      HELPER,
      'emulate-ids',
      '1000',
      '100',
      '0',
      '0',
      '1234',
      OWNERS_IN_SANDBOX,
      '3',
      '--',
      ...exec('--ids-socket', '9')
    ]);
    // bubblewrap has no seccomp acceleration to turn off.
    expect(command.env).toEqual({});
  });

  it('puts the cgroup launcher outermost, then prlimit, then the namespaces entered', () => {
    const enter = ['/usr/bin/nsenter', '-t', '42', '-U', '--'];
    const command = stepArgv(
      bwrap({
        ids: { enter },
        rlimit: {
          prlimit: '/usr/bin/prlimit',
          limits: { diskMiB: 10, memoryMiB: 512, pids: 100 },
          mode: 'cgroup-v2',
          hardLimits: new Map(),
          tasks: 0
        },
        cgroupDirs: ['/sys/fs/cgroup/a', '/sys/fs/cgroup/b']
      })
    );
    expect(command.file).toBe('/bin/sh');
    expect(command.argv.slice(0, 4)).toEqual([
      '/bin/sh',
      '-c',
      'for f in $RPZ_CGROUPS; do echo $$ > "$f/cgroup.procs" || exit 125; done; exec "$@"',
      'sh'
    ]);
    expect(command.env).toEqual({
      RPZ_CGROUPS: '/sys/fs/cgroup/a /sys/fs/cgroup/b'
    });
    expect(command.argv.slice(4, 9)).toEqual([
      '/usr/bin/prlimit',
      `--fsize=${10 * 1024 * 1024}:${10 * 1024 * 1024}`,
      '--nofile=1024:65536',
      '--',
      ...enter.slice(0, 1)
    ]);
    expect(command.argv.slice(8, 8 + enter.length + 1)).toEqual([
      ...enter,
      '/usr/bin/bwrap'
    ]);
  });
});

describe('stepArgv: rlimits', () => {
  const facts = {
    prlimit: '/usr/bin/prlimit',
    limits: { diskMiB: 100, memoryMiB: 256, pids: 50 },
    hardLimits: new Map<string, number>()
  };

  it('limits memory and processes (over what the user already runs) only without cgroups', () => {
    const { argv } = stepArgv(
      bwrap({ rlimit: { ...facts, mode: 'rlimit', tasks: 7 } })
    );
    const bytes = 256 * 1024 * 1024;
    expect(argv.slice(0, argv.indexOf('/usr/bin/bwrap'))).toEqual([
      '/usr/bin/prlimit',
      `--fsize=${100 * 1024 * 1024}:${100 * 1024 * 1024}`,
      '--nofile=1024:65536',
      `--as=${bytes}:${bytes}`,
      '--nproc=57:57',
      '--'
    ]);
  });

  it('never asks for more than this process own hard limits', () => {
    const { argv } = stepArgv(
      bwrap({
        rlimit: {
          ...facts,
          mode: 'rlimit',
          tasks: 0,
          hardLimits: new Map([
            ['open files', 512],
            ['file size', 4096],
            ['processes', 20]
          ])
        }
      })
    );
    expect(argv).toContain('--nofile=512:512');
    expect(argv).toContain('--fsize=4096:4096');
    expect(argv).toContain('--nproc=20:20');
  });
});

describe('stepArgv: proot', () => {
  const DEVICES = [
    '/dev/null',
    '/dev/zero',
    '/dev/full',
    '/dev/random',
    '/dev/urandom'
  ];

  it('runs the step in the run tree with proot ids, and binds only the listed host paths', () => {
    const command = stepArgv(proot());
    expect(command).toEqual({
      file: '/usr/bin/proot',
      argv: [
        '/usr/bin/proot',
        '-v',
        '-1',
        '-r',
        '/state/runs/1/root',
        '-w',
        '/home/user',
        '-i',
        '1000:100',
        '-b',
        '/proc',
        '-b',
        '/sys',
        ...DEVICES.flatMap(device => ['-b', device]),
        '-b',
        '/state/runs/1/shm:/dev/shm',
        '-b',
        `/opt/rpz-exec:${HELPER}`,
        ...exec()
      ],
      env: { PROOT_TMP_DIR: '/tmp' }
    });
    expect(prootBinds(command.argv)).toEqual([
      '/proc',
      '/sys',
      ...DEVICES,
      '/state/runs/1/shm:/dev/shm',
      `/opt/rpz-exec:${HELPER}`
    ]);
    expect(command.env).not.toHaveProperty('PROOT_NO_SECCOMP');
  });

  it('binds proot loader and confines the step when confinement works', () => {
    const command = stepArgv(
      proot({
        sandbox: {
          ...proot().sandbox,
          confinement: CONFINED,
          prootLoader: '/state/proot-loader'
        }
      })
    );
    expect(prootBinds(command.argv).slice(-1)).toEqual([
      '/state/proot-loader:/.reproserver/proot-loader'
    ]);
    expect(command.env).toEqual({
      PROOT_TMP_DIR: '/tmp',
      PROOT_LOADER: '/state/proot-loader'
    });
    const helper = command.argv.slice(command.argv.indexOf(HELPER));
    expect(helper.slice(0, 4)).toEqual([HELPER, 'run', '--confine', '--write']);
    expect(helper).toContain('/.reproserver/proot-loader');
  });

  it('binds no loader when confinement does not work', () => {
    const command = stepArgv(
      proot({
        sandbox: { ...proot().sandbox, prootLoader: '/state/proot-loader' }
      })
    );
    expect(command.env).toEqual({ PROOT_TMP_DIR: '/tmp' });
    expect(prootBinds(command.argv)).not.toContain(
      '/state/proot-loader:/.reproserver/proot-loader'
    );
  });

  it('runs proot under the supervisor of emulated ids, without proot ids nor seccomp acceleration', () => {
    const command = stepArgv(
      proot({
        emulation: {
          common: [1000, 1000],
          sinceMs: 99,
          owners: '/state/runs/1/ids-owners'
        }
      })
    );
    expect(command.file).toBe('/opt/rpz-exec');
    expect(command.argv.slice(0, 10)).toEqual([
      '/opt/rpz-exec',
      'emulate-ids',
      '1000',
      '100',
      '1000',
      '1000',
      '99',
      '/state/runs/1/ids-owners',
      '3',
      '--'
    ]);
    expect(command.argv[10]).toBe('/usr/bin/proot');
    expect(command.argv).not.toContain('-i');
    expect(command.argv.slice(command.argv.indexOf(HELPER))).toEqual(
      exec('--ids-socket', '9', '--no-statx')
    );
    expect(command.env).toEqual({
      PROOT_TMP_DIR: '/tmp',
      PROOT_NO_SECCOMP: '1'
    });
  });

  it('drops to the run own user under a root server, outermost but for the limits', () => {
    const sandbox = {
      ...proot().sandbox,
      runUser: {
        setpriv: '/usr/bin/setpriv',
        uidBase: 2_000_000,
        runsDir: '/var/tmp'
      }
    };
    const command = stepArgv(
      proot({
        sandbox,
        runUser: { uid: 2_000_005, gid: 2_000_005 },
        proot: { shm: '/var/tmp/r/shm', tmpDir: '/var/tmp/r/tmp' },
        rlimit: {
          prlimit: '/usr/bin/prlimit',
          limits: { diskMiB: 1, memoryMiB: 1, pids: 1 },
          mode: 'cgroup-v1',
          hardLimits: new Map(),
          tasks: 0
        }
      })
    );
    const setpriv = command.argv.indexOf('/usr/bin/setpriv');
    expect(command.argv[0]).toBe('/usr/bin/prlimit');
    expect(command.argv.slice(setpriv, setpriv + 8)).toEqual([
      '/usr/bin/setpriv',
      '--reuid=2000005',
      '--regid=2000005',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--'
    ]);
    expect(command.argv[setpriv + 8]).toBe('/usr/bin/proot');
    expect(command.env).toEqual({ PROOT_TMP_DIR: '/var/tmp/r/tmp' });
  });

  it('does not drop privileges when the sandbox has no run users', () => {
    const { argv } = stepArgv(proot({ runUser: { uid: 5, gid: 5 } }));
    expect(argv[0]).toBe('/usr/bin/proot');
  });

  it('refuses a proot step without its folders, and a sandbox without a mechanism', () => {
    expect(() => stepArgv(proot({ proot: undefined }))).toThrow(/shm/);
    expect(() => stepArgv(proot({ sandbox: { mechanism: null } }))).toThrow(
      /mechanism/
    );
  });
});

describe('stepArgv: purity', () => {
  it('gives the same command for the same input and changes nothing of it', () => {
    const input = bwrap({
      ids: { enter: ['/usr/bin/nsenter', '--'] },
      emulation: { common: [0, 0], sinceMs: 1, owners: '/o' }
    });
    const copy = JSON.parse(JSON.stringify(input)) as unknown;
    expect(stepArgv(input)).toEqual(stepArgv(input));
    expect(JSON.parse(JSON.stringify(input))).toEqual(copy);
  });
});
