/**
 * Comparisons in the panel: picking two runs, the comparison's summary and an output's detail
 * (the diff, CSV cells with a tolerance), and the determinism badge with its check polled until
 * decided. The client is a fake answering what the server's contract says.
 */
import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import type {
  CompareSummary,
  DeterminismCheck,
  OutputDetail
} from 'reproserver/contract';
import { checkSentence, DeterminismBadge } from '../compare/badge';
import { CompareSession, type ICompareClient } from '../compare/session';
import { CompareView, renderDiff } from '../compare/view';

const trans = nullTranslator.load('jupyterlab_reproserver');
const SHA = 'a'.repeat(64);
const flush = () => new Promise(resolve => setTimeout(resolve, 0));

const summary: CompareSummary = {
  a: 'r1',
  b: 'r2',
  identical: false,
  truncated: false,
  differences: [{ field: 'step 0 argv', a: 'sh x.sh 2', b: 'sh x.sh 3' }],
  outputs: [
    {
      name: 'top.txt',
      state: 'changed',
      view: 'text',
      a: { size: 4, sha256: 'b'.repeat(64) },
      b: { size: 6, sha256: 'c'.repeat(64) }
    },
    {
      name: 'data.csv',
      state: 'changed',
      view: 'csv',
      a: { size: 4, sha256: 'd'.repeat(64) },
      b: { size: 6, sha256: 'e'.repeat(64) }
    },
    {
      name: 'same.txt',
      state: 'identical',
      view: 'text',
      a: { size: 1, sha256: 'f'.repeat(64) },
      b: { size: 1, sha256: 'f'.repeat(64) }
    }
  ]
};

function check(
  state: DeterminismCheck['state'],
  varying: string[] = []
): DeterminismCheck {
  return {
    id: 'c1',
    package: SHA,
    backends: ['sandbox', 'sandbox'],
    runs: ['r1', 'r2'],
    state,
    varying,
    outputs: [],
    reason: null,
    createdAt: new Date(0).toISOString()
  };
}

/** The client's methods as mocks (each answering as the server would). */
type FakeClient = ICompareClient & { [K in keyof ICompareClient]: jest.Mock };

function fakeClient(): FakeClient {
  const client = {
    compareRuns: jest.fn(async () => summary),
    compareOutput: jest.fn(async (_a, _b, name, tolerance) => {
      const output = summary.outputs.find(o => o.name === name)!;
      const detail: OutputDetail = { output };
      if (name === 'data.csv') {
        detail.csv = {
          verdict: tolerance?.absolute ? 'within-tolerance' : 'changed',
          rows: { a: 2, b: 2 },
          columns: { a: 1, b: 1 },
          tolerance: { absolute: tolerance?.absolute ?? 0, relative: 0 },
          changedCells: 1,
          cells: [
            {
              row: 1,
              column: 0,
              columnName: 'v',
              a: '1',
              b: '1.001',
              delta: 0.001,
              withinTolerance: !!tolerance?.absolute
            }
          ],
          tooLarge: null
        };
      }
      detail.text = {
        diff: '--- r1/top.txt\n+++ r2/top.txt\n@@ -1,1 +1,2 @@\n a\n+b\n',
        added: 1,
        removed: 0,
        tooLarge: null
      };
      return detail;
    }),
    compareLogs: jest.fn(async () => ({
      diff: '',
      added: 0,
      removed: 0,
      tooLarge: null
    })),
    image: jest.fn(async () => new Blob([])),
    startDeterminism: jest.fn(async () => check('running')),
    listDeterminism: jest.fn(async () => ({ checks: [] })),
    getDeterminism: jest.fn(async () => check('varies', ['plot.svg']))
  };
  return client as unknown as FakeClient;
}

describe('CompareSession and CompareView', () => {
  it('compares the two runs picked, A the first', async () => {
    const client = fakeClient();
    const session = new CompareSession(client, SHA);
    session.toggle('r1');
    session.toggle('r9');
    session.toggle('r9');
    session.toggle('r2');
    expect(session.picked).toEqual(['r1', 'r2']);
    session.toggle('r3');
    expect(session.picked).toEqual(['r2', 'r3']);
    session.toggle('r3');
    session.toggle('r2');
    session.toggle('r1');
    session.toggle('r2');
    const view = new CompareView(session, trans);
    await session.compare();
    expect(client.compareRuns).toHaveBeenCalledWith('r1', 'r2');
    expect(view.node.textContent).toContain(
      'step 0 argv: sh x.sh 2 → sh x.sh 3'
    );
    const rows = [
      ...view.node.querySelectorAll('.jp-ReproServer-compareOutput')
    ];
    expect(rows.map(r => r.getAttribute('data-output'))).toEqual([
      'top.txt',
      'data.csv',
      'same.txt'
    ]);
    // No "Show" for an identical output.
    expect(rows[2].querySelector('button')).toBeNull();

    (rows[0].querySelector('button') as HTMLButtonElement).click();
    await flush();
    const diff = view.node.querySelector(
      '[data-output="top.txt"].jp-ReproServer-compareDetail'
    )!;
    expect(diff.querySelector('.jp-ReproServer-diff-added')!.textContent).toBe(
      '+b\n'
    );
    expect(diff.querySelector('.jp-ReproServer-diff-hunk')!.textContent).toBe(
      '@@ -1,1 +1,2 @@\n'
    );
    view.dispose();
    session.dispose();
  });

  it('shows a CSV’s changed cells and asks again with a tolerance', async () => {
    const client = fakeClient();
    const session = new CompareSession(client, SHA);
    session.toggle('r1');
    session.toggle('r2');
    const view = new CompareView(session, trans);
    await session.compare();
    await session.loadDetail('data.csv');
    const detail = () =>
      view.node.querySelector(
        '[data-output="data.csv"].jp-ReproServer-compareDetail'
      )!;
    expect(detail().textContent).toContain('1 changed cells.');
    const [tolerance] = detail().querySelectorAll('input');
    (tolerance as HTMLInputElement).value = '0.01';
    [...detail().querySelectorAll('button')]
      .find(b => b.textContent === 'Apply')!
      .click();
    await flush();
    expect(client.compareOutput).toHaveBeenLastCalledWith(
      'r1',
      'r2',
      'data.csv',
      {
        absolute: 0.01,
        relative: 0
      }
    );
    expect(detail().textContent).toContain(
      'Changed only within the tolerance.'
    );
    view.dispose();
    session.dispose();
  });

  it('says when a diff is too large, or when there is none', () => {
    expect(
      renderDiff(
        {
          diff: null,
          added: 0,
          removed: 0,
          tooLarge: 'Too large to diff (x).'
        },
        trans
      ).textContent
    ).toBe('Too large to diff (x).');
    expect(
      renderDiff({ diff: '', added: 0, removed: 0, tooLarge: null }, trans)
        .textContent
    ).toBe('No difference.');
  });
});

describe('DeterminismBadge', () => {
  it('runs the check, polls it until decided, and says what varies', async () => {
    const client = fakeClient();
    const session = new CompareSession(client, SHA, 1);
    const badge = new DeterminismBadge(session, trans, () =>
      session.startCheck({ backend: 'sandbox', acceptWeakIsolation: true })
    );
    await flush();
    expect(badge.node.textContent).toContain('not checked yet');
    const run = [...badge.node.querySelectorAll('button')].find(
      b => b.textContent === 'Check determinism'
    )!;
    run.click();
    await flush();
    expect(client.startDeterminism).toHaveBeenCalledWith(SHA, {
      backend: 'sandbox',
      acceptWeakIsolation: true
    });
    for (let i = 0; i < 20 && session.checking; i++) {
      await new Promise(resolve => setTimeout(resolve, 5));
    }
    expect(badge.node.textContent).toContain(
      'plot.svg differs between identical runs (sandbox + sandbox)'
    );
    badge.dispose();
    session.dispose();
  });

  it('is hidden in the overview until the package has a check', async () => {
    const session = new CompareSession(fakeClient(), SHA);
    const badge = new DeterminismBadge(
      session,
      trans,
      async () => undefined,
      true
    );
    await flush();
    expect(badge.node.hidden).toBe(true);
    badge.dispose();
    session.dispose();
  });

  it('words each state', () => {
    expect(checkSentence(check('identical'), trans)).toBe(
      'Outputs identical over 2 runs (sandbox + sandbox)'
    );
    expect(checkSentence(check('varies', ['a.txt', 'b.svg']), trans)).toBe(
      'a.txt, b.svg differ between identical runs (sandbox + sandbox)'
    );
  });
});
