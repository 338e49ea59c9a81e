/**
 * Runs on the real Docker Engine, with images from the real builder and packages from the real
 * reprozip (started and made by the test command).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { example } from '../../helpers/examples';
import {
  dockerSocket,
  imageOf,
  outputsOf,
  runPackage
} from '../../helpers/docker-run';
import { runCases } from './run-cases';

jest.setTimeout(180_000);

const lines = (text: string): string[] =>
  text.split('\n').filter(line => line !== '');

describe('Docker backend: every example and variant reproduces its log and outputs', () => {
  it.each(runCases().map(c => [c.title, c] as const))(
    '%s',
    async (_, runCase) => {
      const run = await runPackage(runCase.rpz, runCase.edits);
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
});

describe('Docker backend: semantics', () => {
  const twoSteps = example('two-steps');

  it('runs steps as their recorded non-root user, and outputs are theirs', async () => {
    const run = await runPackage(twoSteps.rpz);
    const recorded = twoSteps.manifest.package.runs;
    expect(recorded[0].uid).not.toBe(0);
    for (const output of outputsOf(run).filter(o => o.kind === 'declared')) {
      expect({ name: output.name, uid: output.uid, gid: output.gid }).toEqual({
        name: output.name,
        uid: recorded[0].uid,
        gid: recorded[0].gid
      });
    }
  });

  it('gives a step exactly its recorded environment, nothing more', async () => {
    // Python adds nothing to the environment it was given; sh would add PWD.
    const python = example('python-options');
    const run = await runPackage(python.rpz, {
      stepEdits: [
        {
          step: 0,
          argv: [
            'python3',
            '-S',
            '-c',
            // Only modules the package brought: os, not json.
            'import os\nfor k in os.environ: print(k + "=" + os.environ[k])'
          ]
        }
      ]
    });
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
    const run = await runPackage(twoSteps.rpz, {
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
    const run = await runPackage(twoSteps.rpz, {
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
    });
    expect(run.result).toEqual({
      status: 'failed',
      failedStep: 0,
      reason: 'Step 0 (prepare) exited with code 3.'
    });
    expect(run.stderr).toBe('oops\n');
    expect(run.events.filter(e => e.type === 'step-start')).toHaveLength(1);
    const partial = outputsOf(run).find(
      o => o.name === 'arg_intermédiaire.txt'
    );
    expect(partial).toMatchObject({
      kind: 'declared',
      size: 'partial\n'.length
    });
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: 'output-missing', name: 'arg1_3' })
    );
  });

  it('keeps stdout and stderr apart, timestamped, and streams them while the step runs', async () => {
    const slow = example('slow-printer');
    const run = await runPackage(slow.rpz);
    const logs = run.events.filter(e => e.type === 'log');
    const end = run.events.find(e => e.type === 'end')!;
    expect(run.result.status).toBe('succeeded');
    // The first line arrived seconds before the end: it was streamed, not collected at the end.
    expect(end.time - logs[0].time).toBeGreaterThan(3000);
  });

  it('caps the log and says so', async () => {
    const shell = example('shell-pipeline');
    const run = await runPackage(shell.rpz, {
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
    });
    expect(run.result.status).toBe('succeeded');
    expect(Buffer.byteLength(run.stdout)).toBe(1000);
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: 'log-truncated', limitBytes: 1000 })
    );
  });
});

describe('Docker backend: limits and endings', () => {
  const python = example('python-options');
  const shell = example('shell-pipeline');

  it('ends a memory hog with out-of-memory', async () => {
    const run = await runPackage(python.rpz, {
      stepEdits: [
        {
          step: 0,
          argv: ['python3', '-S', '-c', 'a = bytearray(512 * 1024 * 1024)']
        }
      ],
      limits: { memoryMiB: 64 }
    });
    expect(run.result).toEqual({
      status: 'out-of-memory',
      failedStep: 0,
      reason: 'Step 0 (run0) ran out of memory (limit 64 MiB).'
    });
  });

  it('ends an endless loop with timed-out', async () => {
    const started = Date.now();
    const run = await runPackage(shell.rpz, {
      stepEdits: [{ step: 0, argv: ['sh', '-c', 'while :; do :; done'] }],
      limits: { timeoutSeconds: 2 }
    });
    expect(run.result).toMatchObject({ status: 'timed-out', failedStep: 0 });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('keeps a fork bomb bounded: it fails, and the next run succeeds', async () => {
    const bomb = 'import os\nwhile True:\n    os.fork()';
    const run = await runPackage(python.rpz, {
      stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', bomb] }],
      limits: { pids: 64, timeoutSeconds: 60 }
    });
    expect(run.result).toMatchObject({ status: 'failed', failedStep: 0 });
    const next = await runPackage(shell.rpz);
    expect(next.result.status).toBe('succeeded');
  });

  it('cancels a running experiment at once', async () => {
    const slow = example('slow-printer');
    const abort = new AbortController();
    const started = Date.now();
    const run = await runPackage(
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
    const docker = new Docker({ socketPath: dockerSocket() });
    const left = await docker.listContainers({
      all: true,
      filters: { label: ['org.reproserver.test=docker-run'] }
    });
    expect(left).toEqual([]);
  });
});
