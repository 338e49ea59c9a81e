/**
 * Metrics end to end, on the sandbox backend, with `formula` (a package made by the real
 * reprozip: `sh formula.sh X` prints `y=<X²+1>` and `loss <100-X>`, writes results.csv with
 * `value` = i·X for i = 1..3 and result.json with `stats.values` = [X, X+1]). A sweep of X over
 * 1..4 must give exactly the formula's values, through the API (remembered per package,
 * extracted again when the list changes) and through `reproserver sweep --metric` (sweep.csv).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricSpec } from '../../../src/contract/schemas/metrics';
import type {
  PackageSummary,
  RunRecord,
  SweepRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer } from '../../helpers/server-process';
import { makeWorkspace } from '../api/workspace';
import { reproserver } from '../../helpers/cli-process';

jest.setTimeout(120_000);

const X = [1, 2, 3, 4];

const SPECS: MetricSpec[] = [
  { name: 'y', source: 'log-pair' },
  { name: 'loss', source: 'log-regex', pattern: 'loss (\\d+)' },
  {
    name: 'last_value',
    source: 'csv',
    output: 'results.csv',
    column: 'value',
    row: -1
  },
  {
    name: 'sum',
    source: 'csv',
    output: 'results.csv',
    column: 1,
    reduce: 'sum'
  },
  {
    name: 'next',
    source: 'json',
    output: 'result.json',
    path: 'stats.values[1]'
  },
  {
    name: 'by_path',
    source: 'json',
    output: '/tmp/reproserver-examples/formula/result.json',
    path: 'stats.double'
  }
];

const formula = (x: number) => ({
  y: x * x + 1,
  loss: 100 - x,
  last_value: 3 * x,
  sum: 6 * x,
  next: x + 1,
  by_path: 2 * x
});

/** Polls the sweep until its runs have ended and `done` says its rows are complete. */
async function waitForRows(
  api: ApiClient,
  id: string,
  done: (sweep: SweepRecord) => boolean
): Promise<SweepRecord> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const sweep = (await api.call<SweepRecord>('GET', `/api/sweeps/${id}`))
      .body;
    if (sweep.ended && sweep.variants.length === sweep.total && done(sweep)) {
      return sweep;
    }
    if (Date.now() > deadline) {
      throw new Error(`sweep ${id} not complete: ${JSON.stringify(sweep)}`);
    }
    await new Promise(resolve => setTimeout(resolve, 150));
  }
}

describe('metrics of a sweep through the API', () => {
  let api: ApiClient;

  beforeAll(async () => {
    const workspace = makeWorkspace();
    api = new ApiClient(
      await startServer({
        REPROSERVER_WORKSPACE: workspace.root,
        REPROSERVER_MAX_CONCURRENT_RUNS: '2'
      })
    );
  });

  afterAll(async () => {
    await api?.server.stop();
  });

  it('extracts each source and follows the formula; a changed list is extracted again', async () => {
    const pkg = (
      await api.call<PackageSummary>('POST', '/api/packages', {
        path: 'packages/formula.rpz'
      })
    ).body.sha256;
    const put = await api.call('PUT', `/api/packages/${pkg}/metrics`, {
      metrics: SPECS
    });
    expect(put.status).toBe(200);
    expect(
      (await api.call('GET', `/api/packages/${pkg}/metrics`)).body
    ).toEqual({
      metrics: SPECS
    });

    const created = await api.call<SweepRecord>('POST', '/api/sweeps', {
      package: pkg,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 2 },
          values: { kind: 'range', start: 1, stop: 4, step: 1 }
        }
      ],
      backend: 'sandbox',
      acceptWeakIsolation: true
    });
    expect(created.status).toBe(201);
    expect(created.body.metrics).toEqual(SPECS);

    const sweep = await waitForRows(api, created.body.id, s =>
      s.variants.every(v => v.metrics.y !== null)
    );
    expect(sweep.counts).toEqual({ succeeded: 4 });
    expect(sweep.variants.map(v => v.values[0])).toEqual(X.map(String));
    expect(sweep.variants.map(v => v.metrics)).toEqual(X.map(formula));
    const run = await api.call<RunRecord>(
      'GET',
      `/api/runs/${sweep.variants[2].run}`
    );
    expect(run.body.metrics).toEqual(formula(3));

    // A new list: the ended runs get its values in the background.
    const changed: MetricSpec[] = [
      { name: 'n', source: 'json', output: 'result.json', path: 'stats.n' },
      {
        name: 'count',
        source: 'csv',
        output: 'results.csv',
        column: 'value',
        reduce: 'count'
      },
      { name: 'absent', source: 'log-pair', key: 'z' }
    ];
    expect(
      (
        await api.call('PUT', `/api/packages/${pkg}/metrics`, {
          metrics: changed
        })
      ).status
    ).toBe(200);
    const again = await waitForRows(api, sweep.id, s =>
      s.variants.every(v => v.metrics.n !== null)
    );
    expect(again.metrics).toEqual(changed);
    expect(again.variants.map(v => v.metrics)).toEqual(
      X.map(x => ({ n: x, count: 3, absent: null }))
    );
  });
});

describe('reproserver sweep --metric', () => {
  it('writes a column per metric in sweep.csv, and remembers them in --state', async () => {
    const temp = mkdtempSync(join(tmpdir(), 'reproserver-metrics-'));
    const common = [
      '--state',
      join(temp, 'state'),
      '--arg',
      '0:2=1:4',
      '--backend',
      'sandbox',
      '--allow-weak-isolation',
      '--max-concurrent-runs',
      '2'
    ];
    const rpz = example('formula').rpz;
    const result = await reproserver([
      'sweep',
      rpz,
      '--out',
      join(temp, 'out'),
      ...common,
      '--metric',
      'y=log',
      '--metric',
      'loss=regex:loss (\\d+)',
      '--metric',
      'last=csv:results.csv:value:-1',
      '--metric',
      'mean=csv:results.csv:1:mean',
      '--metric',
      'next=json:result.json:stats.values[1]'
    ]);
    expect(result.stderr).not.toMatch(/reproserver: /);
    expect(result.code).toBe(0);
    const csv = readFileSync(join(temp, 'out', 'sweep.csv'), 'utf8')
      .trim()
      .split('\n')
      .map(line => line.split(','));
    expect(csv[0]).toEqual([
      'variant',
      'arg 0:2',
      'status',
      'exit_code',
      'duration_s',
      'y',
      'loss',
      'last',
      'mean',
      'next'
    ]);
    expect(csv.slice(1).map(row => [row[1], ...row.slice(5)])).toEqual(
      X.map(x => [x, x * x + 1, 100 - x, 3 * x, 2 * x, x + 1].map(String))
    );

    // The same state folder without --metric: the remembered ones.
    const second = await reproserver([
      'sweep',
      rpz,
      '--out',
      join(temp, 'out2'),
      ...common.slice(0, 2),
      '--arg',
      '0:2=7',
      '--backend',
      'sandbox',
      '--allow-weak-isolation'
    ]);
    expect(second.code).toBe(0);
    expect(readFileSync(join(temp, 'out2', 'sweep.csv'), 'utf8')).toMatch(
      /^variant,arg 0:2,status,exit_code,duration_s,y,loss,last,mean,next\nv001,7,succeeded,0,[\d.]+,50,93,21,14,8\n$/
    );
  });

  it('refuses a bad --metric with exit 2 and a sentence, before running anything', async () => {
    const temp = mkdtempSync(join(tmpdir(), 'reproserver-metrics-'));
    const result = await reproserver([
      'sweep',
      example('formula').rpz,
      '--out',
      join(temp, 'out'),
      '--arg',
      '0:2=1',
      '--metric',
      'r=regex:(a+)+b'
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Metric "r": The pattern .* repeats a group/);
    expect(result.stdout).toBe('');
  });
});
