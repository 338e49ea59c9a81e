import { parseConfig } from '../../../src/rpz/config';
import { BASIC_CONFIG } from '../../helpers/synthetic-rpz';

describe('parseConfig', () => {
  it('reads the canonical config into the model', () => {
    const c = parseConfig(BASIC_CONFIG);
    expect(c.configVersion).toBe('0.8');
    expect(c.runs[0]).toEqual({
      id: 'main',
      argv: ['python3', 'script.py', '--n', '5', 'in.txt'],
      binary: '/usr/bin/python3',
      environ: { HOME: '/home/ana', PATH: '/usr/bin:/bin' },
      workingdir: '/home/ana',
      uid: 1000,
      gid: 1000,
      exitcode: 0,
      signal: null,
      architecture: 'x86_64',
      distribution: { name: 'ubuntu', version: '22.04' },
      hostname: 'lab',
      system: ['Linux', '5.15.0']
    });
    expect(c.files).toEqual([
      { name: 'in.txt', path: '/home/ana/in.txt', readBy: [0], writtenBy: [] },
      { name: 'out.txt', path: '/home/ana/out.txt', readBy: [], writtenBy: [0] }
    ]);
    expect(c.packages).toEqual([
      {
        name: 'python3',
        version: '3.10',
        size: 1000,
        packfiles: true,
        files: ['/usr/bin/python3']
      }
    ]);
    expect(c.otherFiles).toEqual([
      '/bin',
      '/home/ana/in.txt',
      '/home/ana/script.py'
    ]);
    expect(c.warnings).toEqual([]);
  });

  it('keeps YAML 1.1 look-alikes as the strings that were written', () => {
    const c = parseConfig(`version: "0.8"
runs:
- argv: [yes, no, 2019, 0x1F, ~, 1e3]
  binary: /bin/true
  workingdir: /w
  uid: 0
  gid: 0
  environ: {ON: off, N: 010}
inputs_outputs:
- name: yes
  path: /w/yes
  read_by_runs: [0]
- name: 2019
  path: /w/2019
  written_by_runs: [0]
- name: null
  path: /w/null
`);
    expect(c.runs[0].argv).toEqual(['yes', 'no', '2019', '0x1F', '~', '1e3']);
    expect(c.runs[0].environ).toEqual({ ON: 'off', N: '010' });
    expect(c.files.map(f => f.name)).toEqual(['yes', '2019', 'null']);
  });

  it('reads unquoted paths containing ": " and says so in a warning', () => {
    const c = parseConfig(`version: "0.8"
runs:
- argv: [x]
  binary: /bin/x
  workingdir: /w
  uid: 1
  gid: 1
inputs_outputs:
- name: notes: draft
  path: /w/notes: draft.txt
  read_by_runs: [0]
`);
    expect(c.files).toEqual([
      {
        name: 'notes: draft',
        path: '/w/notes: draft.txt',
        readBy: [0],
        writtenBy: []
      }
    ]);
    expect(c.warnings).toEqual([
      'METADATA/config.yml: unquoted name/path values on line(s) 9, 10 did not parse as YAML and were read as plain text.'
    ]);
  });

  it('converts legacy configs: no ids, per-run input_files/output_files, capitalised distributions', () => {
    const c = parseConfig(`version: '0.4'
runs:
- architecture: x86_64
  argv: [./run.sh]
  binary: /home/u/run.sh
  distribution: [Ubuntu, '12.04']
  environ: {}
  gid: 1000
  hostname: old
  input_files: {config: /home/u/config.ini}
  output_files: {result: /home/u/result.txt}
  signal: 9
  uid: 1000
  workingdir: /home/u
- argv: [./second.sh]
  binary: /home/u/second.sh
  distribution: [CentOS Linux, '6.5']
  gid: 1000
  input_files: {result: /home/u/result.txt, other: /home/u/config.ini}
  uid: 1000
  workingdir: /home/u
packages:
- name: bash
  version: '4.2'
  packfiles: no
  files: [/bin/bash]
`);
    expect(
      c.runs.map(r => [r.id, r.distribution, r.signal, r.exitcode])
    ).toEqual([
      ['run0', { name: 'ubuntu', version: '12.04' }, 9, null],
      ['run1', { name: 'centos linux', version: '6.5' }, null, null]
    ]);
    expect(c.files).toEqual([
      {
        name: 'config',
        path: '/home/u/config.ini',
        readBy: [0, 1],
        writtenBy: []
      },
      {
        name: 'result',
        path: '/home/u/result.txt',
        readBy: [1],
        writtenBy: [0]
      }
    ]);
    expect(c.packages[0].packfiles).toBe(false);
    expect(c.warnings).toEqual([
      'METADATA/config.yml: "other" and "config" name the same path /home/u/config.ini; merged as "config".'
    ]);
  });

  it('warns about unknown keys, out-of-range run indexes, duplicate names, missing ids and newer versions', () => {
    const c = parseConfig(`version: "1.4"
colour: blue
runs:
- argv: [a]
  binary: /a
  workingdir: /
  uid: 0
  gid: 0
  flavour: x
inputs_outputs:
- name: f
  path: /f1
  read_by_runs: [0, 3]
  extra: 1
- name: f
  path: /f2
`);
    expect(c.files.map(f => [f.name, f.path, f.readBy])).toEqual([
      ['f', '/f1', [0]],
      ['f_2', '/f2', []]
    ]);
    expect(c.warnings).toEqual([
      'METADATA/config.yml: unknown key "colour" in the top level is ignored.',
      'METADATA/config.yml: version 1.4 is newer than the newest known (1.1); reading it anyway.',
      'METADATA/config.yml: unknown key "flavour" in run 0 is ignored.',
      'METADATA/config.yml: unknown key "extra" in inputs_outputs[0] is ignored.',
      'METADATA/config.yml: inputs_outputs[0] read_by_runs refers to run 3, which does not exist; ignored.',
      'METADATA/config.yml: two files are named "f"; the one at /f2 is renamed "f_2".'
    ]);
  });

  it('falls back for missing binary, workingdir, uid and gid', () => {
    const c = parseConfig('runs:\n- argv: [ls, -l]\n');
    expect(c.runs[0]).toMatchObject({
      binary: 'ls',
      workingdir: '/',
      uid: 1000,
      gid: 1000
    });
    expect(c.warnings).toEqual([
      'METADATA/config.yml: no version; reading it as the oldest format.',
      'METADATA/config.yml: run 0 has no binary; using argv[0] (ls).',
      'METADATA/config.yml: run 0 has no workingdir; using /.',
      'METADATA/config.yml: run 0 has no uid; using 1000.',
      'METADATA/config.yml: run 0 has no gid; using 1000.'
    ]);
  });
});
