import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type {
  MetricList,
  SweepRecord,
  SweepSpec,
  SweepSummary,
  SweepVariantRow
} from 'reproserver/contract';
import type { ReproServerClient } from '../api/client';
import { PackageSession } from '../model/package';
import { RpzPanel, type IPanelServices } from '../panel/panel';
import { csvPath, exportCsv } from '../sweep/export';
import { sweepFieldChoices } from '../sweep/fields';
import { plotSpec, VEGALITE_MIME } from '../sweep/plot-spec';
import { SweepSession, withChangedRows } from '../sweep/session';
import {
  sweepColumns,
  sweepCsv,
  visibleRows,
  type IColumn
} from '../sweep/table';
import {
  countDrafts,
  parseRange,
  splitList,
  type IAxisDraft
} from '../sweep/values';
import { SHA, packageDetails, packageModel, runRecord } from './fixtures';

const trans = nullTranslator.load('jupyterlab_reproserver');
const messages = {
  noAxes: 'no axes',
  noValues: 'no values',
  noFiles: 'no files',
  noGlob: 'no glob'
};
const HEADERS = {
  variant: 'Variant',
  status: 'Status',
  exitCode: 'Exit code',
  duration: 'Duration'
};

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

/** A sweep of shell-pipeline's count (step 0, argument 3) over 1, 2, 3. */
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
    counts: { succeeded: 2, running: 1 },
    ended: false,
    edits: {},
    metrics: [{ name: 'words', source: 'log-pair' }],
    revision: '0123456789abcdef.1',
    variants: [
      row({
        id: 'v001',
        values: ['1'],
        run: 'r1',
        durationMs: 1500,
        metrics: { words: 10 }
      }),
      row({
        id: 'v002',
        values: ['2'],
        run: 'r2',
        durationMs: 900,
        metrics: { words: null }
      }),
      row({
        id: 'v003',
        values: ['3'],
        run: 'r3',
        status: 'running',
        exitCode: null,
        durationMs: null,
        metrics: {}
      })
    ],
    ...overrides
  };
}

describe('sweep values', () => {
  const arg: IAxisDraft['field'] = { kind: 'arg', step: 0, index: 3 };

  it('splits a typed list on commas, with \\, and \\: inside a value', () => {
    expect(splitList('1, 2,5')).toEqual(['1', '2', '5']);
    expect(splitList('a\\,b, c,,')).toEqual(['a,b', 'c']);
    expect(splitList('x\\:y,\\\\')).toEqual(['x:y', '\\']);
    expect(splitList('  ')).toEqual([]);
  });

  it('reads numeric ranges as start:stop[:step], the stop included', () => {
    expect(parseRange('1:10:2')).toEqual({ start: 1, stop: 10, step: 2 });
    expect(parseRange(' 5 : 1 ')).toEqual({ start: 5, stop: 1, step: -1 });
    expect(parseRange('0:0.3:0.1')).toEqual({ start: 0, stop: 0.3, step: 0.1 });
    expect(parseRange('1,2')).toBeNull();
    expect(parseRange('a:b')).toBeNull();
  });

  it('counts runs with the server’s count: lists, ranges, grids and zips', () => {
    const env: IAxisDraft['field'] = { kind: 'env', step: 0, name: 'SEED' };
    expect(
      countDrafts([{ field: arg, text: '1,2,3' }], 'grid', messages)
    ).toMatchObject({ ok: true, runs: 3 });
    expect(
      countDrafts([{ field: arg, text: '0:0.3:0.1' }], 'grid', messages)
    ).toMatchObject({ ok: true, runs: 4 });
    const two = [
      { field: arg, text: '1,2,3' },
      { field: env, text: '1:4' }
    ];
    expect(countDrafts(two, 'grid', messages)).toMatchObject({
      ok: true,
      runs: 12
    });
    const zipped = countDrafts(two, 'zip', messages);
    expect(zipped.ok).toBe(false);
    expect(!zipped.ok && zipped.problem).toMatch(
      /^Zipped axes must have the same number of values; these have 3, 4/
    );
    expect(!zipped.ok && zipped.axis).toBeNull();
    // The axes as the API takes them.
    const ok = countDrafts(two, 'grid', messages);
    expect(ok.ok && ok.axes).toEqual([
      { field: arg, values: { kind: 'list', values: ['1', '2', '3'] } },
      { field: env, values: { kind: 'range', start: 1, stop: 4, step: 1 } }
    ]);
  });

  it('shows the bounds’ refusal sentence past SWEEP_BOUNDS, and an axis’s own problem on it', () => {
    const big = countDrafts(
      [
        { field: arg, text: '1:200' },
        {
          field: { kind: 'env', step: 0, name: 'X' },
          text: '1:100'
        }
      ],
      'grid',
      messages
    );
    expect(big).toEqual({
      ok: false,
      axis: null,
      problem:
        'This grid has 200 × 100 variants, more than 10000; use fewer values, fewer axes, or zip them.'
    });
    const huge = countDrafts(
      [{ field: arg, text: '0:1e12' }],
      'grid',
      messages
    );
    expect(!huge.ok && huge.problem).toMatch(
      /has 1000000000001 values, more than 10000/
    );
    // `\:` keeps a value that looks like a range a list value, as in the CLI.
    expect(
      countDrafts([{ field: arg, text: '1\\:4' }], 'grid', messages)
    ).toMatchObject({
      ok: true,
      runs: 1,
      axes: [{ values: { kind: 'list', values: ['1:4'] } }]
    });
    expect(
      countDrafts([{ field: arg, text: ' , ' }], 'grid', messages)
    ).toEqual({ ok: false, axis: 0, problem: 'no values' });
    expect(countDrafts([], 'grid', messages)).toEqual({
      ok: false,
      axis: null,
      problem: 'no axes'
    });
  });

  it('takes workspace files or a folder/glob for input slots; a glob’s count is the server’s', () => {
    const input: IAxisDraft['field'] = { kind: 'input', name: 'arg2' };
    expect(
      countDrafts(
        [{ field: input, text: '/data/a.txt, data/b.txt' }],
        'grid',
        messages
      )
    ).toMatchObject({
      ok: true,
      runs: 2,
      axes: [{ values: { kind: 'files', paths: ['data/a.txt', 'data/b.txt'] } }]
    });
    expect(
      countDrafts([{ field: input, text: 'data/*.txt' }], 'grid', messages)
    ).toMatchObject({
      ok: true,
      runs: null,
      axes: [{ values: { kind: 'glob', pattern: 'data/*.txt' } }]
    });
    // A folder (a trailing slash) is read as a glob too; one plain path is one file.
    expect(
      countDrafts([{ field: input, text: 'data/' }], 'grid', messages)
    ).toMatchObject({ ok: true, runs: null });
    expect(
      countDrafts([{ field: input, text: 'data/a.txt' }], 'grid', messages)
    ).toMatchObject({ ok: true, runs: 1 });
  });

  it('offers every argument, variable, command line and input of the package', () => {
    const labels = sweepFieldChoices(packageModel(), trans).map(c => c.label);
    expect(labels).toEqual([
      'run0 · argument 1 (wordfreq.sh)',
      'run0 · argument 2 (words.txt)',
      'run0 · argument 3 (3)',
      'run0 · PATH (/usr/bin:/bin)',
      'run0 · LANG (C.UTF-8)',
      'run0 · whole command line',
      'run1 · argument 1 (fit.py)',
      'run1 · argument 2 (--n)',
      'run1 · argument 3 (5)',
      'run1 · argument 4 (--mode=fast)',
      'run1 · PATH (/usr/bin:/bin)',
      'run1 · whole command line',
      'input arg1 (…ver-examples/shell-pipeline/wordfreq.sh)',
      'input arg2 (…erver-examples/shell-pipeline/words.txt)'
    ]);
  });
});

describe('sweep results table', () => {
  const model = packageModel();
  const columnsOf = (sweep: SweepRecord): IColumn[] =>
    sweepColumns(sweep, model, HEADERS);

  it('has a column per axis and per metric, after the status, exit code and duration', () => {
    const columns = columnsOf(sweepRecord());
    expect(columns.map(c => [c.header, c.numeric])).toEqual([
      ['Variant', false],
      ['run0 arg 3', true],
      ['Status', false],
      ['Exit code', true],
      ['Duration', true],
      ['words', true]
    ]);
  });

  it('sorts by any column, numbers as numbers, rows without a value last', () => {
    const values = ['10', '9', '100', '2'];
    const sweep = sweepRecord({
      variants: values.map((v, i) =>
        row({
          id: `v00${i + 1}`,
          values: [v],
          durationMs: i === 2 ? null : 1000 * (4 - i),
          metrics: { words: i === 1 ? null : i }
        })
      )
    });
    const columns = columnsOf(sweep);
    const ids = (column: string, descending = false) =>
      visibleRows(sweep.variants, columns, { column, descending }, '').map(
        r => r.id
      );
    expect(ids('axis:0')).toEqual(['v004', 'v002', 'v001', 'v003']);
    expect(ids('axis:0', true)).toEqual(['v003', 'v001', 'v002', 'v004']);
    expect(ids('duration')).toEqual(['v004', 'v002', 'v001', 'v003']);
    expect(ids('duration', true)).toEqual(['v001', 'v002', 'v004', 'v003']);
    expect(ids('metric:words', true)).toEqual(['v004', 'v003', 'v001', 'v002']);
    expect(ids('variant', true)).toEqual(['v004', 'v003', 'v002', 'v001']);
    // Text columns sort as people read: v2 before v10.
    const named = sweepRecord({
      variants: ['v10', 'v2', 'v1'].map(id => row({ id }))
    });
    expect(
      visibleRows(
        named.variants,
        columnsOf(named),
        { column: 'variant', descending: false },
        ''
      ).map(r => r.id)
    ).toEqual(['v1', 'v2', 'v10']);
  });

  it('filters by text over the values and the status, as shown', () => {
    const sweep = sweepRecord();
    const columns = columnsOf(sweep);
    const label = (s: string) => (s === 'running' ? 'Running' : 'Succeeded');
    const ids = (filter: string) =>
      visibleRows(sweep.variants, columns, null, filter, label).map(r => r.id);
    expect(ids('')).toEqual(['v001', 'v002', 'v003']);
    expect(ids('runn')).toEqual(['v003']);
    expect(ids('SUCCEEDED')).toEqual(['v001', 'v002']);
    expect(ids('2')).toEqual(['v002']);
    expect(ids('nothing')).toEqual([]);
  });

  it('exports the rows shown as CSV, in the layout of the CLI’s sweep.csv plus the metrics', () => {
    const sweep = sweepRecord({
      variants: [
        row({
          id: 'v001',
          values: ['a,"b"'],
          durationMs: 1234,
          metrics: { words: 2.5 }
        }),
        row({
          id: 'v002',
          values: ['x\ny'],
          run: null,
          status: null,
          exitCode: null,
          durationMs: null
        })
      ],
      axes: [
        {
          field: { kind: 'env', step: 0, name: 'LANG' },
          values: { kind: 'list', values: ['a,"b"', 'x\ny'] }
        }
      ]
    });
    const columns = columnsOf(sweep);
    expect(sweepCsv(sweep.variants, columns)).toBe(
      'variant,env 0:LANG,status,exit_code,duration_s,words\n' +
        'v001,"a,""b""",succeeded,0,1.234,2.5\n' +
        'v002,"x\ny",deleted,,,\n'
    );
  });

  it('writes the CSV beside the package, and never over a file without asking', async () => {
    expect(csvPath('work/shell-pipeline.rpz', 's1')).toBe(
      'work/shell-pipeline.sweep-s1.csv'
    );
    expect(csvPath('exp.RPZ', '../x')).toBe('exp.sweep-.._x.csv');
    const existing = new Set<string>();
    const saved: string[] = [];
    const files = {
      get: async (path: string) => {
        if (!existing.has(path)) {
          throw new Error('404');
        }
        return {};
      },
      save: async (path: string, options: { content: string }) => {
        saved.push(`${path}:${options.content}`);
        existing.add(path);
        return {};
      }
    };
    const asked: string[] = [];
    let answer = false;
    const confirm = async (path: string) => {
      asked.push(path);
      return answer;
    };
    expect(await exportCsv(files, 'a.csv', 'one', confirm)).toBe('a.csv');
    expect(asked).toEqual([]);
    expect(await exportCsv(files, 'a.csv', 'two', confirm)).toBeNull();
    expect(asked).toEqual(['a.csv']);
    answer = true;
    expect(await exportCsv(files, 'a.csv', 'three', confirm)).toBe('a.csv');
    expect(saved).toEqual(['a.csv:one', 'a.csv:three']);
  });

  it('plots a metric against an axis as Vega-Lite, variants without a value left out', () => {
    const sweep = sweepRecord();
    const columns = columnsOf(sweep);
    const x = columns.find(c => c.id === 'axis:0')!;
    const y = columns.find(c => c.id === 'duration')!;
    const labels = {
      variant: 'Variant',
      others: 'Others',
      description: (a: string, b: string) => `${a} against ${b}`
    };
    const spec = plotSpec(sweep.variants, x, y, [], labels)!;
    expect(VEGALITE_MIME).toBe('application/vnd.vegalite.v5+json');
    expect(spec.data).toEqual({
      values: [
        { x: 1, y: 1.5, variant: 'v001', series: '' },
        { x: 2, y: 0.9, variant: 'v002', series: '' }
      ]
    });
    expect(spec.mark).toEqual({ type: 'line', point: true });
    expect(spec.description).toBe('Duration (s) against run0 arg 3');
    const metric = columns.find(c => c.id === 'metric:words')!;
    expect(plotSpec(sweep.variants, x, metric, [], labels)!.data).toEqual({
      values: [{ x: 1, y: 10, variant: 'v001', series: '' }]
    });
    expect(plotSpec([], x, metric, [], labels)).toBeNull();
  });
});

/** A server that remembers no metrics (the sweep session's tests do not touch them). */
const NO_METRICS = {
  packageMetrics: async () => ({ metrics: [] }),
  setPackageMetrics: async (_sha: string, list: MetricList) => list
};

describe('SweepSession', () => {
  it('polls the sweep only while it has unended runs', async () => {
    let calls = 0;
    const client = {
      createSweep: jest.fn(async () => sweepRecord()),
      listSweeps: jest.fn(async () => ({ sweeps: [] })),
      getSweep: jest.fn(async () => {
        calls++;
        return sweepRecord(calls >= 2 ? { ended: true } : {});
      }),
      cancelSweep: jest.fn(async () => sweepRecord({ ended: true })),
      ...NO_METRICS
    };
    const session = new SweepSession(client, SHA, 5);
    await session.create({ package: SHA, axes: [] });
    expect(session.current?.ended).toBe(false);
    // Asked again until it ended (however slow the machine)…
    for (let i = 0; i < 200 && !session.current?.ended; i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(session.current?.ended).toBe(true);
    expect(calls).toBe(2);
    // …and never after: ten more periods, no more requests.
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(calls).toBe(2);
    session.dispose();
  });

  it('polls for the rows changed since its last answer, and puts them in place', async () => {
    const answers: SweepRecord[] = [
      // v003 ended: only its row, with the counts of the whole sweep.
      sweepRecord({
        incremental: true,
        revision: '0123456789abcdef.5',
        counts: { succeeded: 3 },
        variants: [
          row({ id: 'v003', values: ['3'], run: 'r3', metrics: { words: 7 } })
        ]
      }),
      // Nothing changed.
      sweepRecord({
        incremental: true,
        revision: '0123456789abcdef.5',
        counts: { succeeded: 3 },
        variants: []
      }),
      // A metric added meanwhile (another tab): every row's values are new.
      sweepRecord({
        incremental: true,
        revision: '0123456789abcdef.9',
        metrics: [
          { name: 'words', source: 'log-pair' },
          { name: 'loss', source: 'log-pair' }
        ],
        variants: [row({ id: 'v001', metrics: { words: 10, loss: 1 } })]
      }),
      // The whole sweep, as asked then; it has ended.
      sweepRecord({
        revision: '0123456789abcdef.9',
        ended: true,
        counts: { succeeded: 3 },
        variants: ['v001', 'v002', 'v003'].map(id =>
          row({ id, metrics: { words: 1, loss: 2 } })
        )
      })
    ];
    const asked: (string | undefined)[] = [];
    const client = {
      createSweep: jest.fn(async () => sweepRecord()),
      listSweeps: jest.fn(async () => ({ sweeps: [] })),
      getSweep: jest.fn(async (_id: string, since?: string) => {
        asked.push(since);
        return answers.shift()!;
      }),
      cancelSweep: jest.fn(async () => sweepRecord({ ended: true })),
      ...NO_METRICS
    };
    const session = new SweepSession(client, SHA, 5);
    // The sweep on display after each answer.
    const seen: SweepRecord[] = [];
    session.changed.connect(() => {
      if (session.current && seen[seen.length - 1] !== session.current) {
        seen.push(session.current);
      }
    });
    await session.create({ package: SHA, axes: [] });
    // Polled until it ended (however slow the machine).
    for (let i = 0; i < 200 && !session.current?.ended; i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(seen).toHaveLength(4);

    expect(asked[0]).toBe('0123456789abcdef.1');
    const merged = seen[1];
    expect(merged.incremental).toBeUndefined();
    expect(merged.revision).toBe('0123456789abcdef.5');
    expect(merged.counts).toEqual({ succeeded: 3 });
    // v001 and v002 as they were, v003 replaced in its place.
    expect(merged.variants.map(v => [v.id, v.status, v.metrics])).toEqual([
      ['v001', 'succeeded', { words: 10 }],
      ['v002', 'succeeded', { words: null }],
      ['v003', 'succeeded', { words: 7 }]
    ]);

    expect(asked[1]).toBe('0123456789abcdef.5');
    expect(seen[2].variants).toEqual(merged.variants);

    // New metrics: the same poll asks for the whole sweep (no `since`).
    expect(asked.slice(2)).toEqual(['0123456789abcdef.5', undefined]);
    expect(seen[3]).toBe(session.current);
    expect(session.current!.ended).toBe(true);
    expect(session.current!.variants.map(v => v.metrics)).toEqual([
      { words: 1, loss: 2 },
      { words: 1, loss: 2 },
      { words: 1, loss: 2 }
    ]);
    // Ended: asked no more.
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(asked).toHaveLength(4);
    expect(answers).toEqual([]);
    session.dispose();
  });

  it('puts new rows after the others, and takes a whole answer as it is', () => {
    const known = sweepRecord();
    const grown = withChangedRows(
      known,
      sweepRecord({
        incremental: true,
        total: 4,
        variants: [
          row({ id: 'v004', values: ['4'], run: 'r4', status: 'queued' }),
          row({ id: 'v002', values: ['2'], run: null, status: null })
        ]
      })
    );
    expect(grown.total).toBe(4);
    expect(grown.variants.map(v => [v.id, v.run])).toEqual([
      ['v001', 'r1'],
      ['v002', null],
      ['v003', 'r3'],
      ['v004', 'r4']
    ]);
    // The record polled before is not changed in place (the table compares them).
    expect(known.variants[1].run).toBe('r2');
  });

  it('cancels every unended run of the sweep on display, once', async () => {
    const client = {
      createSweep: jest.fn(async () => sweepRecord()),
      listSweeps: jest.fn(async () => ({ sweeps: [] })),
      getSweep: jest.fn(async () => sweepRecord()),
      cancelSweep: jest.fn(async () =>
        sweepRecord({ ended: true, counts: { succeeded: 2, cancelled: 1 } })
      ),
      ...NO_METRICS
    };
    const session = new SweepSession(client, SHA, 60000);
    await session.create({ package: SHA, axes: [] });
    await session.cancel();
    expect(client.cancelSweep).toHaveBeenCalledWith('s1');
    expect(session.current?.ended).toBe(true);
    await session.cancel();
    expect(client.cancelSweep).toHaveBeenCalledTimes(1);
    session.dispose();
  });
});

describe('the Sweep tab', () => {
  afterEach(() => {
    document.body.replaceChildren();
  });

  function client(record: SweepRecord) {
    const created: SweepSpec[] = [];
    return {
      created,
      backends: jest.fn(async () => ({
        backends: [
          {
            name: 'docker',
            available: true,
            detail: 'Docker',
            isolation: null
          }
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
      createSweep: jest.fn(async (spec: SweepSpec) => {
        created.push(spec);
        return record;
      }),
      listSweeps: jest.fn(async (): Promise<{ sweeps: SweepSummary[] }> => ({
        sweeps: []
      })),
      getSweep: jest.fn(async () => record),
      cancelSweep: jest.fn(async () => ({ ...record, ended: true })),
      packageMetrics: jest.fn(async () => ({ metrics: record.metrics })),
      setPackageMetrics: jest.fn(async (_sha: string, list: unknown) => list)
    };
  }

  it('picks a field, counts the runs, starts with the current edits, and shows the live table', async () => {
    const record = sweepRecord({ ended: true, counts: { succeeded: 3 } });
    const fake = client(record);
    const saved: { path: string; content: string }[] = [];
    const rendered: string[] = [];
    const services: IPanelServices = {
      trans,
      openFile: () => undefined,
      openFolder: () => undefined,
      copy: () => undefined,
      pickWorkspaceFile: async () => null,
      workspaceFiles: {
        get: async () => {
          throw new Error('404');
        },
        save: async (path, options) => {
          saved.push({ path, content: options.content });
          return {};
        }
      },
      rendermime: {
        preferredMimeType: (bundle: Record<string, unknown>) =>
          Object.keys(bundle)[0],
        createRenderer: (mime: string) => {
          const node = document.createElement('div');
          return {
            node,
            dispose: () => undefined,
            renderModel: async (model: { data: Record<string, unknown> }) => {
              rendered.push(mime);
              node.textContent = JSON.stringify(model.data[mime]);
            }
          };
        }
      } as unknown as IPanelServices['rendermime']
    };
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
    const panel = new RpzPanel(session, services);
    Widget.attach(panel, document.body);
    await session.load();
    await flush();
    // A base edit the sweep starts from.
    session.edits!.setArg(1, 2, '--n');
    session.edits!.setEnv(0, 1, 'LANG', 'C');
    panel.selectTab('sweep');
    await flush();
    const node = panel.node;
    const field = node.querySelector<HTMLSelectElement>(
      '.jp-ReproServer-sweepField'
    )!;
    const count = node.querySelector('.jp-ReproServer-sweepCount')!;
    expect(count.textContent).toBe('');
    field.value = 'arg:0:3';
    field.dispatchEvent(new Event('change'));
    const values = node.querySelector<HTMLInputElement>(
      '.jp-ReproServer-sweepValues'
    )!;
    values.value = '1, 2, 3';
    values.dispatchEvent(new Event('input'));
    expect(count.textContent).toBe('3 runs');
    const note = node.querySelector('.jp-ReproServer-axisNote')!;
    expect(note.textContent).toBe('a list of 3 values');
    // Typing updates the count in place: the field keeps its node (and the focus).
    expect(node.querySelector('.jp-ReproServer-sweepValues')).toBe(values);
    values.value = '1';
    values.dispatchEvent(new Event('input'));
    expect(count.textContent).toBe('1 run');
    values.value = '1:3';
    values.dispatchEvent(new Event('input'));
    expect(note.textContent).toBe('a range from 1 to 3 by 1');
    expect(count.textContent).toBe('3 runs');
    values.value = '1,2,3';
    values.dispatchEvent(new Event('input'));

    const start = node.querySelector<HTMLButtonElement>(
      '.jp-ReproServer-sweepStart'
    )!;
    expect(start.disabled).toBe(false);
    start.click();
    await flush();
    expect(fake.created).toHaveLength(1);
    expect(fake.created[0]).toMatchObject({
      package: SHA,
      combine: 'grid',
      backend: 'docker',
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 3 },
          values: { kind: 'list', values: ['1', '2', '3'] }
        }
      ],
      edits: {
        stepEdits: [{ step: 0, setEnv: { LANG: 'C' } }]
      }
    });

    const rows = () =>
      [...node.querySelectorAll('.jp-ReproServer-sweepRow')].map(
        r => (r as HTMLElement).dataset.variant
      );
    expect(rows()).toEqual(['v001', 'v002', 'v003']);
    expect(
      node.querySelector('.jp-ReproServer-sweepProgress')!.textContent
    ).toBe('Ended: 3 runs · 3 Succeeded');
    // Nothing left to cancel.
    expect(
      node.querySelector<HTMLElement>('.jp-ReproServer-sweepCancel')!.hidden
    ).toBe(true);
    // Sorting by a header, twice to reverse.
    const durationHeader = node.querySelector<HTMLElement>(
      'th[data-column="duration"]'
    )!;
    durationHeader.click();
    expect(rows()).toEqual(['v002', 'v001', 'v003']);
    node.querySelector<HTMLElement>('th[data-column="duration"]')!.click();
    expect(rows()).toEqual(['v001', 'v002', 'v003']);
    expect(
      node
        .querySelector('th[data-column="duration"]')!
        .getAttribute('aria-sort')
    ).toBe('descending');
    // Filtering.
    const filter = node.querySelector<HTMLInputElement>(
      '.jp-ReproServer-sweepFilter'
    )!;
    filter.value = 'running';
    filter.dispatchEvent(new Event('input'));
    expect(rows()).toEqual(['v003']);
    expect(node.querySelector('.jp-ReproServer-sweepShown')!.textContent).toBe(
      '1 of 3 variants'
    );
    filter.value = '';
    filter.dispatchEvent(new Event('input'));

    // The CSV export writes the table beside the package.
    node
      .querySelector<HTMLButtonElement>('.jp-ReproServer-sweepExport')!
      .click();
    await flush();
    expect(saved).toEqual([
      {
        path: 'work/shell-pipeline.sweep-s1.csv',
        content:
          'variant,arg 0:3,status,exit_code,duration_s,words\n' +
          'v001,1,succeeded,0,1.500,10\n' +
          'v002,2,succeeded,0,0.900,\n' +
          'v003,3,running,,,\n'
      }
    ]);
    expect(
      node.querySelector('.jp-ReproServer-sweepExported')!.textContent
    ).toBe('Saved as work/shell-pipeline.sweep-s1.csv');

    // The plot goes through JupyterLab's Vega-Lite renderer.
    expect(rendered).toEqual([VEGALITE_MIME]);
    expect(
      node.querySelector('.jp-ReproServer-plotHost')!.textContent
    ).toContain('"mark":{"type":"line","point":true}');

    // A variant opens in the Run tab.
    node
      .querySelector<HTMLElement>(
        '[data-variant="v002"] .jp-ReproServer-sweepOpen'
      )!
      .click();
    await flush();
    expect(fake.getRun).toHaveBeenCalledWith('r2');
    expect(panel.currentTab).toBe('run');
    expect(session.run?.id).toBe('r2');
    panel.dispose();
  });

  it('draws only the rows in view of a 1,000-variant sweep', async () => {
    const variants = Array.from({ length: 1000 }, (_, i) =>
      row({ id: `v${String(i + 1).padStart(4, '0')}`, values: [String(i + 1)] })
    );
    const record = sweepRecord({ ended: true, total: 1000, variants });
    const fake = client(record);
    fake.listSweeps = jest.fn(async () => ({ sweeps: [record] }));
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
    const drawn = panel.node.querySelectorAll('.jp-ReproServer-sweepRow');
    expect(drawn.length).toBeGreaterThan(10);
    expect(drawn.length).toBeLessThan(60);
    panel.node.querySelector<HTMLElement>('th[data-column="axis:0"]')!.click();
    panel.node.querySelector<HTMLElement>('th[data-column="axis:0"]')!.click();
    expect(
      (panel.node.querySelector('.jp-ReproServer-sweepRow') as HTMLElement)
        .dataset.variant
    ).toBe('v1000');
    panel.dispose();
  });
});
