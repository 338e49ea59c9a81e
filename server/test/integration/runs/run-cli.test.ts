/** `reproserver run` as users call it: the compiled CLI, the real engine, registry and packages. */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { example } from '../../helpers/examples';
import { CLI } from '../../helpers/server-process';

jest.setTimeout(120_000);

function reproserver(
  args: string[],
  // A variable set to undefined is left out of the child's environment.
  env: Record<string, string | undefined> = {}
): Promise<{
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', code =>
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    );
  });
}

const outDir = (): string =>
  join(mkdtempSync(join(tmpdir(), 'reproserver-cli-')), 'out');

describe('reproserver run', () => {
  const shell = example('shell-pipeline');
  const twoSteps = example('two-steps');

  it('runs with a changed argument, prints the log and writes outputs and run.json', async () => {
    const out = outDir();
    const result = await reproserver([
      'run',
      shell.rpz,
      '--out',
      out,
      '--arg',
      '0:3=2'
    ]);
    expect(result.code).toBe(0);
    const variant = shell.manifest.variants!.find(v => v.id === 'top-2')!;
    expect(result.stdout).toBe(variant.runs![0].stdout!.join('\n') + '\n');
    expect(readFileSync(join(out, 'top-words.txt'), 'utf8')).toBe(
      variant.outputs['top-words.txt'].text
    );
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record).toMatchObject({
      status: 'succeeded',
      backend: 'docker',
      package: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      image: expect.stringContaining(':'),
      edits: { stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }] },
      steps: [
        { index: 0, id: 'run0', exitCode: 0, durationMs: expect.any(Number) }
      ],
      outputs: [
        {
          name: 'top-words.txt',
          kind: 'declared',
          file: 'top-words.txt',
          sha256: variant.outputs['top-words.txt'].sha256
        }
      ],
      missingOutputs: []
    });
  });

  it('runs on rootless Podman when pointed at its socket, and says so', async () => {
    const socket = process.env.PODMAN_SOCKET;
    if (!socket) {
      throw new Error(
        'PODMAN_SOCKET is not set: run these tests through ./reproserver-lab test'
      );
    }
    const out = outDir();
    const result = await reproserver(
      ['run', shell.rpz, '--out', out, '--arg', '0:3=2'],
      // As the README says to: DOCKER_HOST, read when DOCKER_SOCKET is not set.
      { DOCKER_HOST: `unix://${socket}`, DOCKER_SOCKET: undefined }
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^\[reproserver\] Podman \d+\.\d+\.\d+ \(rootless\) at /
    );
    const variant = shell.manifest.variants!.find(v => v.id === 'top-2')!;
    expect(result.stdout).toBe(variant.runs![0].stdout!.join('\n') + '\n');
    expect(readFileSync(join(out, 'top-words.txt'), 'utf8')).toBe(
      variant.outputs['top-words.txt'].text
    );
  });

  it('takes steps by id, environment edits, replaced inputs, and records input hashes', async () => {
    const out = outDir();
    const input = join(
      mkdtempSync(join(tmpdir(), 'reproserver-in-')),
      'données.txt'
    );
    writeFileSync(input, 'alpha\n\n  \nbêta\n');
    const result = await reproserver([
      'run',
      twoSteps.rpz,
      '--out',
      out,
      '--env',
      'summarise:GREETING=Hello',
      '--input',
      `arg0_2=${input}`
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Hello!\nlines: 2\nlast: bêta\n');
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.inputs).toEqual([
      {
        name: 'arg0_2',
        path: '/tmp/reproserver-examples/two-steps/données brutes.txt',
        source: input,
        size: 16,
        sha256:
          'b9ce3c1d96bf21c1e952fb1e53d42e72811fc0dd970fb60bf96eaf4fedc4f60c'
      }
    ]);
    expect(readdirSync(out).sort()).toEqual([
      'arg1_3',
      'arg_intermédiaire.txt',
      'run.json'
    ]);
  });

  it('exits 1 and records the failing step when a step fails', async () => {
    const out = outDir();
    const result = await reproserver([
      'run',
      shell.rpz,
      '--out',
      out,
      '--cmdline',
      "0=sh -c 'echo broken >&2; exit 4'"
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('broken\n');
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record).toMatchObject({
      status: 'failed',
      failedStep: 0,
      steps: [{ exitCode: 4 }],
      missingOutputs: [{ name: 'top-words.txt' }]
    });
  });

  it.each([
    [
      ['--steps', '5'],
      'reproserver: Unknown step "5": this package has 1 step: 0 (run0).'
    ],
    [
      ['--arg', '0:9=x'],
      'reproserver: Step 0 (run0) has arguments 0 to 3; there is no argument 9.'
    ],
    [
      ['--arg', 'nonsense'],
      'reproserver: --arg "nonsense" is not of the form STEP:INDEX=VALUE.'
    ],
    [
      ['--input', 'nope=/etc/hostname'],
      'reproserver: "nope" is not an input of this package; its inputs are: arg1, arg2.'
    ],
    [
      ['--input', 'arg2=/nonexistent/file'],
      'reproserver: The file for input "arg2" cannot be read: /nonexistent/file'
    ],
    [
      ['--timeout', '-3'],
      'reproserver: --timeout "-3" is not a positive number.'
    ],
    [
      ['--timeout', '99999999'],
      'reproserver: The limit timeoutSeconds must be at most 604800, not 99999999.'
    ],
    [['--disk', '0'], 'reproserver: --disk "0" is not a positive number.']
  ])(
    'refuses %j before anything starts, in one sentence',
    async (flags, message) => {
      const out = outDir();
      const result = await reproserver([
        'run',
        shell.rpz,
        '--out',
        out,
        ...flags
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(message + '\n');
      expect(existsSync(out)).toBe(false);
    }
  );

  it('says Docker is unavailable, fast, when the socket is missing', async () => {
    const result = await reproserver(
      ['run', shell.rpz, '--out', outDir(), '--backend', 'docker'],
      { DOCKER_SOCKET: '/nonexistent/docker.sock' }
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'reproserver: Docker is unavailable: no daemon at /nonexistent/docker.sock. Start the Docker Engine, or pass --docker-socket.\n'
    );
    expect(result.ms).toBeLessThan(5000);
  });

  it('runs in the sandbox when Docker is unavailable (--backend auto, the default)', async () => {
    const out = outDir();
    const result = await reproserver(['run', shell.rpz, '--out', out], {
      DOCKER_SOCKET: '/nonexistent/docker.sock',
      REPROSERVER_STATE_DIR: mkdtempSync(
        join(tmpdir(), 'reproserver-cli-state-')
      )
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      '[reproserver] Docker is unavailable (no daemon at /nonexistent/docker.sock); using the sandbox'
    );
    expect(result.stdout).toBe(shell.manifest.runs[0].stdout.join('\n') + '\n');
    expect(
      JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))
    ).toMatchObject({
      status: 'succeeded',
      backend: 'sandbox',
      image: null,
      outputs: [
        {
          name: 'top-words.txt',
          sha256: shell.manifest.outputs['top-words.txt'].sha256
        }
      ]
    });
  });

  it('records the run in --state DIR, and otherwise in a temporary folder it removes', async () => {
    const state = mkdtempSync(join(tmpdir(), 'reproserver-cli-kept-'));
    const kept = await reproserver([
      'run',
      shell.rpz,
      '--out',
      outDir(),
      '--state',
      state
    ]);
    expect(kept.code).toBe(0);
    expect(existsSync(join(state, 'records.sqlite'))).toBe(true);
    expect(readdirSync(join(state, 'runs'))).toHaveLength(1);

    const temp = mkdtempSync(join(tmpdir(), 'reproserver-cli-tmp-'));
    const fresh = await reproserver(['run', shell.rpz, '--out', outDir()], {
      TMPDIR: temp
    });
    expect(fresh.code).toBe(0);
    expect(
      readdirSync(temp).filter(f => f.startsWith('reproserver-run-'))
    ).toEqual([]);
  });

  it('refuses a malformed package with the reader’s sentence', async () => {
    const bad = join(
      mkdtempSync(join(tmpdir(), 'reproserver-bad-')),
      'bad.rpz'
    );
    writeFileSync(bad, 'not a package at all');
    const result = await reproserver(['run', bad, '--out', outDir()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad\.rpz/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
