/**
 * proot under a root server (this test runs as root, as the server does on these machines): the
 * experiment is never the host's root. proot only fakes ids in the system calls it intercepts, so
 * the run's processes must really be an unprivileged user id of the run's own, with no
 * capabilities and no_new_privs; they reach only what every user may, nothing of the server's
 * user; nothing of theirs outlives the run; the run's folder (outside the server's private state
 * folder) is removed. What the experiment sees (ids, modes, outputs) is the behaviour table's,
 * identical on every backend (`../runs/backend-behaviour.test.ts`).
 */
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectSandbox } from '../../../src/backends/sandbox/detect';
import {
  DEFAULT_SANDBOX_UID,
  SANDBOX_UID_COUNT,
  processesOf
} from '../../../src/backends/sandbox/run-user';
import { sandboxReady } from '../../helpers/backends';
import { example } from '../../helpers/examples';
import { requireRoot } from '../../helpers/requires-root';
import { runPackageInSandbox } from '../../helpers/sandbox-run';

jest.setTimeout(180_000);

/** The runs' folders of this file: every parent searchable by all, as the default /var/tmp is. */
const runsDir = mkdtempSync(join(tmpdir(), 'reproserver-proot-runs-'));
chmodSync(runsDir, 0o755);
const before = process.env.REPROSERVER_SANDBOX_RUNS_DIR;
process.env.REPROSERVER_SANDBOX_RUNS_DIR = runsDir;
afterAll(() => {
  if (before === undefined) {
    delete process.env.REPROSERVER_SANDBOX_RUNS_DIR;
  } else {
    process.env.REPROSERVER_SANDBOX_RUNS_DIR = before;
  }
});

/** A folder of the server's user (root) with a file only it may read and one anyone may. */
const hostDir = mkdtempSync(join(tmpdir(), 'reproserver-proot-host-'));
chmodSync(hostDir, 0o755);

/** Runs python-options with its step replaced by `python3 -S -c CODE ARGS…`, on proot. */
function runPython(code: string, args: string[] = [], timeoutSeconds = 60) {
  return runPackageInSandbox(
    example('python-options').rpz,
    {
      stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', code, ...args] }],
      limits: { timeoutSeconds }
    },
    { mechanism: 'proot' }
  );
}

/** The step's `Name: value` lines of /proc/self/status (read, not faked by proot), and its ids. */
const STATUS = `
import os
for line in open('/proc/self/status'):
    if line.split(':')[0] in ('Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs'):
        print(line.strip())
print('ids:', os.getuid(), os.getgid())
`;

function statusOf(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split('\n')
      .map(line => /^([A-Za-z]+):\s*(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(m => [m[1], m[2].trim()])
  );
}

describe('proot under a root server', () => {
  beforeAll(() => {
    requireRoot('A root server');
    return sandboxReady('proot');
  });

  afterAll(() => {
    // Every run removed its folder.
    expect(readdirSync(runsDir)).toEqual([]);
  });

  it('says so in its sentence, and which ids it uses', async () => {
    const status = await detectSandbox({ mechanism: 'proot' });
    expect(status.runUser).toMatchObject({
      uidBase: DEFAULT_SANDBOX_UID,
      runsDir
    });
    expect(status.detail).toContain(
      `each run as an unprivileged user id of its own (from ${DEFAULT_SANDBOX_UID}), not as root, with no capabilities`
    );
  });

  it('runs a root step as an unprivileged id of its own: no capabilities, no groups, no_new_privs', async () => {
    const run = await runPython(STATUS);
    expect(run.result).toEqual({ status: 'succeeded' });
    const status = statusOf(run.stdout);
    const [real, effective, saved, fs] = status.Uid.split(/\s+/).map(Number);
    expect(real).toBeGreaterThanOrEqual(DEFAULT_SANDBOX_UID);
    expect(real).toBeLessThan(DEFAULT_SANDBOX_UID + SANDBOX_UID_COUNT);
    expect([effective, saved, fs]).toEqual([real, real, real]);
    expect(status.Gid.split(/\s+/).map(Number)).toEqual([
      real,
      real,
      real,
      real
    ]);
    expect(status).toMatchObject({
      Groups: '',
      CapInh: '0000000000000000',
      CapPrm: '0000000000000000',
      CapEff: '0000000000000000',
      CapBnd: '0000000000000000',
      CapAmb: '0000000000000000',
      NoNewPrivs: '1',
      // What the experiment asks for is what was recorded: root.
      ids: '0 0'
    });
  });

  it("reaches host files only as any user would: never the server's user's own", async () => {
    // The isolation probe tries the file directly, through /proc/<pid>/root of every process and
    // through io_uring, which proot does not see: the public file shows these ways work.
    const marker = `proot-as-root-${process.pid}`;
    const probe = async (file: string): Promise<string[]> => {
      const run = await runPackageInSandbox(
        example('isolation-probe').rpz,
        {
          steps: [0],
          stepEdits: [
            {
              step: 0,
              argv: ['./probe', '1', '1', marker, join(hostDir, file)]
            }
          ]
        },
        { mechanism: 'proot' }
      );
      expect(run.result).toEqual({ status: 'succeeded' });
      return run.stdout
        .split('\n')
        .filter(line => /^probe host-(file|write) /.test(line))
        .map(line => line.split(' ').slice(1, 3).join(' '));
    };
    writeFileSync(join(hostDir, 'public'), `public ${marker}\n`, {
      mode: 0o644
    });
    writeFileSync(join(hostDir, 'private'), `private ${marker}\n`, {
      mode: 0o600
    });
    // Confined steps (Landlock: `confine.ts`) do not even reach what any user may read.
    const { confinement } = await detectSandbox({ mechanism: 'proot' });
    expect(await probe('public')).toEqual([
      confinement?.files ? 'host-file unreadable' : 'host-file readable',
      'host-write denied'
    ]);
    expect(await probe('private')).toEqual([
      'host-file unreadable',
      'host-write denied'
    ]);
    expect(readdirSync(hostDir).sort()).toEqual(['private', 'public']);
  });

  it('kills what the run left running, even in a session of its own', async () => {
    const started = Date.now();
    const run = await runPython(
      `
import os, time
print('uid', open('/proc/self/status').read().split('Uid:')[1].split()[0], flush=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(120)
    os._exit(0)
os.wait()
time.sleep(120)
`,
      [],
      2
    );
    expect(run.result).toMatchObject({ status: 'timed-out' });
    // At its 2 s deadline, not when its sleepers end (120 s): proot and the ids supervisor
    // above it are stopped with everything they trace.
    expect(Date.now() - started).toBeLessThan(30_000);
    const uid = Number(/^uid (\d+)$/m.exec(run.stdout)?.[1]);
    expect(uid).toBeGreaterThanOrEqual(DEFAULT_SANDBOX_UID);
    expect(await processesOf(uid)).toEqual([]);
  });
});
