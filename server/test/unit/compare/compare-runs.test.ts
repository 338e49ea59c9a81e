/**
 * Two runs compared from their sides: each output's state and view, the edits that separate the
 * runs, one output's detail, and output folders as `reproserver run --out` writes them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  compareLogs,
  compareOutput,
  compareRuns,
  outputComparison
} from '../../../src/compare/compare';
import { COMPARE_BOUNDS } from '../../../src/compare/bounds';
import { factsOf, separatingEdits } from '../../../src/compare/facts';
import { folderSide, RunFolderError } from '../../../src/compare/folder-side';
import type { RunSide } from '../../../src/compare/side';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function side(
  label: string,
  files: Record<string, string>,
  facts = {},
  log?: string
): RunSide {
  return {
    label,
    facts,
    outputs: Object.entries(files).map(([name, text]) => ({
      name,
      size: Buffer.byteLength(text),
      sha256: sha(text)
    })),
    open: async output => Readable.from([Buffer.from(files[output.name])]),
    ...(log !== undefined && {
      logText: async () => ({ text: Buffer.from(log), size: log.length })
    })
  };
}

describe('compareRuns', () => {
  const a = side(
    'A',
    {
      'same.txt': 'x\n',
      'top.txt': 'a\nb\n',
      'data.csv': 'v\n1\n',
      'gone.bin': '\0\x01'
    },
    { backend: 'sandbox', 'step 0 argv': 'sh run.sh 2' },
    '$ sh run.sh 2\nhello\n'
  );
  const b = side(
    'B',
    {
      'same.txt': 'x\n',
      'top.txt': 'a\nc\n',
      'data.csv': 'v\n1.0001\n',
      'new.svg': '<svg/>'
    },
    { backend: 'sandbox', 'step 0 argv': 'sh run.sh 3' },
    '$ sh run.sh 3\nhello\n'
  );

  it('says each output’s state and view, and what separates the runs', async () => {
    const summary = await compareRuns(a, b, { a: 'A', b: 'B' });
    expect(summary.identical).toBe(false);
    expect(summary.truncated).toBe(false);
    expect(summary.differences).toEqual([
      { field: 'step 0 argv', a: 'sh run.sh 2', b: 'sh run.sh 3' }
    ]);
    expect(summary.outputs.map(o => [o.name, o.state, o.view])).toEqual([
      ['same.txt', 'identical', 'text'],
      ['top.txt', 'changed', 'text'],
      ['data.csv', 'changed', 'csv'],
      ['gone.bin', 'only-a', 'binary'],
      ['new.svg', 'only-b', 'svg']
    ]);
    expect(summary.outputs[3].b).toBeNull();
  });

  it('is identical when every output is', async () => {
    const twin = side('C', { 'same.txt': 'x\n' });
    const summary = await compareRuns(twin, twin, { a: 'C', b: 'C' });
    expect(summary).toMatchObject({ identical: true, differences: [] });
  });

  it('lists at most the bound of outputs, and says so', async () => {
    const many = side(
      'M',
      Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}`, `${i}`]))
    );
    const summary = await compareRuns(
      many,
      a,
      { a: 'M', b: 'A' },
      {
        ...COMPARE_BOUNDS,
        outputs: 3
      }
    );
    expect(summary.outputs).toHaveLength(3);
    expect(summary.truncated).toBe(true);
  });

  it('details a text output as a diff, a CSV as cells within tolerance', async () => {
    const top = await compareOutput(
      a,
      b,
      (await outputComparison(a, b, 'top.txt'))!
    );
    expect(top.text!.diff).toBe(
      '--- A/top.txt\n+++ B/top.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n'
    );
    const csv = await compareOutput(
      a,
      b,
      (await outputComparison(a, b, 'data.csv'))!,
      {
        absolute: 0.001,
        relative: 0
      }
    );
    expect(csv.csv).toMatchObject({
      verdict: 'within-tolerance',
      changedCells: 1
    });
    const added = await compareOutput(
      a,
      b,
      (await outputComparison(a, b, 'new.svg'))!
    );
    expect(added.text!.diff).toBe(
      '--- /dev/null\n+++ B/new.svg\n@@ -0,0 +1,1 @@\n+<svg/>\n\\ No newline at end of file\n'
    );
    expect(await outputComparison(a, b, 'nothing')).toBeUndefined();
  });

  it('diffs the logs', async () => {
    expect((await compareLogs(a, b))!.diff).toBe(
      '--- A/log\n+++ B/log\n@@ -1,2 +1,2 @@\n-$ sh run.sh 2\n+$ sh run.sh 3\n hello\n'
    );
    expect(await compareLogs(side('x', {}), b)).toBeNull();
  });
});

describe('facts', () => {
  it('flattens edits into fields and lists those that differ', () => {
    const base = {
      backend: 'docker',
      steps: [{ index: 0, argv: ['sh', 'a b.sh'] }],
      edits: {},
      inputs: [],
      limits: { memoryMiB: 512 }
    };
    const other = {
      ...base,
      backend: 'sandbox',
      edits: {
        stepEdits: [{ step: 0, setEnv: { SEED: '2' }, unsetEnv: ['HOME'] }]
      },
      inputs: [{ name: 'arg2', sha256: 'ab' }],
      limits: { memoryMiB: 1024 }
    };
    expect(factsOf(base)['step 0 argv']).toBe("sh 'a b.sh'");
    expect(separatingEdits(factsOf(base), factsOf(other))).toEqual([
      { field: 'backend', a: 'docker', b: 'sandbox' },
      { field: 'limit memoryMiB', a: '512', b: '1024' },
      { field: 'step 0 env SEED', a: null, b: '2' },
      { field: 'step 0 env HOME', a: null, b: '(unset)' },
      { field: 'input arg2', a: null, b: 'sha256 ab' }
    ]);
  });

  it('survives edits of any shape (a run.json is the user’s)', () => {
    expect(() =>
      factsOf({
        backend: null,
        steps: [],
        edits: { stepEdits: 'no' as never },
        inputs: []
      })
    ).not.toThrow();
  });
});

describe('folderSide', () => {
  function folder(runJson: unknown, files: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'reproserver-folder-'));
    writeFileSync(join(dir, 'run.json'), JSON.stringify(runJson));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  it('reads the outputs run.json lists, never a file outside the folder', async () => {
    const dir = folder(
      {
        backend: 'sandbox',
        steps: [{ index: 0, argv: ['sh', 'x.sh'] }],
        edits: {},
        inputs: [],
        outputs: [
          { name: 'top.txt', file: 'top.txt', size: 2, sha256: sha('a\n') },
          { name: '/etc/x', file: 'changed/etc/x', size: 1, sha256: sha('b') },
          { name: 'evil', file: '../../etc/passwd', size: 1, sha256: sha('c') },
          { name: 'bad' }
        ]
      },
      { 'top.txt': 'a\n', 'changed/etc/x': 'b' }
    );
    const read = await folderSide(dir, 100);
    expect(read.outputs.map(o => o.name)).toEqual(['top.txt', '/etc/x']);
    expect(read.facts).toMatchObject({
      backend: 'sandbox',
      'step 0 argv': 'sh x.sh'
    });
    const chunks: Buffer[] = [];
    for await (const chunk of await read.open(read.outputs[1]))
      chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('b');
    expect(read.logText).toBeUndefined();
  });

  it('refuses a folder without a run.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reproserver-folder-'));
    await expect(folderSide(dir, 10)).rejects.toThrow(RunFolderError);
    await expect(folderSide(folder([1, 2]), 10)).rejects.toThrow(
      /no readable run.json/
    );
  });
});
