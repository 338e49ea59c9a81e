/**
 * Package metrics through the real routes and MetricService, over real records (SQLite in
 * memory), a real blob store and real event logs: the routes' refusals, values extracted when a
 * run ends and again when the package's list changes, and the sweep and run records filled.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sendError } from '../../../src/api/respond';
import { apiRoutes, type Services } from '../../../src/api/routes';
import type { MetricSpec } from '../../../src/contract/schemas/metrics';
import type { PackageModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { MetricService } from '../../../src/service/metrics';
import { toWire } from '../../../src/service/runs/wire';
import { sweepToWire } from '../../../src/service/sweeps/wire';
import { EventLogs, FsBlobStore } from '../../../src/store';
import { Records } from '../../../src/store/records';

const sha = 'ab'.repeat(32);

class RecordedResponse {
  status = 0;
  text = '';
  headersSent = false;
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  end(text = ''): this {
    this.text += text;
    return this;
  }
  destroy(): void {
    throw new Error('The response was destroyed.');
  }
  get body(): {
    metrics?: unknown;
    error: { code: string; message: string };
  } {
    return JSON.parse(this.text) as {
      metrics?: unknown;
      error: { code: string; message: string };
    };
  }
}

async function call(
  services: Partial<Services>,
  method: string,
  path: string,
  body?: unknown
): Promise<RecordedResponse> {
  const router = apiRoutes(services as Services, Date.now());
  const text =
    body === undefined
      ? ''
      : typeof body === 'string'
        ? body
        : JSON.stringify(body);
  const request = Object.assign(Readable.from([Buffer.from(text)]), {
    method,
    headers: { 'content-length': String(Buffer.byteLength(text)) }
  }) as unknown as IncomingMessage;
  const response = new RecordedResponse();
  const serverResponse = response as unknown as ServerResponse;
  try {
    const url = new URL(path, 'http://server');
    const { handler, params } = router.resolve(method, url.pathname);
    await handler({ request, response: serverResponse, params, url });
  } catch (error) {
    sendError(serverResponse, error);
  }
  return response;
}

function setUp() {
  const root = mkdtempSync(join(tmpdir(), 'metric-service-'));
  const records = Records.open(':memory:');
  records.putPackage({
    sha256: sha,
    name: 'p.rpz',
    size: 1,
    model: { runs: [] } as unknown as PackageModel,
    source: { kind: 'blob' }
  });
  const blobs = new FsBlobStore(join(root, 'blobs'));
  const logs = new EventLogs(join(root, 'runs'), { fsync: 'never' });
  const metrics = new MetricService({ records, blobs, logs });
  return { records, blobs, logs, metrics };
}

/** A run that printed `y=<y>` and wrote `out.json` with `{"y": y}`, ended. */
async function endedRun(
  { records, blobs, logs }: ReturnType<typeof setUp>,
  y: number,
  sweep?: { sweepId: string; variant: string; position: number }
): Promise<string> {
  const run = records.createRun({
    packageSha256: sha,
    edits: {},
    limits: DEFAULT_LIMITS,
    sweep: sweep && { ...sweep, values: [String(y)] }
  });
  await logs.append(run.id, {
    type: 'log',
    time: 1,
    step: 0,
    stream: 'stdout',
    text: `y=${y}\n`
  });
  await logs.close(run.id);
  const body = Buffer.from(JSON.stringify({ y }));
  const { sha256, size } = await blobs.put(Readable.from([body]));
  records.addOutput(run.id, {
    name: 'result',
    path: '/exp/out.json',
    kind: 'declared',
    size,
    sha256,
    uid: 0,
    gid: 0,
    mode: 0o644
  });
  records.updateStatus(run.id, 'succeeded');
  return run.id;
}

describe('GET and PUT /api/packages/{sha256}/metrics', () => {
  it('answers none for a package without metrics, and not-found for an unknown one', async () => {
    const { metrics } = setUp();
    const empty = await call(
      { metrics },
      'GET',
      `/api/packages/${sha}/metrics`
    );
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ metrics: [] });
    const unknown = await call(
      { metrics },
      'GET',
      `/api/packages/${'0'.repeat(64)}/metrics`
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not-found');
    const put = await call(
      { metrics },
      'PUT',
      `/api/packages/${'0'.repeat(64)}/metrics`,
      { metrics: [] }
    );
    expect(put.status).toBe(404);
  });

  it.each([
    ['a body that is no list', { metrics: 'acc' }, /metrics/],
    [
      'an unknown source',
      { metrics: [{ name: 'a', source: 'xml' }] },
      /log-pair/
    ],
    [
      'a bad name',
      { metrics: [{ name: '1 bad', source: 'log-pair' }] },
      /name/
    ],
    [
      'two metrics with one name',
      {
        metrics: [
          { name: 'a', source: 'log-pair' },
          { name: 'a', source: 'log-pair' }
        ]
      },
      /^Two metrics are named "a"; give each its own name\.$/
    ],
    [
      'a regex that does not compile',
      { metrics: [{ name: 'r', source: 'log-regex', pattern: '[' }] },
      /is not a regular expression/
    ],
    [
      'nested quantifiers',
      { metrics: [{ name: 'r', source: 'log-regex', pattern: '(x+)*y' }] },
      /repeats a group that itself repeats/
    ],
    [
      'too many metrics',
      {
        metrics: Array.from({ length: 33 }, (_, i) => ({
          name: `m${i}`,
          source: 'log-pair'
        }))
      },
      /.+/
    ]
  ])(
    'refuses %s: 400 bad-metric with a sentence',
    async (_what, body, message) => {
      const { metrics } = setUp();
      const response = await call(
        { metrics },
        'PUT',
        `/api/packages/${sha}/metrics`,
        body
      );
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('bad-metric');
      expect(response.body.error.message).toMatch(message);
      const after = await call(
        { metrics },
        'GET',
        `/api/packages/${sha}/metrics`
      );
      expect(after.body).toEqual({ metrics: [] });
    }
  );

  it('remembers a good list and answers it', async () => {
    const { metrics } = setUp();
    const list = {
      metrics: [
        { name: 'y', source: 'log-pair' },
        { name: 'jy', source: 'json', output: 'result', path: 'y' }
      ]
    };
    const put = await call(
      { metrics },
      'PUT',
      `/api/packages/${sha}/metrics`,
      list
    );
    expect(put.status).toBe(200);
    expect(put.body).toEqual(list);
    const get = await call({ metrics }, 'GET', `/api/packages/${sha}/metrics`);
    expect(get.body).toEqual(list);
  });
});

describe('values', () => {
  const specs: MetricSpec[] = [
    { name: 'y', source: 'log-pair' },
    { name: 'jy', source: 'json', output: '/exp/out.json', path: 'y' }
  ];

  it('are extracted for ended runs when the list changes, and for a run when it ends', async () => {
    const context = setUp();
    const { records, metrics } = context;
    const sweep = records.sweeps.create({
      id: 'sw1',
      packageSha256: sha,
      spec: { package: sha, axes: [] },
      combine: 'grid',
      variants: 2,
      backend: 'sandbox'
    });
    const first = await endedRun(context, 3, {
      sweepId: sweep.id,
      variant: 'v001',
      position: 0
    });
    metrics.set(sha, { metrics: specs });
    await metrics.idle();
    expect(toWire(records, records.getRun(first)!).metrics).toEqual({
      y: 3,
      jy: 3
    });

    const second = await endedRun(context, 5, {
      sweepId: sweep.id,
      variant: 'v002',
      position: 1
    });
    expect(toWire(records, records.getRun(second)!).metrics).toEqual({
      y: null,
      jy: null
    });
    metrics.runEnded(second);
    await metrics.idle();
    const wire = sweepToWire(
      records,
      records.sweeps.get(sweep.id)!,
      records.sweeps.variants(sweep.id),
      { revision: '0123456789abcdef.1' }
    );
    expect(wire.metrics).toEqual(specs);
    expect(wire.variants.map(v => v.metrics)).toEqual([
      { y: 3, jy: 3 },
      { y: 5, jy: 5 }
    ]);
  });

  it('never show a value under a changed spec until it is extracted again', async () => {
    const context = setUp();
    const { records, metrics } = context;
    const run = await endedRun(context, 4);
    metrics.set(sha, { metrics: [{ name: 'y', source: 'log-pair' }] });
    await metrics.idle();
    expect(records.metrics.valuesOf(run, records.metrics.specsOf(sha))).toEqual(
      {
        y: 4
      }
    );
    const changed: MetricSpec[] = [{ name: 'y', source: 'log-pair', key: 'z' }];
    records.metrics.setSpecs(sha, changed);
    expect(records.metrics.valuesOf(run, changed)).toEqual({ y: null });
    metrics.set(sha, {
      metrics: [{ name: 'y', source: 'json', output: 'result', path: 'y' }]
    });
    await metrics.idle();
    expect(records.metrics.valuesOf(run, records.metrics.specsOf(sha))).toEqual(
      {
        y: 4
      }
    );
    // The old spec's value was dropped.
    expect(records.metrics.storedKeys(run).size).toBe(1);
  });

  it('are extracted after a restart for runs that ended without them', async () => {
    const context = setUp();
    const { records } = context;
    const run = await endedRun(context, 6);
    // Remembered, but the process stopped before extracting anything.
    records.metrics.setSpecs(sha, specs);
    const restarted = new MetricService(context);
    restarted.resume();
    await restarted.idle();
    expect(records.metrics.valuesOf(run, specs)).toEqual({ y: 6, jy: 6 });
  });

  it('are dropped with their run', async () => {
    const context = setUp();
    const { records, metrics } = context;
    const run = await endedRun(context, 1);
    metrics.set(sha, { metrics: specs });
    await metrics.idle();
    expect(records.metrics.storedKeys(run).size).toBe(2);
    records.deleteRun(run);
    expect(records.metrics.storedKeys(run).size).toBe(0);
  });
});
