import type { RunFileField } from '../../../src/contract/schemas/runfile';
import { fieldValues, lockedChanges } from '../../../src/runfiles/fields';
import { besideRunFile, runFileEdits } from '../../../src/runfiles/paths';
import type { RunEdits } from '../../../src/runs/edits';

const configured: RunEdits = {
  stepEdits: [
    { step: 0, args: [{ index: 2, value: '3' }], setEnv: { SEED: '1' } }
  ],
  inputs: [
    { name: 'words', source: { kind: 'workspace', path: 'ex/words.txt' } }
  ],
  limits: { timeoutSeconds: 60 }
};

describe('a run file’s fields', () => {
  it('lists every field the edits set, by a key that reads well', () => {
    expect(
      Object.fromEntries(
        fieldValues({
          ...configured,
          steps: [0],
          stepEdits: [
            {
              step: 1,
              argv: ['sh', 'x'],
              args: [{ index: 1, value: 'y' }],
              unsetEnv: ['HOME']
            }
          ]
        })
      )
    ).toEqual({
      steps: '[0]',
      'cmdline 1': '["sh","x"]',
      'arg 1:1': 'y',
      'env 1:HOME': 'unset',
      'input words': 'workspace ex/words.txt',
      'limit timeoutSeconds': '60'
    });
  });

  it('locks nothing without a list of open fields', () => {
    expect(lockedChanges(configured, {}, undefined)).toEqual([]);
  });

  it('lets the open fields change and refuses every other change', () => {
    const open: RunFileField[] = [{ kind: 'arg', step: 0, index: 2 }];
    const requested: RunEdits = {
      ...configured,
      stepEdits: [
        { step: 0, args: [{ index: 2, value: '5' }], setEnv: { SEED: '1' } }
      ]
    };
    expect(lockedChanges(configured, requested, open)).toEqual([]);
    expect(
      lockedChanges(
        configured,
        {
          ...requested,
          stepEdits: [
            {
              step: 0,
              args: [
                { index: 2, value: '5' },
                { index: 1, value: 'other.txt' }
              ],
              setEnv: { SEED: '2' }
            }
          ],
          limits: {}
        },
        open
      )
    ).toEqual([
      { field: 'arg 0:1', locked: null, requested: 'other.txt' },
      { field: 'env 0:SEED', locked: 'set 1', requested: 'set 2' },
      { field: 'limit timeoutSeconds', locked: '60', requested: null }
    ]);
  });

  it('opens every argument of a step with its command line', () => {
    const open: RunFileField[] = [{ kind: 'cmdline', step: 0 }];
    const requested: RunEdits = {
      ...configured,
      stepEdits: [
        {
          step: 0,
          argv: ['sh', 'b.sh'],
          args: [{ index: 2, value: '9' }],
          setEnv: { SEED: '1' }
        }
      ]
    };
    expect(lockedChanges(configured, requested, open)).toEqual([]);
  });

  it('refuses another input file, or an upload in place of one', () => {
    const open: RunFileField[] = [{ kind: 'limit', name: 'timeoutSeconds' }];
    expect(
      lockedChanges(
        configured,
        {
          ...configured,
          inputs: [
            { name: 'words', source: { kind: 'blob', sha256: 'a'.repeat(64) } }
          ]
        },
        open
      ).map(change => change.field)
    ).toEqual(['input words']);
  });
});

describe('paths beside a run file', () => {
  it('resolves against the run file’s folder', () => {
    expect(besideRunFile('course/ex1.rpzrun', 'data/words.txt')).toBe(
      'course/data/words.txt'
    );
    expect(besideRunFile('course/ex1.rpzrun', '../shared/p.rpz')).toBe(
      'shared/p.rpz'
    );
    expect(besideRunFile('ex1.rpzrun', 'p.rpz')).toBe('p.rpz');
  });

  it('never leaves the workspace', () => {
    expect(() =>
      besideRunFile('course/ex1.rpzrun', '../../etc/passwd')
    ).toThrow(expect.objectContaining({ code: 'bad-path' }));
    expect(() => besideRunFile('ex1.rpzrun', '/etc/passwd')).toThrow(
      expect.objectContaining({ code: 'bad-path' })
    );
  });

  it('turns the run file’s inputs into workspace files', () => {
    expect(
      runFileEdits(
        {
          rpzrun: 1,
          package: { path: 'p.rpz' },
          edits: {
            inputs: [{ name: 'words', path: 'words.txt' }],
            limits: { timeoutSeconds: 60 }
          }
        },
        'ex/a.rpzrun'
      )
    ).toEqual({
      inputs: [
        { name: 'words', source: { kind: 'workspace', path: 'ex/words.txt' } }
      ],
      limits: { timeoutSeconds: 60 }
    });
  });
});
