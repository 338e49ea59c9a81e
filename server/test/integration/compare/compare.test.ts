/**
 * Comparisons and the determinism check end to end, on the sandbox backend, with packages made
 * by the real reprozip: the real server process (API) and the real CLI. shell-pipeline
 * (`sh wordfreq.sh words.txt N`) writes the N most frequent words, so two runs with N = 2 and 3
 * differ by one line; nondeterministic writes stable.txt (always the same), stamp.txt (the
 * clock) and plot.svg (a random point seeded from the clock).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  CompareSummary,
  DeterminismCheck,
  DeterminismList,
  OutputDetail,
  PackageSummary,
  RunRecord,
  TextDiff
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer } from '../../helpers/server-process';
import { makeWorkspace } from '../api/workspace';
import { reproserver } from '../../helpers/cli-process';

jest.setTimeout(120_000);

const ON_SANDBOX = { backend: 'sandbox', acceptWeakIsolation: true };

describe('comparisons and the determinism check through the API', () => {
  let api: ApiClient;
  let shell: string;
  let random: string;

  const register = async (name: string) =>
    (
      await api.call<PackageSummary>('POST', '/api/packages', {
        path: `packages/${name}.rpz`
      })
    ).body.sha256;

  async function runWithTop(n: string): Promise<RunRecord> {
    const created = await api.call<RunRecord>('POST', '/api/runs', {
      package: shell,
      edits: { stepEdits: [{ step: 0, args: [{ index: 3, value: n }] }] },
      ...ON_SANDBOX
    });
    expect(created.status).toBe(202);
    return api.waitForEnd(created.body.id);
  }

  async function waitForCheck(id: string): Promise<DeterminismCheck> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const check = (
        await api.call<DeterminismCheck>('GET', `/api/determinism/${id}`)
      ).body;
      if (check.state !== 'running' || Date.now() > deadline) {
        return check;
      }
      await new Promise(resolve => setTimeout(resolve, 200));
    }
  }

  beforeAll(async () => {
    const workspace = makeWorkspace();
    api = new ApiClient(
      await startServer({
        REPROSERVER_WORKSPACE: workspace.root,
        REPROSERVER_MAX_CONCURRENT_RUNS: '2'
      })
    );
    shell = await register('shell-pipeline');
    random = await register('nondeterministic');
  });

  afterAll(async () => {
    await api?.server.stop();
  });

  it('compares two runs with different arguments: the edit, the changed output, the log', async () => {
    const [two, three] = await Promise.all([runWithTop('2'), runWithTop('3')]);
    expect([two.status, three.status]).toEqual(['succeeded', 'succeeded']);
    const query = `a=${two.id}&b=${three.id}`;

    const summary = await api.call<CompareSummary>(
      'GET',
      `/api/compare?${query}`
    );
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({
      a: two.id,
      b: three.id,
      identical: false,
      truncated: false,
      differences: [
        {
          field: 'step 0 argv',
          a: 'sh wordfreq.sh words.txt 2',
          b: 'sh wordfreq.sh words.txt 3'
        }
      ]
    });
    const top = summary.body.outputs.find(o => o.name === 'top-words.txt')!;
    expect(top).toMatchObject({ state: 'changed', view: 'text' });
    // Other files the runs wrote are compared too, and those are identical.
    for (const output of summary.body.outputs.filter(o => o !== top)) {
      expect(output.state).toBe('identical');
    }

    const detail = await api.call<OutputDetail>(
      'GET',
      `/api/compare/output?${query}&name=top-words.txt`
    );
    expect(detail.body.text).toEqual({
      diff: `--- ${two.id}/top-words.txt\n+++ ${three.id}/top-words.txt\n@@ -1,2 +1,3 @@\n the 7\n fox 4\n+dog 3\n`,
      added: 1,
      removed: 0,
      tooLarge: null
    });

    const log = await api.call<TextDiff>('GET', `/api/compare/log?${query}`);
    expect(log.body.diff).toBe(
      [
        `--- ${two.id}/log`,
        `+++ ${three.id}/log`,
        '@@ -1,5 +1,6 @@',
        '-$ sh wordfreq.sh words.txt 2',
        '-top 2 words in words.txt:',
        '+$ sh wordfreq.sh words.txt 3',
        '+top 3 words in words.txt:',
        ' the 7',
        ' fox 4',
        '+dog 3',
        ' (step 0 exited with 0)',
        ''
      ].join('\n')
    );

    // The same run against itself: identical, nothing separates them.
    const self = await api.call<CompareSummary>(
      'GET',
      `/api/compare?a=${two.id}&b=${two.id}`
    );
    expect(self.body).toMatchObject({ identical: true, differences: [] });

    // The CLI compares the same runs by their ids in the server's state folder.
    const cli = await reproserver([
      'diff',
      two.id,
      three.id,
      '--state',
      api.server.stateDir
    ]);
    // The whole result, so that a failure shows what the command said.
    expect(cli).toMatchObject({ code: 1 });
    expect(cli.stdout).toContain('  changed    top-words.txt\n');
    expect(cli.stdout).toContain('== log\n');
    expect(
      (
        await reproserver([
          'diff',
          two.id,
          'nosuchrun',
          '--state',
          api.server.stateDir
        ])
      ).code
    ).toBe(2);

    // Refusals, each with its code and status from the one table.
    const image = await api.call(
      'GET',
      `/api/compare/image?${query}&name=top-words.txt`
    );
    expect(image.status).toBe(409);
    expect(image.body).toMatchObject({ error: { code: 'not-comparable' } });
    expect(
      (await api.call('GET', `/api/compare?a=${two.id}`)).body
    ).toMatchObject({
      error: { code: 'bad-request' }
    });
    expect(
      (await api.call('GET', `/api/compare?a=${two.id}&b=nosuchrun`)).status
    ).toBe(404);
    expect(
      (await api.call('GET', `/api/compare/output?${query}&name=nothing.txt`))
        .status
    ).toBe(404);
  });

  it('flags exactly the outputs that vary between two identical runs', async () => {
    const started = await api.call<DeterminismCheck>(
      'POST',
      `/api/packages/${random}/determinism`,
      ON_SANDBOX
    );
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      package: random,
      backends: ['sandbox', 'sandbox'],
      state: 'running'
    });
    expect(started.body.runs).toHaveLength(2);
    const check = await waitForCheck(started.body.id);
    expect(check.state).toBe('varies');
    // Exactly the outputs the recipe says vary (scripts/examples/nondeterministic).
    const varying = example('nondeterministic').manifest.varying_outputs!;
    expect([...check.varying].sort()).toEqual([...varying].sort());
    expect(varying.sort()).toEqual(['plot.svg', 'stamp.txt']);
    expect(check.outputs.find(o => o.name === 'stable.txt')).toMatchObject({
      state: 'identical'
    });
    expect(check.outputs.find(o => o.name === 'plot.svg')).toMatchObject({
      state: 'changed',
      view: 'svg'
    });

    // The diff of what varies.
    const [a, b] = check.runs;
    const stamp = await api.call<OutputDetail>(
      'GET',
      `/api/compare/output?a=${a}&b=${b}&name=stamp.txt`
    );
    expect(stamp.body.text!.diff).toMatch(
      /^-written at \d+\.\d+\n\+written at \d+\.\d+\n$/m
    );

    // A deterministic package, the same way: identical.
    const other = await api.call<DeterminismCheck>(
      'POST',
      `/api/packages/${shell}/determinism`,
      ON_SANDBOX
    );
    const same = await waitForCheck(other.body.id);
    expect(same).toMatchObject({
      state: 'identical',
      varying: [],
      reason: null
    });

    // Remembered per package and backend.
    const remembered = await api.call<DeterminismList>(
      'GET',
      `/api/packages/${random}/determinism`
    );
    expect(remembered.body.checks).toHaveLength(1);
    expect(remembered.body.checks[0]).toMatchObject({
      id: check.id,
      state: 'varies',
      varying: check.varying
    });
    expect(
      (
        await api.call('POST', `/api/packages/${random}/determinism`, {
          backend: 'sandbox',
          backends: ['docker', 'sandbox']
        })
      ).body
    ).toMatchObject({ error: { code: 'bad-backend' } });
  });
});

describe('reproserver diff and check-determinism', () => {
  const shell = example('shell-pipeline');

  async function runTo(n: string): Promise<string> {
    const out = join(mkdtempSync(join(tmpdir(), 'reproserver-diff-')), 'out');
    const result = await reproserver([
      'run',
      shell.rpz,
      '--out',
      out,
      '--arg',
      `0:3=${n}`,
      '--backend',
      'sandbox',
      '--allow-weak-isolation'
    ]);
    expect(result).toMatchObject({ code: 0 });
    return out;
  }

  it('compares two output folders, exit code as diff(1)', async () => {
    const [two, three] = await Promise.all([runTo('2'), runTo('3')]);
    const different = await reproserver(['diff', two, three]);
    expect(different).toMatchObject({ code: 1 });
    expect(different.stdout).toContain(
      'Edits that separate the runs:\n  step 0 argv: sh wordfreq.sh words.txt 2 -> sh wordfreq.sh words.txt 3\n'
    );
    expect(different.stdout).toContain('  changed    top-words.txt\n');
    expect(different.stdout).toContain(
      '@@ -1,2 +1,3 @@\n the 7\n fox 4\n+dog 3\n'
    );

    const same = await reproserver(['diff', two, two]);
    expect(same).toMatchObject({ code: 0 });
    expect(same.stdout).toContain('  identical  top-words.txt\n');

    const usage = await reproserver(['diff', two]);
    expect(usage.code).toBe(2);
    expect((await reproserver(['diff', '--help'])).stdout).toContain(
      'reproserver diff RUN_A RUN_B'
    );
  });

  it('checks determinism from the command line', async () => {
    const result = await reproserver([
      'check-determinism',
      example('nondeterministic').rpz,
      '--backend',
      'sandbox',
      '--allow-weak-isolation'
    ]);
    expect(result).toMatchObject({ code: 1 });
    expect(result.stdout).toMatch(
      /^(stamp\.txt, plot\.svg|plot\.svg, stamp\.txt) differ between identical runs\.\n/
    );
    expect(result.stdout).toContain('  identical  stable.txt\n');
    expect(result.stdout).toMatch(
      /-written at \d+\.\d+\n\+written at \d+\.\d+\n/
    );
  });
});
