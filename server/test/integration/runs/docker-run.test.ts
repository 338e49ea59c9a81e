/**
 * What only the Docker backend does, on the real Docker Engine (and, for its hostile experiments,
 * on rootless Podman through its Docker-compatible API) with images from the real builder
 * and packages from the real reprozip (started and made by the test command). Every behaviour it
 * shares with the sandbox is tested over both in `backend-behaviour.test.ts`.
 */
import Docker from 'dockerode';
import type { RunEdits } from '../../../src/runs/edits';
import {
  dockerSocket,
  imageOf,
  leftContainers,
  podmanSocket,
  runPackage,
  runPackage as runOn,
  type FinishedRun
} from '../../helpers/docker-run';
import { EngineRequests } from '../../helpers/engine-requests';
import { example } from '../../helpers/examples';

jest.setTimeout(180_000);

describe('Docker backend: endings of its own', () => {
  const shell = example('shell-pipeline');

  it('says so when the Docker Engine is gone, without hanging', async () => {
    await imageOf(shell.rpz);
    const run = await runPackage(
      shell.rpz,
      {},
      {
        docker: new Docker({ socketPath: '/nonexistent/docker.sock' })
      }
    );
    expect(run.result.status).toBe('error');
    expect(run.result.reason).toMatch(
      /^Docker failed: connect ENOENT \/nonexistent\/docker.sock/
    );
  });

  afterAll(async () => {
    // Every run removed its container.
    expect(await leftContainers()).toEqual([]);
  });
});

const python3 = (script: string, edits: RunEdits = {}): RunEdits => ({
  ...edits,
  stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', script] }]
});

/** Capability bits (linux/capability.h) of a /proc/self/status hex mask. */
function capabilities(hex: string): number[] {
  const mask = BigInt(`0x${hex}`);
  return Array.from({ length: 64 }, (_, bit) => bit).filter(
    bit => (mask >> BigInt(bit)) & 1n
  );
}

const CAP = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  MKNOD: 27,
  AUDIT_WRITE: 29,
  SETFCAP: 31
};

/** The mounts of the run's container, seen while its first step runs. */
async function mountsOfRunningContainer(
  socketPath: string
): Promise<unknown[]> {
  const docker = new Docker({ socketPath });
  const [info] = await docker.listContainers({
    filters: { label: ['org.reproserver.test=docker-run'] }
  });
  const inspected = await docker.getContainer(info.Id).inspect();
  return inspected.Mounts.map(({ Type, Destination, RW }) => ({
    Type,
    Destination,
    RW
  }));
}

/** The engines the Docker backend drives: Docker Engine, and rootless Podman's compatible API. */
const ENGINES = [
  ['Docker', dockerSocket],
  ['Podman', podmanSocket]
] as const;

describe.each(ENGINES)('%s backend: outputs', (_engine, socket) => {
  const shell = example('shell-pipeline');

  it("takes the declared outputs from the last step's helper, not from the engine's archive API", async () => {
    const requests = await EngineRequests.start(socket());
    try {
      const run = await runOn(
        shell.rpz,
        {},
        {
          socket: socket(),
          docker: new Docker({ socketPath: requests.socketPath })
        }
      );
      expect(run.result).toEqual({ status: 'succeeded' });
      const declared = run.events.flatMap(e =>
        e.type === 'output' && e.kind === 'declared' ? [e] : []
      );
      const expected = Object.entries(shell.manifest.outputs);
      expect(declared.map(e => [e.name, e.sha256])).toEqual(
        expected.map(([name, file]) => [name, file.sha256])
      );
      // The requests went through the proxy, and none asked for a declared output.
      expect(requests.lines.some(line => / \S*\/exec\//.test(line))).toBe(true);
      expect(
        requests
          .archiveReads()
          .filter(path => declared.some(e => e.path === path))
      ).toEqual([]);
    } finally {
      await requests.stop();
    }
  });
});

describe.each(ENGINES)('%s backend: hostile experiments', (_engine, socket) => {
  const runPackage = (
    rpz: string,
    edits: RunEdits = {},
    options: Parameters<typeof runOn>[2] = {}
  ): Promise<FinishedRun> =>
    runOn(rpz, edits, { ...options, socket: socket() });
  const python = example('python-options');
  const twoSteps = example('two-steps');

  it('gives a root step only the capabilities experiments need, a non-root step none', async () => {
    const show =
      'while read k v rest; do case $k in Cap*) echo $k $v;; esac; done < /proc/self/status';
    const root = await runPackage(
      python.rpz,
      python3(
        'for line in open("/proc/self/status"):\n  if line.startswith("Cap"): print(*line.split())'
      )
    );
    const user = await runPackage(twoSteps.rpz, {
      stepEdits: [{ step: 0, argv: ['sh', '-c', show] }],
      steps: [0]
    });
    const sets = (stdout: string): Record<string, number[]> =>
      Object.fromEntries(
        stdout
          .trim()
          .split('\n')
          .map(line => line.split(' '))
          .map(([name, hex]) => [name.replace(':', ''), capabilities(hex)])
      );
    expect(root.result.status).toBe('succeeded');
    const rootSets = sets(root.stdout);
    expect(rootSets.CapEff).toEqual(rootSets.CapBnd);
    for (const needed of [
      'CHOWN',
      'DAC_OVERRIDE',
      'FOWNER',
      'KILL',
      'SETUID',
      'SETGID'
    ] as const) {
      expect(rootSets.CapBnd).toContain(CAP[needed]);
    }
    for (const dropped of [
      'MKNOD',
      'NET_RAW',
      'SETFCAP',
      'AUDIT_WRITE',
      'SYS_CHROOT'
    ] as const) {
      expect(rootSets.CapBnd).not.toContain(CAP[dropped]);
    }
    expect(user.result.status).toBe('succeeded');
    expect(twoSteps.manifest.package.runs[0].uid).not.toBe(0);
    expect(sets(user.stdout)).toEqual({
      CapInh: [],
      CapPrm: [],
      CapEff: [],
      CapBnd: [],
      CapAmb: []
    });
  });

  it('keeps a hostile root step from the host and from the step control; a forged frame ends the run', async () => {
    let mounts: Promise<unknown[]> | undefined;
    const started = Date.now();
    const run = await runPackage(
      python.rpz,
      python3(
        [
          'import os, time',
          'def attempt(what, action):',
          '  try:',
          '    action()',
          '    print(what, "done", flush=True)',
          '  except OSError as e:',
          '    print(what, type(e).__name__, e.errno, flush=True)',
          // The old attacks on the steps' folder: links, FIFOs, setuid files, root-owned folders.
          'attempt("link", lambda: os.symlink("/etc/passwd", "/.reproserver/steps/1.log"))',
          'attempt("fifo", lambda: os.mkfifo("/.reproserver/steps/1.exit"))',
          'attempt("folder", lambda: os.makedirs("/.reproserver/steps/2.log/x"))',
          'def setuid():',
          '  open("/.reproserver/steps/suid", "w").close()',
          '  os.chmod("/.reproserver/steps/suid", 0o4755)',
          'attempt("setuid", setuid)',
          'attempt("mknod", lambda: os.mknod("/tmp/null", 0o20666, os.makedev(1, 3)))',
          'attempt("helper", lambda: os.chmod("/.reproserver/rpz-exec", 0o777))',
          // A frame claiming 2 GiB, appended to its own log; then its helper is killed, so that
          // the server reads the rest from the log.
          // (Once its helper has logged what it printed.)
          'time.sleep(1)',
          'with open("/.reproserver/steps/0.log", "ab") as log:',
          '  log.write(b"\\x01\\x7f\\xff\\xff\\xff" + b"x" * 100000)',
          'os.kill(os.getppid(), 9)',
          'time.sleep(30)'
        ].join('\n'),
        { limits: { timeoutSeconds: 60 } }
      ),
      {
        onEvent: event => {
          if (event.type === 'step-start') {
            mounts = mountsOfRunningContainer(socket());
          }
        }
      }
    );
    // Only the helper comes from the host, read-only: no host folder is writable from inside.
    expect(await mounts).toEqual([
      { Type: 'bind', Destination: '/.reproserver/rpz-exec', RW: false }
    ]);
    expect(run.stdout.split('\n')).toEqual([
      'link done',
      'fifo done',
      'folder done',
      'setuid done',
      'mknod PermissionError 1',
      'helper OSError 30',
      ''
    ]);
    expect(run.result).toEqual({
      status: 'error',
      failedStep: 0,
      reason:
        'Step 0 (run0) ended without an exit code: its log is not made of frames of at most 64 KiB.'
    });
    // Ended by the forged frame, long before the step's 30 s.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('ends a step whose helper or exit code a root step attacks, clearly and at once', async () => {
    const attack = async (
      script: string,
      seconds = 30
    ): Promise<FinishedRun['result']> =>
      (
        await runPackage(
          python.rpz,
          python3(`import os, time\n${script}\ntime.sleep(${seconds})`, {
            limits: { timeoutSeconds: 60 }
          })
        )
      ).result;
    const lost = (why: string): FinishedRun['result'] => ({
      status: 'error',
      failedStep: 0,
      reason: `Step 0 (run0) ended without an exit code: ${why}.`
    });
    const started = Date.now();
    expect(await attack('os.kill(os.getppid(), 9)')).toEqual(
      lost('its helper was killed before the step ended')
    );
    // A forged exit file: the server reads it only from the files, once the helper is gone.
    expect(
      await attack(
        'open("/.reproserver/steps/0.exit", "w").write("999\\n")\nos.kill(os.getppid(), 9)'
      )
    ).toEqual(lost('The step\'s exit file holds "999\\n", not an exit code'));
    // What it forges while its helper runs changes nothing: the server reads the helper.
    expect(
      await attack(
        'open("/.reproserver/steps/0.exit", "w").write("999\\n")\nopen("/.reproserver/steps/0.log", "ab").write(b"\\x09" * 5)\nprint("forged", flush=True)',
        1
      )
    ).toEqual({ status: 'succeeded' });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('stops a run that fills its disk, and a file larger than the limit', async () => {
    const manyFiles = await runPackage(
      python.rpz,
      python3(
        'import time\nfor i in range(12):\n  open("/tmp/fill%d" % i, "wb").write(b"x" * (8 << 20))\nprint("written", flush=True)\ntime.sleep(60)',
        { limits: { diskMiB: 64, timeoutSeconds: 90 } }
      )
    );
    expect(manyFiles.stdout).toBe('written\n');
    expect(manyFiles.result).toMatchObject({
      status: 'failed',
      failedStep: 0,
      reason: expect.stringMatching(
        /^The run used more than its disk limit of 64 MiB \(\d+ MiB written\); raise limits.diskMiB if it needs more.$/
      )
    });
    const oneFile = await runPackage(
      python.rpz,
      python3('open("/tmp/big", "wb").write(b"x" * (80 << 20))', {
        limits: { diskMiB: 64 }
      })
    );
    // The kernel refuses the write past the limit (EFBIG; Python ignores SIGXFSZ).
    expect(oneFile.result).toEqual({
      status: 'failed',
      failedStep: 0,
      reason: 'Step 0 (run0) exited with code 1.'
    });
    expect(oneFile.stderr).toMatch(/OSError: \[Errno 27\] File too large/);
  });

  it('bounds the files a process may open', async () => {
    const run = await runPackage(
      python.rpz,
      python3(
        'import os\nfds = []\ntry:\n  while True: fds.append(os.open("/dev/null", os.O_RDONLY))\nexcept OSError as e:\n  print(len(fds), e.errno)'
      )
    );
    expect(run.result.status).toBe('succeeded');
    const [count, errno] = run.stdout.trim().split(' ').map(Number);
    expect(errno).toBe(24); // EMFILE
    expect(count).toBeGreaterThan(4000);
    expect(count).toBeLessThan(4096);
  });

  afterAll(async () => {
    expect(await leftContainers(socket())).toEqual([]);
  });
});
