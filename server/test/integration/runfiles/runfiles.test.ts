/**
 * Run files (`.rpzrun`) through the real server, on the sandbox, with the reprozip-made
 * shell-pipeline example (`sh wordfreq.sh words.txt 3`): the panel's read of one (its package and
 * inputs as workspace paths), a run configured by it, and course mode — a locked field cannot be
 * changed through the API, an open one can.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  PackageSummary,
  RunFile,
  RunFileRecord,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import {
  CLI,
  startServer,
  type RunningServer
} from '../../helpers/server-process';
import { makeWorkspace } from '../api/workspace';

jest.setTimeout(120_000);

type Refusal = { error: { code: string; message: string } };

const EXERCISE: RunFile = {
  rpzrun: 1,
  title: 'Word frequencies',
  instructions: 'Change **how many** words are shown.',
  package: { path: '../packages/shell-pipeline.rpz' },
  edits: {
    inputs: [{ name: 'arg2', path: 'words.txt' }],
    limits: { timeoutSeconds: 60 }
  },
  open: [{ kind: 'arg', step: 0, index: 3 }]
};

describe('run files', () => {
  let server: RunningServer;
  let api: ApiClient;
  let pkg: PackageSummary;

  beforeAll(async () => {
    const workspace = makeWorkspace();
    mkdirSync(join(workspace.root, 'course'));
    writeFileSync(join(workspace.root, 'course', 'words.txt'), 'b a b c b a\n');
    writeFileSync(
      join(workspace.root, 'course', 'ex1.rpzrun'),
      JSON.stringify(EXERCISE)
    );
    writeFileSync(
      join(workspace.root, 'course', 'broken.rpzrun'),
      '{"rpzrun": 1,'
    );
    writeFileSync(
      join(workspace.root, 'course', 'escape.rpzrun'),
      JSON.stringify({ ...EXERCISE, package: { path: '../../outside.rpz' } })
    );
    server = await startServer({
      REPROSERVER_WORKSPACE: workspace.root,
      REPROSERVER_WEAK_ISOLATION: 'ask'
    });
    api = new ApiClient(server);
    pkg = (
      await api.call<PackageSummary>('POST', '/api/packages', {
        path: 'packages/shell-pipeline.rpz'
      })
    ).body;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('reads a run file as the panel opens it', async () => {
    const reply = await api.call<RunFileRecord>(
      'GET',
      '/api/runfiles?path=course/ex1.rpzrun'
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      path: 'course/ex1.rpzrun',
      runFile: EXERCISE,
      packagePath: 'packages/shell-pipeline.rpz',
      inputPaths: { arg2: 'course/words.txt' },
      locked: true
    });
  });

  it.each([
    ['course/broken.rpzrun', 400, 'bad-run-file', 'not valid JSON'],
    ['course/none.rpzrun', 404, 'not-found', 'does not exist'],
    ['course/escape.rpzrun', 400, 'bad-path', 'leaves the workspace'],
    ['../x.rpzrun', 400, 'bad-path', 'leaves the workspace']
  ])('refuses %s with %i %s', async (path, status, code, words) => {
    const reply = await api.call<Refusal>(
      'GET',
      `/api/runfiles?path=${encodeURIComponent(path)}`
    );
    expect(reply.status).toBe(status);
    expect(reply.body.error.code).toBe(code);
    expect(reply.body.error.message).toContain(words);
  });

  const asConfigured = {
    inputs: [
      {
        name: 'arg2',
        source: { kind: 'workspace', path: 'course/words.txt' }
      }
    ],
    limits: { timeoutSeconds: 60 }
  };

  it('runs with an open field changed', async () => {
    const reply = await api.call<RunRecord>('POST', '/api/runs', {
      package: pkg.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true,
      runFile: 'course/ex1.rpzrun',
      edits: {
        ...asConfigured,
        stepEdits: [{ step: 0, args: [{ index: 3, value: '1' }] }]
      }
    });
    expect(reply.status).toBe(202);
    const run = await api.waitForEnd(reply.body.id);
    expect(run.status).toBe('succeeded');
    const output = await api.call(
      'GET',
      `/api/runs/${run.id}/outputs/top-words.txt`
    );
    expect(output.text).toBe('b 3\n');
  });

  it.each([
    [
      'another input file',
      {
        ...asConfigured,
        inputs: [
          {
            name: 'arg2',
            source: { kind: 'workspace', path: 'other words.txt' }
          }
        ]
      },
      'input arg2'
    ],
    [
      'a longer time limit',
      { ...asConfigured, limits: {} },
      'limit timeoutSeconds'
    ],
    [
      'a locked argument',
      {
        ...asConfigured,
        stepEdits: [{ step: 0, args: [{ index: 1, value: 'other.sh' }] }]
      },
      'arg 0:1'
    ]
  ])('refuses %s (403 locked-field)', async (_, edits, field) => {
    const reply = await api.call<Refusal>('POST', '/api/runs', {
      package: pkg.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true,
      runFile: 'course/ex1.rpzrun',
      edits
    });
    expect(reply.status).toBe(403);
    expect(reply.body.error.code).toBe('locked-field');
    expect(reply.body.error.message).toContain(field);
  });

  it('refuses a run file made for another package (409)', async () => {
    const other = (
      await api.call<PackageSummary>('POST', '/api/packages', {
        path: 'packages/slow-printer.rpz'
      })
    ).body;
    const reply = await api.call<Refusal>('POST', '/api/runs', {
      package: other.sha256,
      runFile: 'course/ex1.rpzrun',
      edits: asConfigured
    });
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('run-file-mismatch');
  });

  describe('a sweep through a run file', () => {
    const sweep = (body: object) =>
      api.call<Refusal & { id: string; total: number }>('POST', '/api/sweeps', {
        package: pkg.sha256,
        backend: 'sandbox',
        acceptWeakIsolation: true,
        runFile: 'course/ex1.rpzrun',
        edits: asConfigured,
        ...body
      });
    const overArg = (index: number) => ({
      field: { kind: 'arg', step: 0, index },
      values: { kind: 'list', values: ['1', '2'] }
    });

    it('sweeps an open field', async () => {
      const reply = await sweep({ axes: [overArg(3)] });
      expect(reply.status).toBe(201);
      expect(reply.body.total).toBe(2);
      await api.call('POST', `/api/sweeps/${reply.body.id}/cancel`);
    });

    it.each([
      [
        'an axis over a locked argument',
        { axes: [overArg(1)] },
        'locks arg 0:1 (the package’s own, asked a sweep over it)'
      ],
      [
        'an axis over the locked input',
        {
          axes: [
            {
              field: { kind: 'input', name: 'arg2' },
              values: { kind: 'files', paths: ['other words.txt'] }
            }
          ]
        },
        'locks input arg2 ("workspace course/words.txt", asked a sweep over it)'
      ],
      [
        'a whole command line over an open argument',
        {
          axes: [
            {
              field: { kind: 'cmdline', step: 0 },
              values: { kind: 'list', values: ['sh wordfreq.sh words.txt 1'] }
            }
          ]
        },
        'locks cmdline 0'
      ],
      [
        'base edits changing a locked limit',
        { edits: { ...asConfigured, limits: {} }, axes: [overArg(3)] },
        'locks limit timeoutSeconds ("60", asked the package’s own)'
      ]
    ])('refuses %s (403 locked-field)', async (_, body, words) => {
      const before = (
        await api.call<{ sweeps: unknown[] }>('GET', '/api/sweeps')
      ).body.sweeps.length;
      const reply = await sweep(body);
      expect(reply.status).toBe(403);
      expect(reply.body.error.code).toBe('locked-field');
      expect(reply.body.error.message).toContain(
        `The run file "course/ex1.rpzrun" ${words}`
      );
      expect(reply.body.error.message).toContain(
        'change only the fields it opens, or run the package without the run file.'
      );
      // Nothing was created.
      expect(
        (await api.call<{ sweeps: unknown[] }>('GET', '/api/sweeps')).body
          .sweeps
      ).toHaveLength(before);
    });

    it('refuses a run file made for another package (409)', async () => {
      const other = (
        await api.call<PackageSummary>('POST', '/api/packages', {
          path: 'packages/slow-printer.rpz'
        })
      ).body;
      const reply = await sweep({ package: other.sha256, axes: [overArg(2)] });
      expect(reply.status).toBe(409);
      expect(reply.body.error.code).toBe('run-file-mismatch');
    });
  });
});

describe('reproserver run with a run file', () => {
  const folder = mkdtempSync(join(tmpdir(), 'reproserver-runfile-'));
  const exercise = join(folder, 'course', 'ex1.rpzrun');
  beforeAll(() => {
    mkdirSync(join(folder, 'packages'));
    mkdirSync(join(folder, 'course'));
    copyFileSync(
      example('shell-pipeline').rpz,
      join(folder, 'packages', 'shell-pipeline.rpz')
    );
    writeFileSync(join(folder, 'course', 'words.txt'), 'b a b c b a\n');
    writeFileSync(exercise, JSON.stringify(EXERCISE));
  });

  const run = (...flags: string[]) => {
    const out = join(mkdtempSync(join(folder, 'out-')), 'out');
    const result = spawnSync(
      process.execPath,
      [CLI, 'run', exercise, '--out', out, '--backend', 'sandbox', ...flags],
      {
        encoding: 'utf8',
        env: { ...process.env, REPROSERVER_WEAK_ISOLATION: 'ask' }
      }
    );
    return { ...result, out };
  };

  it('runs the package it names, with its input file and the open field changed', () => {
    const result = run('--allow-weak-isolation', '--arg', '0:3=2');
    expect(result.stderr).not.toContain('reproserver: ');
    expect(result.status).toBe(0);
    expect(readFileSync(join(result.out, 'top-words.txt'), 'utf8')).toBe(
      'b 3\na 2\n'
    );
  });

  it('refuses flags that change a locked field, with exit code 2', () => {
    const result = run('--allow-weak-isolation', '--arg', '0:1=x.sh');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('The run file locks arg 0:1');
  });
});
