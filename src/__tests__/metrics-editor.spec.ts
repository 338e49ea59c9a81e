import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type {
  CompareSummary,
  MetricList,
  SweepRecord,
  SweepVariantRow
} from 'reproserver/contract';
import { ReproServerError, type ReproServerClient } from '../api/client';
import { PackageSession } from '../model/package';
import { describeMetric, metricFromForm } from '../panel/metrics-editor';
import { RpzPanel } from '../panel/panel';
import { SweepSession } from '../sweep/session';
import { SHA, packageDetails, runRecord } from './fixtures';

const trans = nullTranslator.load('jupyterlab_reproserver');

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

function row(overrides: Partial<SweepVariantRow>): SweepVariantRow {
  return {
    id: 'v001',
    values: ['1'],
    run: 'r1',
    status: 'succeeded',
    exitCode: 0,
    durationMs: 1000,
    metrics: {},
    ...overrides
  };
}

function sweepRecord(overrides: Partial<SweepRecord> = {}): SweepRecord {
  return {
    id: 's1',
    package: SHA,
    packageName: 'shell-pipeline.rpz',
    combine: 'grid',
    axes: [
      {
        field: { kind: 'arg', step: 0, index: 3 },
        values: { kind: 'list', values: ['1', '2', '3'] }
      }
    ],
    backend: 'sandbox',
    createdAt: '2026-11-30T10:00:00.000Z',
    cancelledAt: null,
    total: 3,
    counts: { succeeded: 3 },
    ended: true,
    edits: {},
    metrics: [{ name: 'words', source: 'log-pair' }],
    revision: '0123456789abcdef.1',
    variants: [
      row({ id: 'v001', values: ['1'], run: 'r1', metrics: { words: 10 } }),
      row({ id: 'v002', values: ['2'], run: 'r2', metrics: { words: 20 } }),
      row({ id: 'v003', values: ['3'], run: 'r3', metrics: { words: 30 } })
    ],
    ...overrides
  };
}

const summary: CompareSummary = {
  a: 'r1',
  b: 'r3',
  identical: false,
  truncated: false,
  differences: [{ field: 'step 0 argument 3', a: '1', b: '3' }],
  outputs: [
    {
      name: 'top-words.txt',
      state: 'changed',
      view: 'text',
      a: { size: 4, sha256: 'b'.repeat(64) },
      b: { size: 6, sha256: 'c'.repeat(64) }
    }
  ]
};

/** The server as the Sweep tab sees it, remembering the metrics it is given. */
function fakeClient(record: SweepRecord) {
  const puts: MetricList[] = [];
  const server = {
    remembered: {
      metrics: [{ name: 'words', source: 'log-pair' }]
    } as MetricList,
    refuse: null as string | null
  };
  return {
    puts,
    server,
    backends: jest.fn(async () => ({
      backends: [
        { name: 'docker', available: true, detail: 'Docker', isolation: null }
      ],
      default: 'docker',
      weakIsolation: 'ask'
    })),
    version: jest.fn(async () => {
      throw new Error('no version');
    }),
    registerPackage: jest.fn(async () => ({ sha256: SHA })),
    getPackage: jest.fn(async () => packageDetails()),
    listRuns: jest.fn(async () => ({ runs: [] })),
    getRun: jest.fn(async (id: string) =>
      runRecord({ id, status: 'succeeded' })
    ),
    openEvents: () => ({
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      close: () => undefined
    }),
    createSweep: jest.fn(async () => record),
    listSweeps: jest.fn(async () => ({ sweeps: [record] })),
    getSweep: jest.fn(async () => record),
    cancelSweep: jest.fn(async () => record),
    listDeterminism: jest.fn(async () => ({ checks: [] })),
    compareRuns: jest.fn(async () => summary),
    packageMetrics: jest.fn(async (sha: string) => {
      expect(sha).toBe(SHA);
      return server.remembered;
    }),
    setPackageMetrics: jest.fn(async (sha: string, list: MetricList) => {
      expect(sha).toBe(SHA);
      puts.push(JSON.parse(JSON.stringify(list)));
      if (server.refuse) {
        throw new ReproServerError(server.refuse, 'bad-metric', 400);
      }
      server.remembered = list;
      return list;
    })
  };
}

async function openSweepTab(record: SweepRecord) {
  const fake = fakeClient(record);
  const session = new PackageSession(
    fake as unknown as ReproServerClient,
    'work/shell-pipeline.rpz',
    {
      limits: { memoryMiB: 1024, timeoutSeconds: 600 },
      backend: 'docker',
      outputFolder: '',
      autoSave: true
    }
  );
  const panel = new RpzPanel(session, {
    trans,
    openFile: () => undefined,
    openFolder: () => undefined,
    copy: () => undefined,
    pickWorkspaceFile: async () => null
  });
  Widget.attach(panel, document.body);
  await session.load();
  await flush();
  panel.selectTab('sweep');
  await flush();
  return { fake, panel, node: panel.node };
}

function type(node: HTMLElement, selector: string, value: string): void {
  const field = node.querySelector<HTMLInputElement | HTMLSelectElement>(
    selector
  )!;
  field.value = value;
  field.dispatchEvent(
    new Event(field.tagName === 'SELECT' ? 'change' : 'input')
  );
}

const click = (node: HTMLElement, selector: string) =>
  node.querySelector<HTMLElement>(selector)!.click();

describe('metricFromForm', () => {
  const blank = {
    name: 'm',
    source: 'log-pair' as const,
    key: '',
    pattern: '',
    output: '',
    column: '',
    row: '',
    reduce: '',
    path: ''
  };

  it('makes each source’s metric, as the contract takes it', () => {
    expect(metricFromForm({ ...blank, key: ' loss ' }, trans)).toEqual({
      ok: true,
      metric: { name: 'm', source: 'log-pair', key: 'loss' }
    });
    expect(
      metricFromForm(
        { ...blank, source: 'log-regex', pattern: 'n=(\\d+)' },
        trans
      )
    ).toEqual({
      ok: true,
      metric: { name: 'm', source: 'log-regex', pattern: 'n=(\\d+)' }
    });
    // A column by number or by header; a row wins over a reducer.
    expect(
      metricFromForm(
        {
          ...blank,
          source: 'csv',
          output: 'o.csv',
          column: '2',
          row: '-1',
          reduce: 'mean'
        },
        trans
      )
    ).toEqual({
      ok: true,
      metric: { name: 'm', source: 'csv', output: 'o.csv', column: 2, row: -1 }
    });
    expect(
      metricFromForm(
        {
          ...blank,
          source: 'csv',
          output: 'o.csv',
          column: 'acc',
          reduce: 'max'
        },
        trans
      )
    ).toEqual({
      ok: true,
      metric: {
        name: 'm',
        source: 'csv',
        output: 'o.csv',
        column: 'acc',
        reduce: 'max'
      }
    });
    expect(
      metricFromForm(
        { ...blank, source: 'json', output: 'r.json', path: ' a.b[0] ' },
        trans
      )
    ).toEqual({
      ok: true,
      metric: { name: 'm', source: 'json', output: 'r.json', path: 'a.b[0]' }
    });
  });

  it('says what is missing instead of making a metric', () => {
    expect(metricFromForm({ ...blank, name: ' ' }, trans)).toEqual({
      ok: false,
      problem: 'Give the metric a name.'
    });
    expect(
      metricFromForm({ ...blank, source: 'csv', column: 'x' }, trans)
    ).toEqual({
      ok: false,
      problem: 'Pick the CSV output.'
    });
    expect(
      metricFromForm(
        { ...blank, source: 'csv', output: 'o.csv', column: 'x', row: '1.5' },
        trans
      )
    ).toMatchObject({ ok: false });
    expect(
      metricFromForm({ ...blank, source: 'log-regex' }, trans)
    ).toMatchObject({
      ok: false
    });
  });

  it('describes a metric in a few words', () => {
    expect(
      describeMetric(
        { name: 'm', source: 'csv', output: 'o.csv', column: 'acc' },
        trans
      )
    ).toBe('o.csv: column acc, last');
    expect(describeMetric({ name: 'words', source: 'log-pair' }, trans)).toBe(
      'log: words=…'
    );
  });
});

describe('SweepSession.refreshAfterMetrics', () => {
  it('asks for an ended sweep now and once more a period later, for the values extracted in the background', async () => {
    const fake = fakeClient(sweepRecord());
    const session = new SweepSession(fake, SHA, 5);
    await session.show('s1');
    expect(fake.getSweep).toHaveBeenCalledTimes(1);
    await session.refreshAfterMetrics();
    expect(fake.getSweep).toHaveBeenCalledTimes(2);
    for (let i = 0; i < 200 && fake.getSweep.mock.calls.length < 3; i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(fake.getSweep).toHaveBeenCalledTimes(3);
    // And no more: the sweep has ended.
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(fake.getSweep).toHaveBeenCalledTimes(3);
    session.dispose();
  });
});

describe('the Sweep tab’s metrics and comparisons', () => {
  afterEach(() => {
    document.body.replaceChildren();
  });

  it('lists the package’s metrics, adds and removes one, saves them with PUT, and refreshes the sweep', async () => {
    const { fake, panel, node } = await openSweepTab(sweepRecord());
    expect(fake.packageMetrics).toHaveBeenCalledTimes(1);
    const listed = () =>
      [...node.querySelectorAll<HTMLElement>('.jp-ReproServer-metric')].map(
        r => r.dataset.metric
      );
    expect(listed()).toEqual(['words']);
    const save = node.querySelector<HTMLButtonElement>(
      '.jp-ReproServer-metricSave'
    )!;
    expect(save.disabled).toBe(true);
    // The outputs offered are the package's (files a step writes).
    const outputs = [
      ...node.querySelectorAll<HTMLOptionElement>(
        '.jp-ReproServer-metricOutput option'
      )
    ].map(o => o.value);
    expect(outputs).toEqual(['top-words.txt']);

    // A CSV column, reduced to its mean.
    type(node, '.jp-ReproServer-metricName', 'top_mean');
    type(node, '.jp-ReproServer-metricSource', 'csv');
    expect(
      node.querySelector<HTMLElement>('.jp-ReproServer-metricColumn')!.hidden
    ).toBe(false);
    expect(
      node.querySelector<HTMLElement>('.jp-ReproServer-metricKey')!.hidden
    ).toBe(true);
    type(node, '.jp-ReproServer-metricColumn', 'count');
    type(node, '.jp-ReproServer-metricReduce', 'mean');
    click(node, '.jp-ReproServer-metricAdd');
    // A regular expression over the log.
    type(node, '.jp-ReproServer-metricName', 'lines');
    type(node, '.jp-ReproServer-metricSource', 'log-regex');
    type(node, '.jp-ReproServer-metricPattern', 'lines: (\\d+)');
    click(node, '.jp-ReproServer-metricAdd');
    // Remove the remembered one.
    click(node, '[data-metric="words"] .jp-ReproServer-metricRemove');
    expect(listed()).toEqual(['top_mean', 'lines']);
    expect(save.disabled).toBe(false);

    const sweepsAsked = fake.getSweep.mock.calls.length;
    save.click();
    await flush();
    expect(fake.puts).toEqual([
      {
        metrics: [
          {
            name: 'top_mean',
            source: 'csv',
            output: 'top-words.txt',
            column: 'count',
            reduce: 'mean'
          },
          { name: 'lines', source: 'log-regex', pattern: 'lines: (\\d+)' }
        ]
      }
    ]);
    // Saved: nothing pending, and the sweep on display is asked for again.
    expect(save.disabled).toBe(true);
    expect(fake.getSweep.mock.calls.length).toBe(sweepsAsked + 1);
    expect(
      node.querySelector('.jp-ReproServer-metricProblem')!.textContent
    ).toBe('');
    panel.dispose();
  });

  it('shows the server’s bad-metric sentence when it refuses, and keeps the edits', async () => {
    const { fake, panel, node } = await openSweepTab(sweepRecord());
    const sentence =
      'Metric "bad" has a regular expression that does not compile (Unterminated group); fix the pattern.';
    fake.server.refuse = sentence;
    type(node, '.jp-ReproServer-metricName', 'bad');
    type(node, '.jp-ReproServer-metricSource', 'log-regex');
    type(node, '.jp-ReproServer-metricPattern', '(');
    click(node, '.jp-ReproServer-metricAdd');
    const sweepsAsked = fake.getSweep.mock.calls.length;
    click(node, '.jp-ReproServer-metricSave');
    await flush();
    expect(fake.puts).toHaveLength(1);
    expect(
      node.querySelector('.jp-ReproServer-metricProblem')!.textContent
    ).toBe(sentence);
    // Nothing saved: no refresh, the edit still pending and Save still offered.
    expect(fake.getSweep.mock.calls.length).toBe(sweepsAsked);
    expect(
      [...node.querySelectorAll<HTMLElement>('.jp-ReproServer-metric')].map(
        r => r.dataset.metric
      )
    ).toEqual(['words', 'bad']);
    expect(
      node.querySelector<HTMLButtonElement>('.jp-ReproServer-metricSave')!
        .disabled
    ).toBe(false);
    // A form without a name says so, without asking the server.
    type(node, '.jp-ReproServer-metricName', '');
    click(node, '.jp-ReproServer-metricAdd');
    expect(
      node.querySelector('.jp-ReproServer-metricProblem')!.textContent
    ).toBe('Give the metric a name.');
    panel.dispose();
  });

  it('compares the runs of two variants picked in the results table', async () => {
    const { fake, panel, node } = await openSweepTab(sweepRecord());
    const compare = node.querySelector<HTMLButtonElement>(
      '.jp-ReproServer-sweepCompare'
    )!;
    expect(compare.disabled).toBe(true);
    const pick = (variant: string) => {
      const box = node.querySelector<HTMLInputElement>(
        `[data-variant="${variant}"] .jp-ReproServer-sweepPick`
      )!;
      box.checked = !box.checked;
      box.dispatchEvent(new Event('change'));
    };
    pick('v001');
    expect(compare.disabled).toBe(true);
    pick('v003');
    expect(compare.disabled).toBe(false);
    expect(compare.textContent).toBe('Compare the two picked variants');
    // The picks survive the table being drawn again.
    expect(
      node.querySelector<HTMLInputElement>(
        '[data-variant="v003"] .jp-ReproServer-sweepPick'
      )!.checked
    ).toBe(true);
    expect(
      node.querySelector<HTMLInputElement>(
        '[data-variant="v002"] .jp-ReproServer-sweepPick'
      )!.checked
    ).toBe(false);
    compare.click();
    await flush();
    expect(fake.compareRuns).toHaveBeenCalledWith('r1', 'r3');
    const view = node.querySelector(
      '.jp-ReproServer-sweep .jp-ReproServer-compare'
    )!;
    expect(view.textContent).toContain('top-words.txt');
    expect(
      view.querySelector('.jp-ReproServer-compareEdits')!.textContent
    ).toContain('step 0 argument 3');
    // A third pick drops the first.
    pick('v002');
    expect(
      node.querySelector<HTMLInputElement>(
        '[data-variant="v001"] .jp-ReproServer-sweepPick'
      )!.checked
    ).toBe(false);
    panel.dispose();
  });
});
