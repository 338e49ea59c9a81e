/**
 * Sweeps end to end: the real server process and `reproserver sweep`, on the sandbox backend,
 * with packages made by the real reprozip. shell-pipeline (`sh wordfreq.sh words.txt N`) prints
 * and writes the N most frequent words, so each variant's output has as many lines as its value.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type {
  PackageSummary,
  RunEventMessage,
  RunRecord,
  SweepList,
  SweepRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer } from '../../helpers/server-process';
import { makeWorkspace } from '../api/workspace';
import { reproserver } from '../../helpers/cli-process';

jest.setTimeout(180_000);

const ON_SANDBOX = { backend: 'sandbox', acceptWeakIsolation: true };

async function serverWith(
  workspace: string,
  env: Record<string, string> = {},
  stateDir?: string,
  token?: string
): Promise<ApiClient> {
  const server = await startServer(
    {
      REPROSERVER_WORKSPACE: workspace,
      REPROSERVER_MAX_CONCURRENT_RUNS: '2',
      ...env
    },
    { stateDir, token }
  );
  return new ApiClient(server);
}

async function register(api: ApiClient, name: string): Promise<string> {
  const reply = await api.call<PackageSummary>('POST', '/api/packages', {
    path: `packages/${name}.rpz`
  });
  expect(reply.status).toBe(200);
  return reply.body.sha256;
}

/** Polls a sweep until every run of it has ended. */
async function waitForSweep(
  api: ApiClient,
  id: string,
  timeoutMs = 120_000
): Promise<SweepRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sweep = (await api.call<SweepRecord>('GET', `/api/sweeps/${id}`))
      .body;
    if (sweep.ended && sweep.variants.length === sweep.total) {
      return sweep;
    }
    if (Date.now() > deadline) {
      throw new Error(`sweep ${id} not ended: ${JSON.stringify(sweep.counts)}`);
    }
    await new Promise(resolve => setTimeout(resolve, 150));
  }
}

const lines = (text: string): string[] => text.trim().split('\n');

describe('sweeps through the API', () => {
  let api: ApiClient;
  let workspace: { root: string };
  let shell: string;

  beforeAll(async () => {
    workspace = makeWorkspace();
    mkdirSync(join(workspace.root, 'texts'));
    writeFileSync(join(workspace.root, 'texts', 'a.txt'), 'x y x z x y\n');
    writeFileSync(join(workspace.root, 'texts', 'b.txt'), 'k k k k\n');
    api = await serverWith(workspace.root);
    shell = await register(api, 'shell-pipeline');
  });

  afterAll(async () => {
    await api?.server.stop();
  });

  it('runs one variant per value, each through the normal run path', async () => {
    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: shell,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 3 },
          values: { kind: 'range', start: 1, stop: 3, step: 1 }
        }
      ],
      ...ON_SANDBOX
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      package: shell,
      packageName: 'shell-pipeline.rpz',
      combine: 'grid',
      backend: 'sandbox',
      total: 3,
      cancelledAt: null
    });
    expect(created.body.variants.map(v => [v.id, ...v.values])).toEqual([
      ['v001', '1'],
      ['v002', '2'],
      ['v003', '3']
    ]);
    const sweep = await waitForSweep(api, created.body.id);
    expect(sweep.counts).toEqual({ succeeded: 3 });
    for (const variant of sweep.variants) {
      expect(variant).toMatchObject({
        status: 'succeeded',
        exitCode: 0,
        durationMs: expect.any(Number)
      });
      const run = (await api.call<RunRecord>('GET', `/api/runs/${variant.run}`))
        .body;
      expect(run.sweep).toEqual({ id: sweep.id, variant: variant.id });
      expect(run.steps[0].argv).toEqual([
        'sh',
        'wordfreq.sh',
        'words.txt',
        variant.values[0]
      ]);
      const output = await api.call(
        'GET',
        `/api/runs/${variant.run}/outputs/top-words.txt`
      );
      expect(lines(output.text)).toHaveLength(Number(variant.values[0]));
    }
    const listed = await api.call<SweepList>(
      'GET',
      `/api/sweeps?package=${shell}`
    );
    expect(listed.body.sweeps[0]).toMatchObject({
      id: sweep.id,
      total: 3,
      ended: true,
      counts: { succeeded: 3 }
    });
    expect(listed.body.sweeps[0]).not.toHaveProperty('variants');
  });

  it('zips a workspace glob of inputs with an argument', async () => {
    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: shell,
      combine: 'zip',
      axes: [
        {
          field: { kind: 'input', name: 'arg2' },
          values: { kind: 'glob', pattern: 'texts/*.txt' }
        },
        {
          field: { kind: 'arg', step: 0, index: 3 },
          values: { kind: 'list', values: ['2', '1'] }
        }
      ],
      ...ON_SANDBOX
    });
    expect(created.status).toBe(201);
    expect(created.body.axes[0].values).toEqual({
      kind: 'files',
      paths: ['texts/a.txt', 'texts/b.txt']
    });
    const sweep = await waitForSweep(api, created.body.id);
    const outputs = await Promise.all(
      sweep.variants.map(
        async v =>
          (await api.call('GET', `/api/runs/${v.run}/outputs/top-words.txt`))
            .text
      )
    );
    expect(outputs).toEqual(['x 3\ny 2\n', 'k 4\n']);
  });

  it.each([
    ['no axes', { axes: [] }, 400, 'bad-sweep', /at least one axis/],
    [
      'an unknown field kind',
      {
        axes: [
          { field: { kind: 'stdin' }, values: { kind: 'list', values: ['1'] } }
        ]
      },
      400,
      'bad-sweep',
      /axes\[0\]\.field must be \{kind: 'arg', step, index\}/
    ],
    [
      'a huge range',
      {
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 3 },
            values: { kind: 'range', start: 0, stop: 1e12, step: 1 }
          }
        ]
      },
      422,
      'sweep-too-large',
      /more than 10000/
    ],
    [
      'an argument out of range',
      {
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 7 },
            values: { kind: 'list', values: ['1'] }
          }
        ]
      },
      400,
      'arg-out-of-range',
      /no argument 7/
    ],
    [
      'zipped axes of different lengths',
      {
        combine: 'zip',
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 3 },
            values: { kind: 'list', values: ['1', '2'] }
          },
          {
            field: { kind: 'env', step: 0, name: 'X' },
            values: { kind: 'list', values: ['1'] }
          }
        ]
      },
      400,
      'bad-sweep',
      /same number of values/
    ],
    [
      'a glob leaving the workspace',
      {
        axes: [
          {
            field: { kind: 'input', name: 'arg2' },
            values: { kind: 'glob', pattern: '../*' }
          }
        ]
      },
      400,
      'bad-path',
      /leaves the workspace/
    ],
    [
      'a glob through a link out of it',
      {
        axes: [
          {
            field: { kind: 'input', name: 'arg2' },
            values: { kind: 'glob', pattern: 'escape/*.txt' }
          }
        ]
      },
      403,
      'outside-workspace',
      /outside the workspace/
    ]
  ])(
    'refuses %s with its code and creates nothing',
    async (_, body, status, code, message) => {
      const before = (await api.call<SweepList>('GET', '/api/sweeps')).body
        .sweeps.length;
      const reply = await api.call<{
        error: { code: string; message: string };
      }>('POST', '/api/sweeps', { package: shell, ...ON_SANDBOX, ...body });
      expect(reply.status).toBe(status);
      expect(reply.body.error.code).toBe(code);
      expect(reply.body.error.message).toMatch(message);
      expect(
        (await api.call<SweepList>('GET', '/api/sweeps')).body.sweeps
      ).toHaveLength(before);
    }
  );

  it('answers 404 for an unknown sweep or package', async () => {
    expect((await api.call('GET', '/api/sweeps/nope')).status).toBe(404);
    expect((await api.call('POST', '/api/sweeps/nope/cancel')).status).toBe(
      404
    );
    const reply = await api.call<{ error: { code: string } }>(
      'POST',
      '/api/sweeps',
      {
        package: '0'.repeat(64),
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 3 },
            values: { kind: 'list', values: ['1'] }
          }
        ]
      }
    );
    expect(reply.status).toBe(404);
  });

  it('cancels every run of a sweep together', async () => {
    const slow = await register(api, 'slow-printer');
    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: slow,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 2 },
          values: { kind: 'list', values: ['60', '61', '62', '63'] }
        }
      ],
      ...ON_SANDBOX
    });
    expect(created.status).toBe(201);
    // Two run (the concurrency limit), two wait in the queue.
    const deadline = Date.now() + 60_000;
    let sweep = created.body;
    while ((sweep.counts.running ?? 0) < 2 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100));
      sweep = (await api.call<SweepRecord>('GET', `/api/sweeps/${sweep.id}`))
        .body;
    }
    expect(sweep.counts).toEqual({ running: 2, queued: 2 });
    const cancelled = await api.call<SweepRecord>(
      'POST',
      `/api/sweeps/${sweep.id}/cancel`
    );
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.cancelledAt).toEqual(expect.any(String));
    const ended = await waitForSweep(api, sweep.id, 30_000);
    expect(ended.counts).toEqual({ cancelled: 4 });
    const again = await api.call<{ error: { code: string } }>(
      'POST',
      `/api/sweeps/${sweep.id}/cancel`
    );
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already-ended');
  });

  it('answers only the rows changed since a revision (?since=), with the counts whole', async () => {
    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: shell,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 3 },
          values: { kind: 'list', values: ['1', '2', '3'] }
        }
      ],
      ...ON_SANDBOX
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const ended = await waitForSweep(api, id);
    const since = (revision: string) =>
      api.call<SweepRecord>(
        'GET',
        `/api/sweeps/${id}?since=${encodeURIComponent(revision)}`
      );

    // Every run started and ended after the sweep was created: every row changed since.
    const all = (await since(created.body.revision)).body;
    expect(all.incremental).toBe(true);
    expect(all.variants.map(v => [v.id, v.status])).toEqual([
      ['v001', 'succeeded'],
      ['v002', 'succeeded'],
      ['v003', 'succeeded']
    ]);
    // Nothing since the end: no row, and the sweep's counts as they are.
    const none = (await since(ended.revision)).body;
    expect(none).toMatchObject({
      incremental: true,
      variants: [],
      total: 3,
      counts: { succeeded: 3 },
      ended: true,
      revision: ended.revision
    });
    // One run deleted: only its row, now without a run.
    const deleted = await api.call(
      'DELETE',
      `/api/runs/${ended.variants[1].run}`
    );
    expect(deleted.status).toBeLessThan(300);
    const one = (await since(ended.revision)).body;
    expect(one.variants).toEqual([
      expect.objectContaining({ id: 'v002', run: null, status: null })
    ]);
    expect(one.counts).toEqual({ succeeded: 2, deleted: 1 });
    expect(one.revision).not.toBe(ended.revision);
    // Not a revision of this server (it restarted, say): every row, not incremental.
    const whole = (await since('0123456789abcdef.1')).body;
    expect(whole.incremental).toBeUndefined();
    expect(whole.variants.map(v => v.id)).toEqual(['v001', 'v002', 'v003']);
  });
});

describe('a sweep across a server restart', () => {
  it('has its runs created in the background, and a restarted server creates the rest, once each', async () => {
    const workspace = makeWorkspace();
    const first = await serverWith(workspace.root, {
      REPROSERVER_MAX_CONCURRENT_RUNS: '1'
    });
    const total = 400;
    let id: string;
    try {
      const slow = await register(first, 'slow-printer');
      const created = await first.call<SweepRecord>('POST', '/api/sweeps', {
        package: slow,
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 2 },
            values: {
              kind: 'range',
              start: 600,
              stop: 600 + total - 1,
              step: 1
            }
          }
        ],
        ...ON_SANDBOX
      });
      expect(created.status).toBe(201);
      id = created.body.id;
      // Answered with the first rows; the others come.
      expect(created.body).toMatchObject({
        total,
        creating: true,
        ended: false
      });
      expect(created.body.variants.length).toBeLessThan(total);
    } finally {
      await first.server.stop();
    }
    // Stopped in the middle: some variants have no run yet.
    const db = new DatabaseSync(join(first.server.stateDir, 'records.sqlite'), {
      readOnly: true
    });
    const { n } = db
      .prepare('SELECT count(*) AS n FROM sweep_runs WHERE sweep_id = ?')
      .get(id) as { n: number };
    db.close();
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(total);

    const second = await serverWith(
      workspace.root,
      { REPROSERVER_MAX_CONCURRENT_RUNS: '1' },
      first.server.stateDir,
      first.server.token
    );
    try {
      const deadline = Date.now() + 60_000;
      let sweep: SweepRecord;
      do {
        await new Promise(resolve => setTimeout(resolve, 200));
        sweep = (await second.call<SweepRecord>('GET', `/api/sweeps/${id}`))
          .body;
      } while (sweep.creating && Date.now() < deadline);
      expect(sweep.creating).toBe(false);
      expect(sweep.variants.map(v => v.id)).toEqual(
        Array.from(
          { length: total },
          (_, i) => `v${String(i + 1).padStart(3, '0')}`
        )
      );
      expect(new Set(sweep.variants.map(v => v.run)).size).toBe(total);
      const cancelled = await second.call<SweepRecord>(
        'POST',
        `/api/sweeps/${id}/cancel`
      );
      // The one executing when the first server stopped may have ended as interrupted.
      const {
        cancelled: n2 = 0,
        interrupted = 0,
        ...others
      } = cancelled.body.counts;
      expect(others).toEqual({});
      expect(interrupted).toBeLessThanOrEqual(1);
      expect(n2 + interrupted).toBe(total);
    } finally {
      await second.server.stop();
    }
  });

  it('refuses a sweep whose runs would pass the cap on runs not ended', async () => {
    const api = await serverWith(makeWorkspace().root, {
      REPROSERVER_MAX_QUEUED_RUNS: '3'
    });
    try {
      const shell = await register(api, 'shell-pipeline');
      const reply = await api.call<{
        error: { code: string; message: string };
      }>('POST', '/api/sweeps', {
        package: shell,
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 3 },
            values: { kind: 'range', start: 1, stop: 4, step: 1 }
          }
        ],
        ...ON_SANDBOX
      });
      expect(reply.status).toBe(429);
      expect(reply.body.error).toEqual({
        code: 'queue-full',
        message:
          'The server has 0 runs queued or running and takes at most 3, so not these 4; wait for some to end or cancel some.'
      });
      expect(
        (await api.call<SweepList>('GET', '/api/sweeps')).body.sweeps
      ).toEqual([]);
    } finally {
      await api.server.stop();
    }
  });

  it('goes on from its runs’ records: queued runs run, the executing one is interrupted', async () => {
    const workspace = makeWorkspace();
    const first = await serverWith(workspace.root, {
      REPROSERVER_MAX_CONCURRENT_RUNS: '1'
    });
    let id: string;
    try {
      const slow = await register(first, 'slow-printer');
      const created = await first.call<SweepRecord>('POST', '/api/sweeps', {
        package: slow,
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 2 },
            values: { kind: 'list', values: ['30', '1', '1'] }
          }
        ],
        ...ON_SANDBOX
      });
      expect(created.status).toBe(201);
      id = created.body.id;
      await first.call('GET', `/api/runs/${created.body.variants[0].run}`);
      const run = created.body.variants[0].run!;
      const deadline = Date.now() + 60_000;
      while (
        (await first.call<RunRecord>('GET', `/api/runs/${run}`)).body.status !==
          'running' &&
        Date.now() < deadline
      ) {
        await new Promise(resolve => setTimeout(resolve, 100));
      }
    } finally {
      await first.server.stop();
    }
    const second = await serverWith(
      workspace.root,
      {},
      first.server.stateDir,
      first.server.token
    );
    try {
      const sweep = await waitForSweep(second, id);
      expect(sweep.variants.map(v => [v.id, v.status])).toEqual([
        ['v001', 'interrupted'],
        ['v002', 'succeeded'],
        ['v003', 'succeeded']
      ]);
      expect(
        (await second.call<SweepList>('GET', '/api/sweeps')).body.sweeps.map(
          s => s.id
        )
      ).toEqual([id]);
    } finally {
      await second.server.stop();
    }
  });
});

/**
 * The essentials on each engine of the Docker backend: a sweep's outputs, its runs cancelled
 * together, and the package's one image made once and used by every variant.
 */
describe.each([
  ['Docker', 'DOCKER_SOCKET'],
  ['rootless Podman', 'PODMAN_SOCKET']
])('sweeps on %s', (_, variable) => {
  let api: ApiClient;
  let shell: string;
  const ON_DOCKER = { backend: 'docker' };

  beforeAll(async () => {
    const socket = process.env[variable];
    if (!socket) {
      throw new Error(
        `${variable} is not set: run these tests through ./reproserver-lab test`
      );
    }
    api = await serverWith(makeWorkspace().root, { DOCKER_SOCKET: socket });
    shell = await register(api, 'shell-pipeline');
  });

  afterAll(async () => {
    await api?.server.stop();
  });

  it('runs a 3-variant sweep on one image, each variant’s outputs its own', async () => {
    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: shell,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 3 },
          values: { kind: 'list', values: ['1', '2', '3'] }
        }
      ],
      ...ON_DOCKER
    });
    expect(created.status).toBe(201);
    expect(created.body.backend).toBe('docker');
    const sweep = await waitForSweep(api, created.body.id);
    expect(sweep.counts).toEqual({ succeeded: 3 });
    const images = new Set<string>();
    const built: string[] = [];
    for (const variant of sweep.variants) {
      const run = (await api.call<RunRecord>('GET', `/api/runs/${variant.run}`))
        .body;
      expect(run.sweep).toEqual({ id: sweep.id, variant: variant.id });
      images.add(run.image!);
      const output = await api.call(
        'GET',
        `/api/runs/${variant.run}/outputs/top-words.txt`
      );
      expect(lines(output.text)).toHaveLength(Number(variant.values[0]));
      // What each run was told about the image: made by a build it joined, or found ready.
      const events = (
        await api.call('GET', `/api/runs/${variant.run}/events`)
      ).text
        .trim()
        .split('\n')
        .map(line => (JSON.parse(line) as RunEventMessage).event);
      for (const event of events) {
        if (event.type === 'build' && event.build.type === 'result') {
          images.add(event.build.image);
          if (event.build.source !== 'local') {
            built.push(event.build.imageId);
          }
        }
      }
    }
    expect(images.size).toBe(1);
    // Made (built or pulled) at most once: runs that joined that build saw the same image.
    expect(new Set(built).size).toBeLessThanOrEqual(1);
  });

  it('cancels every run of a sweep together', async () => {
    const slow = await register(api, 'slow-printer');
    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: slow,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 2 },
          values: { kind: 'list', values: ['60', '61', '62'] }
        }
      ],
      ...ON_DOCKER
    });
    expect(created.status).toBe(201);
    const deadline = Date.now() + 60_000;
    let sweep = created.body;
    while ((sweep.counts.running ?? 0) < 2 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100));
      sweep = (await api.call<SweepRecord>('GET', `/api/sweeps/${sweep.id}`))
        .body;
    }
    expect(sweep.counts).toEqual({ running: 2, queued: 1 });
    const cancelled = await api.call<SweepRecord>(
      'POST',
      `/api/sweeps/${sweep.id}/cancel`
    );
    expect(cancelled.status).toBe(200);
    const ended = await waitForSweep(api, sweep.id, 30_000);
    expect(ended.counts).toEqual({ cancelled: 3 });
  });
});

describe('reproserver sweep', () => {
  const shell = example('shell-pipeline');

  it('writes DIR/<variant>/ as run --out does, and sweep.csv', async () => {
    const temp = mkdtempSync(join(tmpdir(), 'reproserver-sweep-'));
    const out = join(temp, 'out');
    const result = await reproserver([
      'sweep',
      shell.rpz,
      '--out',
      out,
      '--state',
      join(temp, 'state'),
      '--arg',
      '0:3=1:3',
      '--env',
      '0:NOTE=a\\,b',
      '--backend',
      'sandbox',
      '--allow-weak-isolation',
      '--max-concurrent-runs',
      '3'
    ]);
    expect(result.stderr).not.toMatch(/reproserver: /);
    expect(result.code).toBe(0);
    // A fresh state folder: the package is unpacked once, for all its runs.
    expect(
      result.stderr.match(/\[reproserver\] unpacked \d+ files/g)
    ).toHaveLength(1);
    expect(lines(result.stdout)[0]).toMatch(
      /^3 runs \(grid: arg 0:3 × env 0:NOTE\)/
    );
    expect(result.stdout).toMatch(
      /^v002 succeeded \(exit 0\) in [\d.]+ s: arg 0:3=2 env 0:NOTE=a,b$/m
    );
    expect(readdirSync(out).sort()).toEqual([
      'sweep.csv',
      'v001',
      'v002',
      'v003'
    ]);
    for (const n of [1, 2, 3]) {
      const folder = join(out, `v00${n}`);
      expect(
        lines(readFileSync(join(folder, 'top-words.txt'), 'utf8'))
      ).toHaveLength(n);
      const record = JSON.parse(readFileSync(join(folder, 'run.json'), 'utf8'));
      expect(record).toMatchObject({
        status: 'succeeded',
        backend: 'sandbox',
        edits: {
          stepEdits: [
            {
              step: 0,
              args: [{ index: 3, value: String(n) }],
              setEnv: { NOTE: 'a,b' }
            }
          ]
        },
        outputs: [{ name: 'top-words.txt', file: 'top-words.txt' }]
      });
    }
    const csv = lines(readFileSync(join(out, 'sweep.csv'), 'utf8'));
    expect(csv[0]).toBe(
      'variant,arg 0:3,env 0:NOTE,status,exit_code,duration_s'
    );
    expect(csv.slice(1)).toEqual([
      expect.stringMatching(/^v001,1,"a,b",succeeded,0,\d+\.\d{3}$/),
      expect.stringMatching(/^v002,2,"a,b",succeeded,0,\d+\.\d{3}$/),
      expect.stringMatching(/^v003,3,"a,b",succeeded,0,\d+\.\d{3}$/)
    ]);
  });

  it('refuses bad values with exit 2 and the usage, before running anything', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'reproserver-sweep-')), 'out');
    const result = await reproserver([
      'sweep',
      shell.rpz,
      '--out',
      out,
      '--arg',
      '0:3=1:0:1'
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /moves away from its stop; use a negative step/
    );
    expect(result.stderr).toContain('Usage: reproserver sweep PACKAGE');
    expect(result.stdout).toBe('');
  });
});
