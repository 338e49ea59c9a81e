/**
 * Runs in the sandbox backend (bubblewrap, and proot where it works), on root filesystems from the
 * real cache, with packages from the real reprozip: the same table of cases as the Docker backend,
 * with the same expected logs and output hashes, then the sandbox's own guarantees.
 */
import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detectSandbox,
  type SandboxMechanism
} from '../../../src/backends/sandbox/detect';
import { example } from '../../helpers/examples';
import { outputsOf } from '../../helpers/run-recorder';
import { rootfsOf, runPackageInSandbox } from '../../helpers/sandbox-run';
import { runCases } from '../runs/run-cases';

jest.setTimeout(180_000);

const lines = (text: string): string[] =>
  text.split('\n').filter(line => line !== '');

/** Each mechanism, and for bubblewrap both ways of giving a run its own tree. */
const CONFIGS: {
  name: string;
  mechanism: SandboxMechanism;
  isolation?: 'copy';
}[] = [
  { name: 'bwrap on an overlay', mechanism: 'bwrap' },
  { name: 'bwrap on a copy', mechanism: 'bwrap', isolation: 'copy' },
  { name: 'proot on a copy', mechanism: 'proot' }
];
const TABLE = CONFIGS.map(c => [c.name, c] as const);

/** sha256 over every path, type, mode, size, mtime, link target and content of a tree. */
function hashTree(root: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string): void => {
    const names = readdirSync(join(root, rel)).sort();
    for (const name of names) {
      const path = join(rel, name);
      const info = lstatSync(join(root, path), { bigint: true });
      hash.update(
        `${path}\0${info.mode}\0${info.size}\0${info.mtimeNs}\0${info.ino}\0`
      );
      if (info.isSymbolicLink()) {
        hash.update(readlinkSync(join(root, path)));
      } else if (info.isFile()) {
        hash.update(readFileSync(join(root, path)));
      } else if (info.isDirectory()) {
        walk(path);
      }
    }
  };
  walk('');
  return hash.digest('hex');
}

describe.each(TABLE)(
  'Sandbox backend (%s): every example and variant reproduces its log and outputs',
  (_name, { mechanism, isolation }) => {
    beforeAll(async () => {
      const status = await detectSandbox({ mechanism });
      if (!status.available) {
        throw new Error(
          `${mechanism} does not work on this host: ${status.detail}`
        );
      }
    });

    it.each(runCases().map(c => [c.title, c] as const))(
      '%s',
      async (_, runCase) => {
        const run = await runPackageInSandbox(runCase.rpz, runCase.edits, {
          mechanism,
          isolation
        });
        expect(run.result).toEqual({ status: 'succeeded' });
        expect(lines(run.stdout)).toEqual(runCase.stdout);
        const declared = Object.fromEntries(
          outputsOf(run)
            .filter(o => o.kind === 'declared')
            .map(o => [o.name, o.sha256])
        );
        for (const [name, file] of Object.entries(runCase.outputs)) {
          expect({ name, sha256: declared[name] }).toEqual({
            name,
            sha256: file.sha256
          });
        }
      }
    );
  }
);

describe.each(TABLE)('Sandbox backend (%s): semantics', (_name, config) => {
  const { mechanism } = config;
  const twoSteps = example('two-steps');
  const shell = example('shell-pipeline');
  const python = example('python-options');

  it('runs steps as their recorded non-root user, and outputs are theirs', async () => {
    const run = await runPackageInSandbox(
      twoSteps.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'sh',
              '-c',
              // Only shell built-ins: the package brought no `id`.
              'while read k v rest; do case $k in Uid:|Gid:) echo $v;; esac; done < /proc/self/status > new-file.txt; sh prepare.sh "données brutes.txt" intermédiaire.txt'
            ]
          }
        ]
      },
      config
    );
    expect(run.result.status).toBe('succeeded');
    const recorded = twoSteps.manifest.package.runs;
    expect(recorded[0].uid).not.toBe(0);
    for (const output of outputsOf(run)) {
      expect({ name: output.name, uid: output.uid, gid: output.gid }).toEqual({
        name: output.name,
        uid: recorded[0].uid,
        gid: recorded[0].gid
      });
    }
    const created = outputsOf(run).find(o => o.path.endsWith('/new-file.txt'));
    expect(created).toMatchObject({ kind: 'changed' });
    if (mechanism === 'bwrap') {
      // The kernel itself says so (proot fakes the ids only in system calls, not in /proc).
      expect(
        readFileSync(join(run.outDir, 'changed', created!.path), 'utf8')
      ).toBe(`${recorded[0].uid}\n${recorded[0].gid}\n`);
    }
  });

  it('gives a step exactly its recorded environment, nothing more', async () => {
    const run = await runPackageInSandbox(
      python.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'python3',
              '-S',
              '-c',
              'import os\nfor k in os.environ: print(k + "=" + os.environ[k])'
            ]
          }
        ]
      },
      config
    );
    expect(run.result.status).toBe('succeeded');
    const printed = Object.fromEntries(
      lines(run.stdout).map(line => [
        line.slice(0, line.indexOf('=')),
        line.slice(line.indexOf('=') + 1)
      ])
    );
    expect(printed).toEqual(run.model.runs[0].environ);
  });

  it('runs a later step alone with a file the user supplies', async () => {
    const path = join(
      mkdtempSync(join(tmpdir(), 'reproserver-input-')),
      'mid.txt'
    );
    writeFileSync(path, '1\tun\n2\tdeux\n');
    const run = await runPackageInSandbox(
      twoSteps.rpz,
      {
        steps: [1],
        inputs: [
          { name: 'arg_intermédiaire.txt', source: { kind: 'file', path } }
        ]
      },
      config
    );
    expect(run.result.status).toBe('succeeded');
    expect(lines(run.stdout)).toEqual([
      'step 2: wrote résumé final.txt',
      'Bonjour!',
      'lines: 2',
      'last: deux'
    ]);
    expect(outputsOf(run).map(o => o.path)).not.toContain(
      '/tmp/reproserver-examples/two-steps/intermédiaire.txt'
    );
  });

  it('stops at a failing step and still collects what it wrote', async () => {
    const run = await runPackageInSandbox(
      twoSteps.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'sh',
              '-c',
              'echo partial > intermédiaire.txt; echo oops >&2; exit 3'
            ]
          }
        ]
      },
      config
    );
    expect(run.result).toEqual({
      status: 'failed',
      failedStep: 0,
      reason: 'Step 0 (prepare) exited with code 3.'
    });
    expect(run.stderr).toBe('oops\n');
    expect(run.events.filter(e => e.type === 'step-start')).toHaveLength(1);
    expect(
      outputsOf(run).find(o => o.name === 'arg_intermédiaire.txt')
    ).toMatchObject({ kind: 'declared', size: 'partial\n'.length });
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: 'output-missing', name: 'arg1_3' })
    );
  });

  it('reports files the run created or changed anywhere, and not the rest', async () => {
    const run = await runPackageInSandbox(
      shell.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'sh',
              '-c',
              'echo new > /tmp/made-by-run.txt && echo deep > /tmp/reproserver-examples/deeper.txt && echo more >> words.txt'
            ]
          }
        ]
      },
      config
    );
    expect(run.result.status).toBe('succeeded');
    const changed = outputsOf(run)
      .filter(o => o.kind === 'changed')
      .map(o => o.path);
    expect(changed).toEqual([
      '/tmp/made-by-run.txt',
      '/tmp/reproserver-examples/deeper.txt',
      '/tmp/reproserver-examples/shell-pipeline/words.txt'
    ]);
    expect(run.events).toContainEqual(
      expect.objectContaining({
        type: 'output-missing',
        name: 'top-words.txt',
        reason: 'The run did not create it.'
      })
    );
  });

  it('caps the log and says so', async () => {
    const run = await runPackageInSandbox(
      shell.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'sh',
              '-c',
              'i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done'
            ]
          }
        ],
        limits: { logBytes: 1000 }
      },
      config
    );
    expect(run.result.status).toBe('succeeded');
    expect(Buffer.byteLength(run.stdout)).toBe(1000);
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: 'log-truncated', limitBytes: 1000 })
    );
  });

  it('never lets a run change the cache or another run', async () => {
    const rootfs = await rootfsOf(python.rpz);
    const before = hashTree(rootfs.root);
    // A hostile run: rewrites, chmods, touches, renames and deletes package files.
    const wrecker = await runPackageInSandbox(
      python.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'python3',
              '-S',
              '-c',
              [
                'import os',
                'open("measurements.csv", "w").write("wrecked\\n")',
                'os.chmod("stats.py", 0)',
                'os.utime("/usr/bin/python3.11", (0, 0))',
                'os.chmod("/usr/bin/python3.11", 0o777)',
                'os.rename("stats.py", "moved.py")',
                'os.chmod("/tmp", 0o700)',
                'open("/tmp/leak.txt", "w").write("leak")'
              ].join('\n')
            ]
          }
        ]
      },
      config
    );
    expect(wrecker.result.status).toBe('succeeded');
    expect(hashTree(rootfs.root)).toBe(before);
    const next = await runPackageInSandbox(
      python.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'python3',
              '-S',
              '-c',
              'import os\nprint(open("measurements.csv").readline().strip())\nprint(os.path.exists("/tmp/leak.txt"), os.path.exists("stats.py"))'
            ]
          }
        ]
      },
      config
    );
    expect(next.result.status).toBe('succeeded');
    expect(lines(next.stdout)).toEqual([
      readFileSync(
        join(
          rootfs.root,
          'tmp/reproserver-examples/python-options/measurements.csv'
        ),
        'utf8'
      ).split('\n')[0],
      'False True'
    ]);
  });

  it("writes through a hard link only in the run's copy", async () => {
    const links = example('links');
    const rootfs = await rootfsOf(links.rpz);
    const before = hashTree(rootfs.root);
    const run = await runPackageInSandbox(
      links.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: ['sh', '-c', 'for f in *; do echo changed > "$f"; done']
          }
        ]
      },
      config
    );
    expect(run.result.status).toBe('succeeded');
    expect(hashTree(rootfs.root)).toBe(before);
    const again = await runPackageInSandbox(links.rpz, {}, config);
    expect(lines(again.stdout)).toEqual(links.manifest.runs[0].stdout);
  });

  it('ends an endless loop with timed-out', async () => {
    const started = Date.now();
    const run = await runPackageInSandbox(
      shell.rpz,
      {
        stepEdits: [{ step: 0, argv: ['sh', '-c', 'while :; do :; done'] }],
        limits: { timeoutSeconds: 2 }
      },
      config
    );
    expect(run.result).toMatchObject({ status: 'timed-out', failedStep: 0 });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('cancels a running experiment at once', async () => {
    const slow = example('slow-printer');
    const abort = new AbortController();
    const started = Date.now();
    const run = await runPackageInSandbox(
      slow.rpz,
      {},
      {
        ...config,
        signal: abort.signal,
        onEvent: event => {
          if (event.type === 'log') {
            abort.abort();
          }
        }
      }
    );
    expect(run.result.status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('keeps stdout and stderr apart, and streams them while the step runs', async () => {
    const slow = example('slow-printer');
    const run = await runPackageInSandbox(slow.rpz, {}, config);
    const logs = run.events.filter(e => e.type === 'log');
    const end = run.events.find(e => e.type === 'end')!;
    expect(run.result.status).toBe('succeeded');
    expect(end.time - logs[0].time).toBeGreaterThan(3000);
  });

  it('ends a memory hog with out-of-memory (cgroup or rlimit, whichever works)', async () => {
    const run = await runPackageInSandbox(
      python.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: ['python3', '-S', '-c', 'a = bytearray(512 * 1024 * 1024)']
          }
        ],
        limits: { memoryMiB: 64 }
      },
      config
    );
    expect(run.result).toEqual({
      status: 'out-of-memory',
      failedStep: 0,
      reason: 'Step 0 (run0) ran out of memory (limit 64 MiB).'
    });
  });

  it('ends a memory hog with out-of-memory under rlimits too', async () => {
    const run = await runPackageInSandbox(
      python.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: ['python3', '-S', '-c', 'a = bytearray(512 * 1024 * 1024)']
          }
        ],
        limits: { memoryMiB: 64 }
      },
      { ...config, limits: 'rlimit' }
    );
    expect(run.result).toMatchObject({
      status: 'out-of-memory',
      failedStep: 0
    });
  });

  it('keeps a fork bomb bounded: it fails, and the next run succeeds', async () => {
    const bomb = 'import os\nwhile True:\n    os.fork()';
    const run = await runPackageInSandbox(
      python.rpz,
      {
        stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', bomb] }],
        limits: { pids: 64, timeoutSeconds: 60 }
      },
      config
    );
    expect(run.result).toMatchObject({ status: 'failed', failedStep: 0 });
    const next = await runPackageInSandbox(shell.rpz, {}, config);
    expect(next.result.status).toBe('succeeded');
  });
});

describe('Sandbox backend: the host', () => {
  it('says which mechanism it uses and how, in one sentence', async () => {
    const status = await detectSandbox();
    expect(status).toMatchObject({
      available: true,
      mechanism: 'bwrap',
      isolation: 'overlay'
    });
    expect(status.detail).toMatch(/^Sandbox: bubblewrap \d+\.\d+/);
  });

  it('gives bubblewrap runs their recorded hostname and no network', async () => {
    const shell = example('shell-pipeline');
    const run = await runPackageInSandbox(
      shell.rpz,
      {
        stepEdits: [
          {
            step: 0,
            argv: [
              'sh',
              '-c',
              'read h < /proc/sys/kernel/hostname; echo $h; while read name rest; do echo $name; done < /proc/net/dev'
            ]
          }
        ]
      },
      { mechanism: 'bwrap' }
    );
    expect(run.result.status).toBe('succeeded');
    const [hostname, , , ...interfaces] = lines(run.stdout);
    expect(hostname).toBe(run.model.runs[0].hostname ?? 'reproserver');
    expect(interfaces).toEqual(['lo:']);
  });
});
