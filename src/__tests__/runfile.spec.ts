/* eslint-disable jupyter/no-untranslated-string -- test data, not UI text */
import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import {
  lockedChanges,
  type RunEdits,
  type RunFileRecord
} from 'reproserver/contract';
// The server's own check of a run request against a run file: what the panel sends must pass it.
import { ReproServerError, type ReproServerClient } from '../api/client';
import { PackageSession } from '../model/package';
import { RpzPanel, type IPanelServices } from '../panel/panel';
import { RunFileController } from '../runfile/controller';
import {
  editsOf,
  fieldEntries,
  isOpen,
  lockedRequest,
  runFileEdits
} from '../runfile/fields';
import { makeRunFile, relativeTo, runFilePathFor } from '../runfile/write';
import { BACKENDS, SHA, packageDetails, runRecord } from './fixtures';

const trans = nullTranslator.load('jupyterlab_reproserver');

/** The example's exercise (examples/exercise.rpzrun) as `GET /api/runfiles` answers it. */
function exercise(overrides: Partial<RunFileRecord> = {}): RunFileRecord {
  return {
    path: 'course/exercise.rpzrun',
    runFile: {
      rpzrun: 1,
      title: 'Word frequencies: how many words?',
      instructions: 'Change **how many words** it shows.',
      package: { path: 'shell-pipeline.rpz', sha256: SHA },
      edits: {
        stepEdits: [
          { step: 0, args: [{ index: 3, value: '5' }], setEnv: { LANG: 'C' } }
        ],
        inputs: [{ name: 'arg1', path: 'script.sh' }],
        limits: { timeoutSeconds: 120 }
      },
      open: [
        { kind: 'arg', step: 0, index: 3 },
        { kind: 'input', name: 'arg2' }
      ]
    },
    packagePath: 'course/shell-pipeline.rpz',
    inputPaths: { arg1: 'course/script.sh' },
    locked: true,
    ...overrides
  };
}

describe('run file fields', () => {
  it('turns edits into fields and back', () => {
    const edits: RunEdits = {
      steps: [0],
      stepEdits: [
        {
          step: 0,
          args: [{ index: 3, value: '2' }],
          setEnv: { A: '1' },
          unsetEnv: ['LANG']
        },
        { step: 1, argv: ['python3', 'fit.py'] }
      ],
      inputs: [{ name: 'arg2', source: { kind: 'workspace', path: 'x.txt' } }],
      limits: { memoryMiB: 512 }
    };
    const entries = fieldEntries(edits);
    expect([...entries.keys()].sort()).toEqual([
      'arg 0:3',
      'cmdline 1',
      'env 0:A',
      'env 0:LANG',
      'input arg2',
      'limit memoryMiB',
      'steps'
    ]);
    expect(editsOf(entries.values())).toEqual(edits);
  });

  it('gives the run file’s inputs as workspace files', () => {
    expect(runFileEdits(exercise()).inputs).toEqual([
      { name: 'arg1', source: { kind: 'workspace', path: 'course/script.sh' } }
    ]);
  });

  it('opens the arguments of a step with its command line', () => {
    const open = [{ kind: 'cmdline' as const, step: 1 }];
    expect(isOpen(open, 'arg 1:2')).toBe(true);
    expect(isOpen(open, 'cmdline 1')).toBe(true);
    expect(isOpen(open, 'arg 0:2')).toBe(false);
    expect(isOpen(undefined, 'arg 0:2')).toBe(true);
  });

  it('sends the open fields as set and the locked ones as the run file sets them', () => {
    const record = exercise();
    const configured = runFileEdits(record);
    // The panel's edits: the open argument changed, a locked variable and the limits changed too.
    const panel: RunEdits = {
      stepEdits: [
        { step: 0, args: [{ index: 3, value: '2' }], setEnv: { LANG: 'X' } }
      ],
      inputs: [
        { name: 'arg2', source: { kind: 'workspace', path: 'mine.txt' } }
      ],
      limits: { memoryMiB: 1024, timeoutSeconds: 600 }
    };
    const open = record.runFile.open;
    // As they are, the server refuses them …
    expect(lockedChanges(configured, panel, open).map(c => c.field)).toEqual([
      'env 0:LANG',
      'input arg1',
      'limit memoryMiB',
      'limit timeoutSeconds'
    ]);
    const sent = lockedRequest(panel, configured, open);
    // … what the panel sends passes, with the user's open values.
    expect(lockedChanges(configured, sent, open)).toEqual([]);
    expect(sent).toEqual({
      stepEdits: [
        { step: 0, args: [{ index: 3, value: '2' }], setEnv: { LANG: 'C' } }
      ],
      inputs: [
        {
          name: 'arg1',
          source: { kind: 'workspace', path: 'course/script.sh' }
        },
        { name: 'arg2', source: { kind: 'workspace', path: 'mine.txt' } }
      ],
      limits: { timeoutSeconds: 120 }
    });
    // Without `open`, every field is the user's.
    expect(lockedRequest(panel, configured, undefined)).toBe(panel);
  });
});

describe('saving a run file', () => {
  it('names files relative to the run file’s folder', () => {
    expect(relativeTo('course', 'course/a.rpz')).toBe('a.rpz');
    expect(relativeTo('course/week1', 'data/x.txt')).toBe('../../data/x.txt');
    expect(relativeTo('', 'data/x.txt')).toBe('data/x.txt');
    expect(relativeTo('data', 'data')).toBe('../data');
    expect(runFilePathFor('work/shell-pipeline.rpz')).toBe(
      'work/shell-pipeline.rpzrun'
    );
  });

  it('writes the package, its sha256 and the edits, and reads back as the same edits', () => {
    const edits: RunEdits = {
      stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }],
      inputs: [
        { name: 'arg2', source: { kind: 'workspace', path: 'data/words.txt' } }
      ],
      limits: { memoryMiB: 1024, timeoutSeconds: 600 }
    };
    const runFile = makeRunFile({
      runFilePath: 'work/ex.rpzrun',
      packagePath: 'work/shell-pipeline.rpz',
      sha256: SHA,
      edits,
      title: ' Two words '
    });
    expect(runFile).toEqual({
      rpzrun: 1,
      title: 'Two words',
      package: { path: 'shell-pipeline.rpz', sha256: SHA },
      edits: {
        stepEdits: edits.stepEdits,
        inputs: [{ name: 'arg2', path: '../data/words.txt' }],
        limits: edits.limits
      }
    });
    const back = runFileEdits({
      path: 'work/ex.rpzrun',
      runFile,
      packagePath: 'work/shell-pipeline.rpz',
      inputPaths: { arg2: 'data/words.txt' },
      locked: false
    });
    expect(back).toEqual(edits);
  });

  it('refuses an input that is not a workspace file', () => {
    expect(() =>
      makeRunFile({
        runFilePath: 'ex.rpzrun',
        packagePath: 'p.rpz',
        sha256: SHA,
        edits: {
          inputs: [{ name: 'arg2', source: { kind: 'blob', sha256: SHA } }]
        }
      })
    ).toThrow(/not a file of the workspace/);
  });
});

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

function fakeClient(record: RunFileRecord, createRun?: () => unknown) {
  const calls: { name: string; args: unknown[] }[] = [];
  const answer = (name: string, value: () => unknown) =>
    jest.fn(async (...args: unknown[]) => {
      calls.push({ name, args });
      return value();
    });
  return {
    calls,
    backends: answer('backends', () => BACKENDS),
    version: answer('version', () => ({ name: 'reproserver', version: '0' })),
    readRunFile: answer('readRunFile', () => record),
    registerPackage: answer('registerPackage', () => ({ sha256: SHA })),
    getPackage: answer('getPackage', () => packageDetails()),
    listRuns: answer('listRuns', () => ({ runs: [] })),
    createRun: answer('createRun', createRun ?? (() => runRecord())),
    createImport: answer('createImport', () => ({
      id: 'i1',
      status: 'failed',
      error: { code: 'import-failed', message: 'Nothing answers there.' }
    })),
    openEvents: () => ({ close: () => undefined })
  };
}

async function openRunFile(client: ReturnType<typeof fakeClient>) {
  const services: IPanelServices = {
    trans,
    openFile: () => undefined,
    openFolder: () => undefined,
    copy: () => undefined,
    pickWorkspaceFile: async () => 'course/mine.txt'
  };
  const session = new PackageSession(
    client as unknown as ReproServerClient,
    'course/exercise.rpzrun',
    {
      limits: { memoryMiB: 1024, timeoutSeconds: 600 },
      backend: 'docker',
      outputFolder: '',
      autoSave: false
    }
  );
  const panel = new RpzPanel(session, services);
  Widget.attach(panel, document.body);
  const controller = new RunFileController(
    panel,
    client as unknown as ReproServerClient,
    'course/exercise.rpzrun',
    { trans, pickWorkspaceFile: services.pickWorkspaceFile }
  );
  await controller.open();
  await flush();
  return { panel, session, node: panel.node };
}

describe('a panel opened on a locked run file', () => {
  afterEach(() => {
    document.body.replaceChildren();
  });

  it('shows the instructions and only the open fields, and runs with the locked values', async () => {
    const client = fakeClient(exercise());
    const { panel, session, node } = await openRunFile(client);
    expect(session.path).toBe('course/shell-pipeline.rpz');
    const section = node.querySelector('.jp-ReproServer-runFile')!;
    expect(section.textContent).toContain('Word frequencies: how many words?');
    expect(section.textContent).toContain(
      'Change **how many words** it shows.'
    );
    // The open argument is a field, with the run file's value; the locked ones are listed.
    const field = section.querySelector<HTMLInputElement>(
      '[data-field="arg 0:3"] input'
    )!;
    expect(field.value).toBe('5');
    expect(section.querySelector('[data-field="input arg2"]')).not.toBeNull();
    const locked = section.querySelector('.jp-ReproServer-runFile-locked')!;
    expect(locked.textContent).toContain('Step 0, variable LANG: C');
    expect(locked.textContent).toContain('Time limit (seconds): 120');
    expect(locked.textContent).not.toContain('argument 3');
    // The tabs that edit fields are read-only, the limits in the toolbar too.
    panel.selectTab('parameters');
    expect(
      node
        .querySelector('fieldset.jp-ReproServer-lockedSection')
        ?.hasAttribute('disabled')
    ).toBe(true);
    const limits = [
      ...panel.controls.node.querySelectorAll<HTMLInputElement>(
        'input.jp-ReproServer-limit'
      )
    ];
    expect(limits.map(l => l.disabled)).toEqual([true, true]);

    field.value = '7';
    field.dispatchEvent(new Event('input'));
    await session.start();
    const run = client.calls.find(c => c.name === 'createRun')!;
    expect(run.args[0]).toMatchObject({
      package: SHA,
      runFile: 'course/exercise.rpzrun',
      edits: {
        stepEdits: [
          { step: 0, args: [{ index: 3, value: '7' }], setEnv: { LANG: 'C' } }
        ],
        inputs: [
          {
            name: 'arg1',
            source: { kind: 'workspace', path: 'course/script.sh' }
          }
        ],
        limits: { timeoutSeconds: 120 }
      }
    });
    expect((run.args[0] as { edits: RunEdits }).edits.limits).toEqual({
      timeoutSeconds: 120
    });
    panel.dispose();
  });

  it('shows the server’s sentence when it refuses a locked field', async () => {
    const sentence =
      'The run file "course/exercise.rpzrun" locks env 0:LANG: ask your instructor.';
    const client = fakeClient(exercise(), () => {
      throw new ReproServerError(sentence, 'locked-field', 403);
    });
    const { panel, session, node } = await openRunFile(client);
    await session.start();
    await flush();
    expect(
      node.querySelector('.jp-ReproServer-notice-error')?.textContent
    ).toContain(sentence);
    panel.dispose();
  });

  it('says where a missing package is published and fetches it', async () => {
    const record = exercise({ packagePath: null });
    record.runFile.package.source = 'https://example.org/shell-pipeline.rpz';
    const client = fakeClient(record);
    const { panel, node } = await openRunFile(client);
    const section = node.querySelector('.jp-ReproServer-runFile')!;
    expect(section.textContent).toContain(
      'It is published at https://example.org/shell-pipeline.rpz.'
    );
    expect(client.calls.some(c => c.name === 'registerPackage')).toBe(false);
    const fetch = [...section.querySelectorAll('button')].find(
      b => b.textContent === 'Fetch the package'
    )!;
    fetch.click();
    await flush();
    expect(client.calls.find(c => c.name === 'createImport')?.args[0]).toEqual({
      source: 'https://example.org/shell-pipeline.rpz',
      to: 'course'
    });
    expect(section.textContent).toContain('Nothing answers there.');
    panel.dispose();
  });
});
