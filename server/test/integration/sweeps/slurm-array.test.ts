/**
 * A sweep on the Slurm backend is job arrays, not a job per run (`service/runs/slurm-arrays.ts`):
 * the real server process, the real one-node cluster of `scripts/services/slurm.sh`, packages
 * made by the real reprozip. `formula` (`sh formula.sh X` prints `y=<X²+1>`) must give each
 * variant's own value from ONE array; `slow-printer` (`sh slow.sh N`, a line a second) runs long
 * enough to cancel one variant, the whole array, and to kill and restart the server while tasks
 * run and wait in Slurm's queue (PENDING: one task at a time).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  PackageSummary,
  RunRecord,
  SweepRecord
} from '../../../src/contract/wire';
import { arraysFolder } from '../../../src/backends/slurm/layout';
import { ApiClient } from '../../helpers/api-client';
import { reproserver } from '../../helpers/cli-process';
import { example } from '../../helpers/examples';
import { startServer } from '../../helpers/server-process';
import {
  heldBackSbatch,
  leftSlurmRuns,
  slurmShared,
  slurmTestShared
} from '../../helpers/slurm-run';
import { makeWorkspace } from '../api/workspace';

jest.setTimeout(120_000);

/** What the controller keeps of a sweep's arrays: each record's array, task and state. */
function arrayRecords(
  sweepId: string
): { array: string; task: string; state: string }[] {
  return execFileSync('scontrol', ['show', 'job', '-o'], {
    encoding: 'utf8',
    // Every job the controller keeps (MinJobAge: a day on the test cluster), ~1.5 KB each.
    maxBuffer: 256 * 1024 * 1024
  })
    .split('\n')
    .filter(line => line.includes(` JobName=reproserver-sweep-${sweepId} `))
    .map(line => ({
      array: /ArrayJobId=(\S+)/.exec(line)![1],
      task: /ArrayTaskId=(\S+)/.exec(line)![1],
      state: /JobState=(\S+)/.exec(line)![1]
    }));
}

async function serverWith(
  concurrency: number,
  workspace: string,
  from?: ApiClient,
  env: Record<string, string> = {}
): Promise<ApiClient> {
  return new ApiClient(
    await startServer(
      {
        REPROSERVER_WORKSPACE: workspace,
        REPROSERVER_SLURM_SHARED: slurmTestShared(),
        REPROSERVER_MAX_CONCURRENT_RUNS: String(concurrency),
        ...env
      },
      from
        ? { stateDir: from.server.stateDir, token: from.server.token }
        : undefined
    )
  );
}

async function register(api: ApiClient, name: string): Promise<string> {
  return (
    await api.call<PackageSummary>('POST', '/api/packages', {
      path: `packages/${name}.rpz`
    })
  ).body.sha256;
}

async function sweepOf(
  api: ApiClient,
  pkg: string,
  values: string[]
): Promise<SweepRecord> {
  const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
    package: pkg,
    axes: [
      {
        field: { kind: 'arg', step: 0, index: 2 },
        values: { kind: 'list', values }
      }
    ],
    backend: 'slurm'
  });
  expect(created.status).toBe(201);
  return created.body;
}

/** Polls the sweep until `done` says so (its runs all created, by default all ended). */
async function waitForSweep(
  api: ApiClient,
  id: string,
  done: (sweep: SweepRecord) => boolean = s =>
    s.ended && s.variants.length === s.total
): Promise<SweepRecord> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const sweep = (await api.call<SweepRecord>('GET', `/api/sweeps/${id}`))
      .body;
    if (sweep.variants.length === sweep.total && done(sweep)) {
      return sweep;
    }
    if (Date.now() > deadline) {
      throw new Error(`sweep ${id}: ${JSON.stringify(sweep.counts)}`);
    }
    await new Promise(resolve => setTimeout(resolve, 150));
  }
}

async function logText(api: ApiClient, runId: string): Promise<string> {
  const events = await api.follow(runId, 0);
  return events.messages
    .filter(m => m.event.type === 'log')
    .map(m => (m.event as { text: string }).text)
    .join('');
}

const counting = (n: number): string =>
  [
    `counting to ${n}`,
    ...Array.from({ length: n }, (_, i) => `tick ${i + 1}/${n}`),
    'done'
  ].join('\n') + '\n';

const { root: workspace } = makeWorkspace();

beforeAll(() => {
  slurmShared();
});

afterAll(() => {
  expect(leftSlurmRuns()).toEqual([]);
  const arrays = arraysFolder(slurmTestShared());
  expect(existsSync(arrays) ? readdirSync(arrays) : []).toEqual([]);
});

it('runs a sweep as ONE array, each task its variant’s run, outputs and metrics', async () => {
  const api = await serverWith(2, workspace);
  try {
    const pkg = await register(api, 'formula');
    await api.call('PUT', `/api/packages/${pkg}/metrics`, {
      metrics: [{ name: 'y', source: 'log-pair' }]
    });
    const X = [1, 2, 3, 4];
    const created = await sweepOf(api, pkg, X.map(String));
    const sweep = await waitForSweep(
      api,
      created.id,
      s => s.ended && s.variants.every(v => v.metrics.y !== null)
    );
    expect(sweep.counts).toEqual({ succeeded: 4 });
    expect(sweep.variants.map(v => v.metrics.y)).toEqual(X.map(x => x * x + 1));
    const records = arrayRecords(created.id);
    expect(new Set(records.map(r => r.array)).size).toBe(1);
    expect(records.map(r => r.task).sort()).toEqual(['0', '1', '2', '3']);
    expect(records.every(r => r.state === 'COMPLETED')).toBe(true);
    const runs = await Promise.all(
      sweep.variants.map(
        async v => (await api.call<RunRecord>('GET', `/api/runs/${v.run}`)).body
      )
    );
    for (const [i, run] of runs.entries()) {
      expect(run.backend).toBe('slurm');
      expect(run.outputs.map(o => o.name).sort()).toEqual([
        'result.json',
        'results.csv'
      ]);
      expect(await logText(api, run.id)).toContain(`y=${X[i] * X[i] + 1}\n`);
    }
  } finally {
    await api.server.stop();
  }
});

it('cancels one variant’s task, then the whole array at once', async () => {
  const api = await serverWith(2, workspace);
  try {
    const pkg = await register(api, 'slow-printer');
    const created = await sweepOf(api, pkg, ['30', '31', '32', '33']);
    const started = await waitForSweep(api, created.id, s =>
      s.variants.some(v => v.status === 'running')
    );
    // The last variant waits in Slurm's queue (two tasks at a time): only its task goes.
    const last = started.variants[3].run!;
    const one = await api.call<RunRecord>('POST', `/api/runs/${last}/cancel`);
    expect(one.body.status).toBe('cancelled');
    const records = arrayRecords(created.id);
    expect(records.some(r => r.state === 'RUNNING')).toBe(true);
    expect(records.filter(r => r.task === '3')).toEqual([]);
    // The sweep: one scancel of its array, then every run ends cancelled.
    const cancelled = await api.call<SweepRecord>(
      'POST',
      `/api/sweeps/${created.id}/cancel`
    );
    expect(cancelled.status).toBe(200);
    const ended = await waitForSweep(api, created.id);
    expect(ended.counts).toEqual({ cancelled: 4 });
    const after = arrayRecords(created.id);
    expect(after.filter(r => /PENDING|RUNNING/.test(r.state))).toEqual([]);
    expect(after.filter(r => r.state === 'CANCELLED').length).toBeGreaterThan(
      0
    );
  } finally {
    await api.server.stop();
  }
});

it('re-attaches to the array’s tasks after a restart; a PENDING one cancels', async () => {
  const first = await serverWith(1, workspace);
  const pkg = await register(first, 'slow-printer');
  const created = await sweepOf(first, pkg, ['3', '2', '5']);
  const running = await waitForSweep(first, created.id, s =>
    s.variants.some(v => v.status === 'running')
  );
  await first.follow(running.variants[0].run!, 0, (message, socket) => {
    const { event } = message;
    if (
      event.type === 'log' &&
      (event as { text: string }).text.includes('tick 1/')
    ) {
      socket.close();
    }
  });
  await first.server.stop('SIGKILL');
  // The tasks go on without a server: the first runs, the others wait their turn.
  const states = arrayRecords(created.id);
  expect(states.map(r => r.state).sort()).toEqual(['PENDING', 'RUNNING']);
  const second = await serverWith(1, workspace, first);
  try {
    const pending = running.variants[2].run!;
    const cancel = await second.call<RunRecord>(
      'POST',
      `/api/runs/${pending}/cancel`
    );
    expect(cancel.body.status).toBe('cancelled');
    const sweep = await waitForSweep(second, created.id);
    expect(sweep.variants.map(v => v.status)).toEqual([
      'succeeded',
      'succeeded',
      'cancelled'
    ]);
    expect(await logText(second, sweep.variants[0].run!)).toBe(counting(3));
    expect(await logText(second, sweep.variants[1].run!)).toBe(counting(2));
    // The cancelled task never ran.
    const records = arrayRecords(created.id);
    expect(records.filter(r => r.task === '2')).toEqual([]);
    expect(records.map(r => r.state)).toEqual(['COMPLETED', 'COMPLETED']);
  } finally {
    await second.server.stop();
  }
});

it('adopts an array whose sbatch answer was lost with the server, instead of submitting it twice', async () => {
  // The server is killed with the array in Slurm and no task id recorded.
  const bin = heldBackSbatch();
  const first = await serverWith(2, workspace, undefined, {
    PATH: `${bin}:${process.env.PATH}`
  });
  const pkg = await register(first, 'formula');
  await first.call('PUT', `/api/packages/${pkg}/metrics`, {
    metrics: [{ name: 'y', source: 'log-pair' }]
  });
  const X = [5, 6, 7];
  const created = await sweepOf(first, pkg, X.map(String));
  const deadline = Date.now() + 30_000;
  while (arrayRecords(created.id).length === 0) {
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  await first.server.stop('SIGKILL');
  const second = await serverWith(2, workspace, first);
  try {
    const sweep = await waitForSweep(
      second,
      created.id,
      s => s.ended && s.variants.every(v => v.metrics.y !== null)
    );
    expect(sweep.counts).toEqual({ succeeded: 3 });
    expect(sweep.variants.map(v => v.metrics.y)).toEqual(X.map(x => x * x + 1));
    // One array, each variant once: the one the first server submitted.
    const records = arrayRecords(created.id);
    expect(new Set(records.map(r => r.array)).size).toBe(1);
    expect(records.map(r => r.task).sort()).toEqual(['0', '1', '2']);
    for (const [i, variant] of sweep.variants.entries()) {
      const run = (
        await second.call<RunRecord>('GET', `/api/runs/${variant.run}`)
      ).body;
      expect(run.outputs.map(o => o.name).sort()).toEqual([
        'result.json',
        'results.csv'
      ]);
      expect(await logText(second, run.id)).toContain(`y=${X[i] * X[i] + 1}\n`);
    }
  } finally {
    await second.server.stop();
  }
});

describe('reproserver run|sweep --backend slurm', () => {
  const temp = mkdtempSync(join(tmpdir(), 'reproserver-slurm-cli-'));
  // A shared folder of its own: its arrays are told from the other tests'.
  const cliShared = join(slurmTestShared(), 'cli');
  mkdirSync(cliShared, { recursive: true });
  const onSlurm = { REPROSERVER_SLURM_SHARED: cliShared };

  it('runs a sweep as an array from the command line, through the same service', async () => {
    const result = await reproserver(
      [
        'sweep',
        example('formula').rpz,
        '--out',
        join(temp, 'sweep'),
        '--state',
        join(temp, 'state'),
        '--arg',
        '0:2=1:3',
        '--backend',
        'slurm',
        '--max-concurrent-runs',
        '2',
        '--metric',
        'y=log'
      ],
      onSlurm
    );
    expect(result.stderr).toMatch(/\[reproserver\] Slurm: 1 node up/);
    expect(result.code).toBe(0);
    const csv = readFileSync(join(temp, 'sweep', 'sweep.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map(line => line.split(','));
    expect(csv.map(row => [row[1], row[2], row[5]])).toEqual([
      ['1', 'succeeded', '2'],
      ['2', 'succeeded', '5'],
      ['3', 'succeeded', '10']
    ]);
    // One array of three tasks: the jobs whose folder is in this test's shared folder.
    const records = execFileSync('scontrol', ['show', 'job', '-o'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024
    })
      .split('\n')
      .filter(line => line.includes(` WorkDir=${cliShared}/slurm-arrays/`));
    expect(records).toHaveLength(3);
    expect(
      new Set(records.map(line => /ArrayJobId=(\d+)/.exec(line)?.[1])).size
    ).toBe(1);
    expect(readdirSync(join(cliShared, 'slurm-runs'))).toEqual([]);
    expect(readdirSync(join(cliShared, 'slurm-arrays'))).toEqual([]);
  });

  it('runs one package as a job; says what to set when Slurm is not configured', async () => {
    const ran = await reproserver(
      [
        'run',
        example('formula').rpz,
        '--out',
        join(temp, 'run'),
        '--arg',
        '0:2=7',
        '--backend',
        'slurm'
      ],
      onSlurm
    );
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('y=50\n');
    const refused = await reproserver(
      [
        'run',
        example('formula').rpz,
        '--out',
        join(temp, 'refused'),
        '--backend',
        'slurm'
      ],
      { REPROSERVER_SLURM_SHARED: '' }
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'reproserver: Slurm: no shared folder configured (set REPROSERVER_SLURM_SHARED to a folder the cluster’s nodes share with this host).\n'
    );
  });
});
