/**
 * One table of behaviour tests over every run backend: Docker (the real Engine, images from the
 * real builder and registry) and the sandbox (bubblewrap on an overlay or a copy, proot on a copy,
 * root filesystems from the real cache), on packages made by the real reprozip. Each example and
 * variant must reproduce its recorded log and outputs on each backend, and give byte-identical
 * results on all of them; then the behaviours every backend promises alike. What only one backend
 * does is tested in its own file (`docker-run.test.ts`, `../sandbox/sandbox-run.test.ts`).
 */
import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { RunEdits } from '../../../src/runs/edits';
import { BACKENDS, type Backend } from '../../helpers/backends';
import { example } from '../../helpers/examples';
import { outputsOf, type FinishedRun } from '../../helpers/run-recorder';
import { runCases, type RunCase } from './run-cases';

jest.setTimeout(180_000);

const lines = (text: string): string[] =>
  text.split('\n').filter(line => line !== '');

/** Edits that replace the first step's command line by a shell script, or a Python one. */
const sh = (script: string, edits: RunEdits = {}): RunEdits => ({
  ...edits,
  stepEdits: [{ step: 0, argv: ['sh', '-c', script] }]
});
const python3 = (script: string, edits: RunEdits = {}): RunEdits => ({
  ...edits,
  stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', script] }]
});

const TABLE = BACKENDS.map(backend => [backend.name, backend] as const);
const CASES = runCases();

/** Each case runs once per backend; the comparison across backends reuses those runs. */
const caseRuns = new Map<string, Promise<FinishedRun>>();
const caseKey = (backend: Backend, c: RunCase) => `${backend.name}\0${c.title}`;
function runCase(backend: Backend, c: RunCase): Promise<FinishedRun> {
  const key = caseKey(backend, c);
  let run = caseRuns.get(key);
  if (!run) {
    run = backend.run(c.rpz, c.edits);
    caseRuns.set(key, run);
  }
  return run;
}

/** Runs of a backend's cases at a time: two, as the server's default limit on two cores. */
const CASES_AT_ONCE = 2;

/**
 * Starts every case's run on a backend, `CASES_AT_ONCE` at a time, for the tests to await in
 * their order: a run mostly waits (on the engine, the cluster, a process), so two at a time
 * take less of the test run's time than one after the other, and each still runs whole.
 */
function startCaseRuns(backend: Backend): void {
  const lanes: Promise<unknown>[] = Array.from({ length: CASES_AT_ONCE }, () =>
    Promise.resolve()
  );
  CASES.forEach((c, i) => {
    const key = caseKey(backend, c);
    if (caseRuns.has(key)) {
      return;
    }
    const lane = i % CASES_AT_ONCE;
    const run = lanes[lane].then(() => backend.run(c.rpz, c.edits));
    // Its test awaits it, later: a failure is that test's, not an unhandled rejection.
    lanes[lane] = run.catch(() => undefined);
    caseRuns.set(key, run);
  });
}

/** Every file under `dir` (the run's stored outputs), by relative path, with its sha256. */
function filesUnder(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) {
        walk(path);
      } else {
        files[relative(dir, path)] = createHash('sha256')
          .update(readFileSync(path))
          .digest('hex');
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * All a run says and stores, without times and durations: what must match across backends.
 * Outputs the example declares as varying between identical runs (the determinism check's
 * example) count by name, path and owner, not by their bytes.
 */
function resultOf(
  run: FinishedRun,
  varying: readonly string[] = []
): Record<string, unknown> {
  return {
    result: run.result,
    steps: run.events.flatMap((e): object[] =>
      e.type === 'step-start'
        ? [{ start: e.step, id: e.id, argv: e.argv }]
        : e.type === 'step-end'
          ? [{ end: e.step, exitCode: e.exitCode }]
          : []
    ),
    stdout: run.stdout,
    stderr: run.stderr,
    outputs: outputsOf(run).map(
      ({ name, path, kind, size, sha256, uid, gid, mode }) => ({
        name,
        path,
        kind,
        ...(!varying.includes(name) && { size, sha256 }),
        uid,
        gid,
        mode
      })
    ),
    missing: run.events.flatMap(e =>
      e.type === 'output-missing'
        ? [{ name: e.name, path: e.path, reason: e.reason }]
        : []
    ),
    stored: Object.fromEntries(
      Object.entries(filesUnder(run.outDir)).map(([file, sha256]) => [
        file,
        varying.includes(file) ? 'varies' : sha256
      ])
    )
  };
}

describe.each(TABLE)('%s', (_name, backend) => {
  beforeAll(() => backend.ready());

  describe('every example and variant reproduces its log and outputs', () => {
    beforeAll(() => startCaseRuns(backend));
    it.each(CASES.map(c => [c.title, c] as const))('%s', async (_, c) => {
      const run = await runCase(backend, c);
      expect(run.result).toEqual({ status: 'succeeded' });
      expect(lines(run.stdout)).toEqual(c.stdout);
      const declared = Object.fromEntries(
        outputsOf(run)
          .filter(o => o.kind === 'declared')
          .map(o => [o.name, o.sha256])
      );
      for (const [name, file] of Object.entries(c.outputs)) {
        expect({ name, sha256: declared[name] }).toEqual({
          name,
          sha256: file.sha256
        });
      }
    });
  });

  describe('semantics', () => {
    const twoSteps = example('two-steps');
    const shell = example('shell-pipeline');
    const python = example('python-options');

    it('runs steps as their recorded non-root user, and outputs are theirs', async () => {
      // Only shell built-ins: the package brought no `id`.
      const run = await backend.run(
        twoSteps.rpz,
        sh(
          'while read k v rest; do case $k in Uid:|Gid:) echo $v;; esac; done < /proc/self/status > new-file.txt; sh prepare.sh "données brutes.txt" intermédiaire.txt'
        )
      );
      expect(run.result.status).toBe('succeeded');
      const recorded = twoSteps.manifest.package.runs;
      expect(recorded[0].uid).not.toBe(0);
      for (const output of outputsOf(run)) {
        expect({ name: output.name, uid: output.uid, gid: output.gid }).toEqual(
          { name: output.name, uid: recorded[0].uid, gid: recorded[0].gid }
        );
      }
      const created = outputsOf(run).find(o =>
        o.path.endsWith('/new-file.txt')
      );
      expect(created).toMatchObject({ kind: 'changed' });
      if (backend.kernelSeesRecordedIds) {
        expect(
          readFileSync(join(run.outDir, 'changed', created!.path), 'utf8')
        ).toBe(`${recorded[0].uid}\n${recorded[0].gid}\n`);
      }
    });

    it('gives a step exactly its recorded environment, nothing more', async () => {
      // Python adds nothing to the environment it was given; sh would add PWD. Only modules the
      // package brought: os, not json.
      const run = await backend.run(
        python.rpz,
        python3(
          'import os\nfor k in os.environ: print(k + "=" + os.environ[k])'
        )
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
      const run = await backend.run(twoSteps.rpz, {
        steps: [1],
        inputs: [
          { name: 'arg_intermédiaire.txt', source: { kind: 'file', path } }
        ]
      });
      expect(run.result.status).toBe('succeeded');
      expect(lines(run.stdout)).toEqual([
        'step 2: wrote résumé final.txt',
        'Bonjour!',
        'lines: 2',
        'last: deux'
      ]);
      // The user's file is an input, not something the run made.
      expect(outputsOf(run).map(o => o.path)).not.toContain(
        '/tmp/reproserver-examples/two-steps/intermédiaire.txt'
      );
    });

    it('stops at a failing step and still collects what it wrote', async () => {
      const run = await backend.run(
        twoSteps.rpz,
        sh('echo partial > intermédiaire.txt; echo oops >&2; exit 3')
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
      const run = await backend.run(
        shell.rpz,
        sh(
          'echo new > /tmp/made-by-run.txt && echo deep > /tmp/reproserver-examples/deeper.txt && echo more >> words.txt'
        )
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

    // Not under proot: it shares the host's hostname and network.
    if (backend.ownHostnameNoNetwork) {
      it('gives runs their recorded hostname and no network', async () => {
        const run = await backend.run(
          shell.rpz,
          sh(
            'read h < /proc/sys/kernel/hostname; echo $h; while read name rest; do echo $name; done < /proc/net/dev'
          )
        );
        expect(run.result.status).toBe('succeeded');
        const [hostname, , , ...interfaces] = lines(run.stdout);
        expect(hostname).toBe(run.model.runs[0].hostname ?? 'reproserver');
        expect(interfaces).toEqual(['lo:']);
      });
    }

    it('keeps stdout and stderr apart, timestamped, and streams them while the step runs', async () => {
      const slow = example('slow-printer');
      const run = await backend.run(slow.rpz);
      const logs = run.events.filter(e => e.type === 'log');
      const end = run.events.find(e => e.type === 'end')!;
      expect(run.result.status).toBe('succeeded');
      // The first line arrived seconds before the end: it was streamed, not collected at the end.
      expect(end.time - logs[0].time).toBeGreaterThan(3000);
    });

    it('caps the log and says so', async () => {
      const run = await backend.run(
        shell.rpz,
        sh('i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done', {
          limits: { logBytes: 1000 }
        })
      );
      expect(run.result.status).toBe('succeeded');
      expect(Buffer.byteLength(run.stdout)).toBe(1000);
      expect(run.events).toContainEqual(
        expect.objectContaining({ type: 'log-truncated', limitBytes: 1000 })
      );
    });

    it('never lets a run change what runs start from, or another run', async () => {
      const before = await backend.startingPoint(python.rpz);
      // A hostile run: rewrites, chmods, touches, renames and deletes package files.
      const wrecker = await backend.run(
        python.rpz,
        python3(
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
        )
      );
      expect(wrecker.result.status).toBe('succeeded');
      expect(await backend.startingPoint(python.rpz)).toBe(before);
      const next = await backend.run(
        python.rpz,
        python3(
          'import os\nprint(open("measurements.csv").readline().strip())\nprint(os.path.exists("/tmp/leak.txt"), os.path.exists("stats.py"))'
        )
      );
      expect(next.result.status).toBe('succeeded');
      // The file as reprozip recorded it, whatever the backend made of it.
      const measurements = next.model.files.find(f =>
        f.path.endsWith('/measurements.csv')
      )!;
      expect(lines(next.stdout)).toEqual([
        python.manifest.inputs![measurements.name].text.split('\n')[0],
        'False True'
      ]);
    });

    it("writes through a hard link only in the run's copy", async () => {
      const links = example('links');
      const before = await backend.startingPoint(links.rpz);
      const run = await backend.run(
        links.rpz,
        sh('for f in *; do echo changed > "$f"; done')
      );
      expect(run.result.status).toBe('succeeded');
      expect(await backend.startingPoint(links.rpz)).toBe(before);
      const again = await backend.run(links.rpz);
      expect(lines(again.stdout)).toEqual(links.manifest.runs[0].stdout);
    });
  });

  describe('limits and endings', () => {
    const python = example('python-options');
    const shell = example('shell-pipeline');

    it(`ends a memory hog with out-of-memory (${backend.memoryLimit})`, async () => {
      const run = await backend.run(
        python.rpz,
        python3('a = bytearray(512 * 1024 * 1024)', {
          limits: { memoryMiB: 64 }
        })
      );
      expect(run.result).toEqual({
        status: 'out-of-memory',
        failedStep: 0,
        reason: 'Step 0 (run0) ran out of memory (limit 64 MiB).'
      });
    });

    it('ends an endless loop with timed-out', async () => {
      const started = Date.now();
      const run = await backend.run(
        shell.rpz,
        // Long enough for a rootless engine to start the container first (Podman: 1-3 s here).
        sh('while :; do :; done', { limits: { timeoutSeconds: 5 } })
      );
      expect(run.result).toMatchObject({ status: 'timed-out', failedStep: 0 });
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('keeps a fork bomb bounded: it fails, and the next run succeeds', async () => {
      const bomb = 'import os\nwhile True:\n    os.fork()';
      const run = await backend.run(
        python.rpz,
        python3(bomb, { limits: { pids: 64, timeoutSeconds: 60 } })
      );
      expect(run.result).toMatchObject({ status: 'failed', failedStep: 0 });
      const next = await backend.run(shell.rpz);
      expect(next.result.status).toBe('succeeded');
    });

    it('cancels a running experiment at once', async () => {
      const slow = example('slow-printer');
      const abort = new AbortController();
      const started = Date.now();
      const run = await backend.run(
        slow.rpz,
        {},
        {
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
  });

  afterAll(async () => {
    // Every run removed its container or its tree.
    expect(await backend.leftovers()).toEqual([]);
  });
});

describe('every backend gives byte-identical logs and outputs', () => {
  it.each(CASES.map(c => [c.title, c] as const))('%s', async (_, c) => {
    const [first, ...others] = BACKENDS;
    await first.ready();
    const varying = c.manifest.varying_outputs ?? [];
    const expected = resultOf(await runCase(first, c), varying);
    for (const backend of others) {
      await backend.ready();
      const found = resultOf(await runCase(backend, c), varying);
      expect({ backend: backend.name, ...found }).toEqual({
        backend: backend.name,
        ...expected
      });
    }
  });
});
