/**
 * Hostile experiments in the sandbox, on bubblewrap (overlay and copy) and proot, with packages
 * made by the real reprozip whose steps are replaced by attacks: what the server collects from the
 * run's tree is only the regular files it should, what it refuses it says so, host files are never
 * reached through what the experiment planted, the run's disk use and file sizes are bounded, no
 * process of the run outlives it, and the run's tree is always removed. Confined steps
 * (Landlock, seccomp) reach nothing of the host: no network, no other process, no host file.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { detectSandbox } from '../../../src/backends/sandbox/detect';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOnSandbox } from '../../../src/backends/sandbox/runner';
import { removeTree } from '../../../src/sandbox';
import type { RunEdits } from '../../../src/runs/edits';
import type { RunEvent } from '../../../src/runs/events';
import { SANDBOX_CONFIGS, sandboxReady } from '../../helpers/backends';
import { example } from '../../helpers/examples';
import { outputsOf, recordRun } from '../../helpers/run-recorder';
import {
  leftRunTrees,
  rootfsOf,
  sandboxStateDir
} from '../../helpers/sandbox-run';

jest.setTimeout(180_000);

/** A host folder the experiment names by its host path, with a file it must never reach. */
const canary = mkdtempSync(join(tmpdir(), 'reproserver-canary-'));
const SECRET = 'host secret: never an output\n';
writeFileSync(join(canary, 'secret'), SECRET);
mkdirSync(join(canary, 'results'));
writeFileSync(join(canary, 'results', 'summary.csv'), SECRET);

/** Runs python-options with its step replaced by `python3 -S -c CODE ARGS…`. */
async function runPython(
  config: (typeof SANDBOX_CONFIGS)[number],
  code: string,
  args: string[] = [],
  limits: RunEdits['limits'] = {},
  extra: {
    maxChangedFiles?: number;
    diskIntervalMs?: number;
    limits?: 'rlimit';
  } = {},
  inputs: RunEdits['inputs'] = []
) {
  const rpz = example('python-options').rpz;
  const rootfs = await rootfsOf(rpz);
  return recordRun(
    rpz,
    {
      stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', code, ...args] }],
      limits,
      inputs
    },
    undefined,
    common =>
      runOnSandbox({
        ...common,
        rootfs,
        stateDir: sandboxStateDir(),
        mechanism: config.mechanism,
        isolation: config.isolation,
        ids: config.ids,
        ...extra
      })
  );
}

function missingOf(events: RunEvent[]): Record<string, string> {
  return Object.fromEntries(
    events
      .filter(
        (e): e is Extract<RunEvent, { type: 'output-missing' }> =>
          e.type === 'output-missing'
      )
      .map(e => [e.name, e.reason])
  );
}

/** Every file below `dir`, with its mode. */
function filesBelow(dir: string): { path: string; mode: number }[] {
  const found: { path: string; mode: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      found.push(...filesBelow(path));
    } else {
      found.push({ path, mode: statSync(path).mode });
    }
  }
  return found;
}

const PLANT = `
import os, sys
canary = sys.argv[1]
os.makedirs('results', exist_ok=True)
for name in ('summary.csv', 'report.txt'):
    try:
        os.unlink('results/' + name)
    except FileNotFoundError:
        pass
# Declared outputs: a link to a host file (by its host path), and a FIFO.
os.symlink(canary + '/secret', 'results/summary.csv')
os.mkfifo('results/report.txt')
h = '/tmp/hostile'
os.makedirs(h + '/closed/inner')
open(h + '/closed/inner/f', 'w').write('inside a closed folder\\n')
os.chmod(h + '/closed/inner', 0)
os.chmod(h + '/closed', 0)
open(h + '/suid', 'w').write('#!/bin/sh\\n')
os.chmod(h + '/suid', 0o6755)
os.mkfifo(h + '/fifo')
os.symlink(canary, h + '/host-folder')
os.symlink('/', h + '/slash')
os.makedirs(h + '/zz-many')
for i in range(40):
    open(h + '/zz-many/%03d' % i, 'w').write(str(i))
print('planted')
`;

describe.each(SANDBOX_CONFIGS.map(c => [c.name, c] as const))(
  'Hostile experiments in the sandbox (%s)',
  (_name, config) => {
    beforeAll(() => sandboxReady(config.mechanism));

    it('collects only regular files, refuses what it planted, and reaches no host file', async () => {
      const run = await runPython(
        config,
        PLANT,
        [canary],
        {},
        {
          maxChangedFiles: 20
        }
      );
      expect(run.stdout).toBe('planted\n');
      expect(run.result).toEqual({ status: 'succeeded' });
      // Declared outputs: a link and a FIFO are not files (and reading the FIFO did not block).
      const missing = missingOf(run.events);
      expect(missing['summary.csv']).toBe('It is not a regular file.');
      expect(missing['report.txt']).toBe('It is not a regular file.');
      // Changed files: the regular ones, the closed folder's included; at most the bound.
      const outputs = outputsOf(run);
      expect(outputs).toHaveLength(20);
      const paths = outputs.map(o => o.path);
      expect(paths).toContain('/tmp/hostile/closed/inner/f');
      expect(paths).toContain('/tmp/hostile/suid');
      expect(
        paths.filter(p => p.startsWith('/tmp/hostile/zz-many/'))
      ).toHaveLength(18);
      expect(missing['other changed files']).toBe(
        'The run changed 22 more files than the 20 that are collected; they were not kept.'
      );
      for (const path of ['/tmp/hostile/fifo', '/tmp/hostile/host-folder']) {
        expect(paths).not.toContain(path);
      }
      expect(paths.some(p => p.startsWith('/tmp/hostile/slash/'))).toBe(false);
      // The setuid file is recorded as it was, but stored as plain bytes.
      expect(outputs.find(o => o.path === '/tmp/hostile/suid')!.mode).toBe(
        0o6755
      );
      const stored = filesBelow(run.outDir);
      expect(stored).toHaveLength(20);
      for (const file of stored) {
        expect(file.mode & 0o7000).toBe(0);
        expect(readFileSync(file.path, 'utf8')).not.toBe(SECRET);
      }
      expect(await readFile(join(canary, 'secret'), 'utf8')).toBe(SECRET);
    });

    it('stops a step that writes a file larger than the disk limit', async () => {
      const run = await runPython(
        config,
        `open('/tmp/big', 'wb').write(b'x' * (3 * 1024 * 1024))`,
        [],
        { diskMiB: 1 }
      );
      expect(run.result).toMatchObject({ status: 'failed', failedStep: 0 });
      // Python ignores SIGXFSZ: its write fails with EFBIG and it exits 1.
      expect(run.result.reason).toBe(
        "Step 0 (run0) failed writing a file larger than the run's disk limit of 1 MiB (exit code 1); raise limits.diskMiB if it needs more."
      );
      expect(run.stderr).toMatch(/File too large/);
    });

    it('stops a run whose files together pass the disk limit', async () => {
      const started = Date.now();
      const run = await runPython(
        config,
        `
import time
for i in range(16):
    open('/tmp/part%d' % i, 'wb').write(b'x' * (512 * 1024))
time.sleep(60)
`,
        [],
        { diskMiB: 2 },
        { diskIntervalMs: 100 }
      );
      expect(run.result).toMatchObject({ status: 'failed', failedStep: 0 });
      expect(run.result.reason).toMatch(
        /^The run used more than its disk limit of 2\.0 MiB \(\d+\.\d MiB written\); raise limits\.diskMiB if it needs more\.$/
      );
      expect(Date.now() - started).toBeLessThan(30_000);
    });

    it('bounds /dev/shm: memory of its own size under bubblewrap, disk under proot', async () => {
      const run = await runPython(
        config,
        `
import sys, time
try:
    open('/dev/planted', 'w')
    print('/dev is writable')
except OSError as error:
    print('/dev refused:', error.strerror)
written = 0
try:
    for i in range(100):
        with open('/dev/shm/part%d' % i, 'wb') as f:
            f.write(b'x' * (1024 * 1024))
        written += 1
except OSError as error:
    print('/dev/shm refused:', error.strerror)
print('/dev/shm holds', written, 'MiB')
sys.stdout.flush()
time.sleep(float(sys.argv[1]))
`,
        [config.mechanism === 'proot' ? '60' : '0'],
        { diskMiB: 2 },
        { diskIntervalMs: 100 }
      );
      if (config.mechanism === 'bwrap') {
        expect(run.stdout).toBe(
          '/dev refused: Read-only file system\n/dev/shm refused: No space left on device\n/dev/shm holds 64 MiB\n'
        );
        expect(run.result).toEqual({ status: 'succeeded' });
      } else {
        // proot's /dev/shm is a folder of the run, on disk: it counts against the disk limit (the
        // run may be stopped before or after its writes end).
        expect(run.result.reason).toMatch(
          /^The run used more than its disk limit of 2\.0 MiB/
        );
      }
    });

    it('leaves no process behind, even one that left its session', async () => {
      const marker = `reproserver-escapee-${process.pid}-${Date.now()}`;
      const started = Date.now();
      const run = await runPython(
        config,
        `
import os, sys, time
if os.fork() == 0:
    os.setsid()
    null = os.open('/dev/null', os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execv(sys.executable, [sys.executable, '-S', '-c', 'import time; time.sleep(120)', sys.argv[1]])
time.sleep(60)
`,
        [marker],
        { timeoutSeconds: 2 },
        // Without a cgroup to kill everything in, the only way to find them all.
        { limits: 'rlimit' }
      );
      expect(run.result).toMatchObject({ status: 'timed-out' });
      expect(Date.now() - started).toBeLessThan(20_000);
      await new Promise(resolve => setTimeout(resolve, 300));
      expect(processesWith(marker)).toEqual([]);
    });
  }
);

/** Processes whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) {
        found.push(Number(name));
      }
    } catch {
      // gone
    }
  }
  return found;
}

describe('Sandbox runs of a package with entries at reserved names', () => {
  it('say what unpacking left out, with the sandbox it runs in', async () => {
    const rpz = example('python-options').rpz;
    const rootfs = await rootfsOf(rpz);
    const warnings = Array.from(
      { length: 7 },
      (_, i) =>
        `${i + 1} package entries at /proc (or hard links to them) were not unpacked: the sandbox mounts its own /proc there.`
    );
    const run = await recordRun(rpz, {}, undefined, common =>
      runOnSandbox({
        ...common,
        rootfs: { ...rootfs, info: { ...rootfs.info, warnings } },
        stateDir: sandboxStateDir()
      })
    );
    const running = run.events.find(
      (e): e is Extract<RunEvent, { type: 'status' }> =>
        e.type === 'status' && e.status === 'running'
    );
    expect(running?.detail).toMatch(/^Sandbox: bubblewrap/);
    expect(running?.detail).toContain(
      ` ${warnings.slice(0, 5).join(' ')} (2 more warnings about unpacking the package.)`
    );
    expect(run.result).toEqual({ status: 'succeeded' });
  });
});

describe('Hostile experiments in bubblewrap: capabilities', () => {
  beforeAll(() => sandboxReady('bwrap'));

  const capabilities = (stdout: string): Record<string, string> =>
    Object.fromEntries(
      stdout
        .split('\n')
        .filter(line => line.startsWith('Cap'))
        .map(line => line.split(/:\s+/) as [string, string])
    );

  it('a root step keeps only its short list, in its own namespace', async () => {
    const run = await runPython(
      SANDBOX_CONFIGS[0],
      `print(open('/proc/self/status').read())`
    );
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE.
    expect(capabilities(run.stdout)).toMatchObject({
      CapEff: '00000000000005fb',
      CapBnd: '00000000000005fb'
    });
  });

  it('a non-root step has none, not even in its bounding set', async () => {
    const rpz = example('two-steps').rpz;
    const rootfs = await rootfsOf(rpz);
    const run = await recordRun(
      rpz,
      {
        steps: [0],
        stepEdits: [
          {
            step: 0,
            argv: [
              'sh',
              '-c',
              'while read -r line; do case "$line" in Cap*) echo "$line";; esac; done < /proc/self/status'
            ]
          }
        ]
      },
      undefined,
      common =>
        runOnSandbox({
          ...common,
          rootfs,
          stateDir: sandboxStateDir(),
          mechanism: 'bwrap'
        })
    );
    expect(capabilities(run.stdout)).toEqual({
      CapInh: '0000000000000000',
      CapPrm: '0000000000000000',
      CapEff: '0000000000000000',
      CapBnd: '0000000000000000',
      CapAmb: '0000000000000000'
    });
  });
});

/**
 * Attacks on the host from a confined step (`sandbox/confine.ts`): a static program making raw
 * system calls (`confine-attacks.c`, built here) and the same through Python's C library paths.
 * The test's process stands for the server: its pid, a TCP and a UDP listener on 127.0.0.1, an
 * abstract unix socket, and a host folder anyone may write to. Nothing may arrive, nothing be
 * written, nothing of it be read; the i386 system call ABI kills the program.
 */
describe.each(SANDBOX_CONFIGS.map(c => [c.name, c] as const))(
  'Attacks on the host from a confined step (%s)',
  (_name, config) => {
    const received: string[] = [];
    let host: {
      tcp: Server;
      udp: UdpSocket;
      abstract: Server;
      abstractName: string;
      dir: string;
      attacker: string;
    };
    const ports = (): { tcp: number; udp: number } => ({
      tcp: (host.tcp.address() as { port: number }).port,
      udp: host.udp.address().port
    });

    beforeAll(async () => {
      await sandboxReady(config.mechanism);
      const sandbox = await detectSandbox({ mechanism: config.mechanism });
      // This machine has Landlock and seccomp: every step is confined.
      expect(sandbox.confinement).toMatchObject({ seccomp: true });
      const dir = mkdtempSync(join(tmpdir(), 'reproserver-attacked-'));
      chmodSync(dir, 0o777);
      writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o644 });
      const attacker = join(dir, 'confine-attacks');
      execFileSync('cc', [
        '-static',
        '-O2',
        '-o',
        attacker,
        join(__dirname, 'confine-attacks.c')
      ]);
      const listen = (server: Server, ...at: unknown[]): Promise<void> =>
        new Promise(resolve =>
          (server.listen as (...args: unknown[]) => void)(...at, () =>
            resolve()
          )
        );
      const keep = (server: Server): Server =>
        server.on('connection', socket =>
          socket.on('data', chunk => received.push(chunk.toString()))
        );
      const tcp = keep(createServer());
      await listen(tcp, 0, '127.0.0.1');
      const abstractName = `reproserver-attacked-${process.pid}`;
      const abstract = keep(createServer());
      await listen(abstract, `\0${abstractName}`);
      const udp = createSocket('udp4');
      udp.on('message', chunk => received.push(chunk.toString()));
      await new Promise<void>(resolve =>
        udp.bind(0, '127.0.0.1', () => resolve())
      );
      host = { tcp, udp, abstract, abstractName, dir, attacker };
    });

    afterAll(async () => {
      await new Promise(resolve => host?.tcp.close(resolve));
      await new Promise(resolve => host?.abstract.close(resolve));
      host?.udp.close();
      if (host) {
        await removeTree(host.dir);
      }
    });

    /** What a confined step must answer: the filter's errors where they are the filter's. */
    const FILTERED: Record<string, string> = {
      'tcp-connect': 'refused Permission denied',
      'udp-send': 'refused Permission denied',
      'netlink-socket': 'refused Permission denied',
      openat2: 'refused Function not implemented',
      'process-vm-readv': 'refused Operation not permitted',
      'unshare-user': 'refused Operation not permitted',
      'unshare-net': 'refused Operation not permitted',
      'clone-newuser': 'refused Operation not permitted',
      keyctl: 'refused Operation not permitted',
      mount: 'refused Operation not permitted',
      'io-uring-setup': 'refused Operation not permitted',
      bpf: 'refused Operation not permitted',
      'perf-event-open': 'refused Operation not permitted',
      userfaultfd: 'refused Operation not permitted',
      'i386-syscall': 'refused Bad system call'
    };

    it('a static program reaches nothing of the host, by raw system calls', async () => {
      const { tcp, udp } = ports();
      const run = await runPython(
        config,
        `
import os, sys
os.chmod('measurements.csv', 0o755)
os.execv('./measurements.csv', ['confine-attacks'] + sys.argv[1:])
`,
        [
          String(tcp),
          String(udp),
          String(process.pid),
          join(host.dir, 'secret'),
          host.dir,
          host.abstractName
        ],
        {},
        {},
        [{ name: 'arg', source: { kind: 'file', path: host.attacker } }]
      );
      expect(run.result).toEqual({ status: 'succeeded' });
      const attacks = Object.fromEntries(
        run.stdout
          .split('\n')
          .filter(line => line.startsWith('attack '))
          .map(line => {
            const [, name, ...rest] = line.split(' ');
            return [name, rest.join(' ')];
          })
      );
      expect(run.stdout).toMatch(/^attacks done$/m);
      expect(Object.keys(attacks)).toHaveLength(27);
      for (const [name, outcome] of Object.entries(attacks)) {
        expect({ name, outcome }).toEqual({
          name,
          outcome: FILTERED[name] ?? expect.stringMatching(/^refused /)
        });
      }
      await new Promise(resolve => setTimeout(resolve, 200));
      expect(received).toEqual([]);
      expect(readdirSync(host.dir).sort()).toEqual([
        'confine-attacks',
        'secret'
      ]);
    });

    // The package holds only the modules its script imports: no socket module (the isolation
    // probe connects through the C library: ../isolation/probe.test.ts).
    it('the same through the C library (Python) reaches nothing either', async () => {
      const run = await runPython(
        config,
        `
import os, sys
pid, secret, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def attempt(name, action):
    try:
        action()
        print(name, 'reached')
    except OSError as error:
        print(name, 'refused', error.strerror)
attempt('environ', lambda: open('/proc/%d/environ' % pid, 'rb').read())
attempt('root', lambda: open('/proc/%d/root%s' % (pid, secret)).read())
attempt('kill', lambda: os.kill(pid, 0))
attempt('write', lambda: open('/proc/%d/root%s/python-wrote' % (pid, folder), 'w').write('x'))
`,
        [String(process.pid), join(host.dir, 'secret'), host.dir]
      );
      expect({ result: run.result, stderr: run.stderr }).toEqual({
        result: { status: 'succeeded' },
        stderr: ''
      });
      const lines = run.stdout.trim().split('\n');
      expect(lines.map(line => line.split(' ').slice(0, 2).join(' '))).toEqual([
        'environ refused',
        'root refused',
        'kill refused',
        'write refused'
      ]);
      await new Promise(resolve => setTimeout(resolve, 200));
      expect(received).toEqual([]);
      expect(readdirSync(host.dir)).not.toContain('python-wrote');
    });
  }
);

afterAll(async () => {
  expect(leftRunTrees()).toEqual([]);
  expect(readFileSync(join(canary, 'results', 'summary.csv'), 'utf8')).toBe(
    SECRET
  );
  await removeTree(canary);
});
