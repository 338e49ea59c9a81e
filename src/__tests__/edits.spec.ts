/* eslint-disable jupyter/no-untranslated-string -- test data, not UI text */
import {
  EditsModel,
  commandForEdits,
  fieldValue,
  fieldsFromParameters,
  itemFromValue
} from '../model/edits';
import { splitCommandLine } from 'reproserver/contract';
import { packageDetails } from './fixtures';

function model(): EditsModel {
  const d = packageDetails();
  return new EditsModel(d.model, d.parameters, {
    memoryMiB: 2048,
    timeoutSeconds: 3600
  });
}

describe('parameter fields', () => {
  it('types the items of a command line from the server classification', () => {
    const d = packageDetails();
    const fields = fieldsFromParameters(d.model.runs[0].argv, d.parameters[0]);
    expect(fields.map(f => f.kind)).toEqual([
      'program',
      'file',
      'file',
      'number'
    ]);
    expect(fields[2]).toMatchObject({ file: 1, role: 'input' });
    expect(fields[3].valueType).toBe('number');

    const fit = fieldsFromParameters(d.model.runs[1].argv, d.parameters[1]);
    expect(fit.map(f => f.kind)).toEqual([
      'program',
      'text',
      'option',
      'option-value',
      'option'
    ]);
    expect(fit[3]).toMatchObject({ option: '--n', valueType: 'number' });
    expect(fit[4]).toMatchObject({ option: '--mode', inline: true });
    expect(fieldValue(fit[4], '--mode=fast')).toBe('fast');
    expect(itemFromValue(fit[4], 'slow')).toBe('--mode=slow');
  });
});

describe('EditsModel', () => {
  it('sends only the limits when nothing changed', () => {
    const edits = model();
    expect(edits.isChanged).toBe(false);
    expect(edits.toRunEdits()).toEqual({
      limits: { memoryMiB: 2048, timeoutSeconds: 3600 }
    });
  });

  it('turns a changed argument into an args edit and marks it', () => {
    const edits = model();
    const seen: boolean[] = [];
    edits.changed.connect((_, c) => seen.push(c.structural));
    edits.setArg(0, 3, '2');
    expect(seen).toEqual([false]);
    expect(edits.steps[0].isArgChanged(3)).toBe(true);
    expect(edits.steps[0].isArgChanged(2)).toBe(false);
    expect(edits.isChanged).toBe(true);
    expect(edits.toRunEdits().stepEdits).toEqual([
      { step: 0, args: [{ index: 3, value: '2' }] }
    ]);
    edits.resetArg(0, 3);
    expect(edits.isChanged).toBe(false);
    expect(edits.toRunEdits().stepEdits).toBeUndefined();
  });

  it('edits the environment: add, change, remove, reset', () => {
    const edits = model();
    edits.addEnv(0);
    edits.setEnv(0, 2, 'SEED', '42');
    edits.setEnv(0, 1, 'LANG', 'C');
    edits.removeEnv(0, 0); // PATH
    expect(edits.toRunEdits().stepEdits).toEqual([
      { step: 0, setEnv: { LANG: 'C', SEED: '42' }, unsetEnv: ['PATH'] }
    ]);
    expect(edits.steps[0].envChanged).toBe(true);
    edits.resetEnv(0);
    expect(edits.steps[0].envChanged).toBe(false);
    expect(edits.toRunEdits().stepEdits).toBeUndefined();
  });

  it('deselects steps and replaces inputs', () => {
    const edits = model();
    edits.setSelected(1, false);
    edits.replaceInput('arg2', {
      source: { kind: 'workspace', path: 'data/other.txt' },
      label: 'data/other.txt'
    });
    edits.setLimits({ memoryMiB: 512 });
    const result = edits.toRunEdits();
    expect(result.steps).toEqual([0]);
    expect(result.inputs).toEqual([
      { name: 'arg2', source: { kind: 'workspace', path: 'data/other.txt' } }
    ]);
    expect(result.limits).toEqual({ memoryMiB: 512, timeoutSeconds: 3600 });
    edits.resetAll();
    expect(edits.isChanged).toBe(false);
    expect(edits.toRunEdits().limits?.memoryMiB).toBe(2048);
  });

  it('edits the raw command line and goes back to fields when it can', () => {
    const edits = model();
    expect(edits.setRaw(0, true)).toBeNull();
    expect(edits.steps[0].rawText).toBe('sh wordfreq.sh words.txt 3');
    edits.setRawText(0, "sh wordfreq.sh 'my words.txt' 3 extra");
    expect(edits.toRunEdits().stepEdits).toEqual([
      { step: 0, argv: ['sh', 'wordfreq.sh', 'my words.txt', '3', 'extra'] }
    ]);
    expect(edits.setRaw(0, false)).toMatch(/5 items instead of 4/);
    edits.setRawText(0, 'sh wordfreq.sh "my words.txt" 4');
    expect(edits.setRaw(0, false)).toBeNull();
    expect(edits.steps[0].values).toEqual([
      'sh',
      'wordfreq.sh',
      'my words.txt',
      '4'
    ]);
    edits.setRaw(0, true);
    edits.setRawText(0, "sh 'unclosed");
    expect(() => edits.toRunEdits()).toThrow(/Unclosed single quote/);
  });

  it('applies the edits of an earlier run (re-run)', () => {
    const edits = model();
    edits.setArg(0, 3, '2');
    edits.setSelected(1, false);
    edits.replaceInput('arg2', {
      source: { kind: 'blob', sha256: 'b'.repeat(64) },
      label: 'words.txt'
    });
    const recorded = edits.toRunEdits();
    const other = model();
    other.applyRunEdits(recorded);
    expect(other.toRunEdits()).toEqual(recorded);
    expect(other.steps[0].values[3]).toBe('2');
    expect(other.steps[1].selected).toBe(false);
  });
});

describe('commandForEdits', () => {
  it('gives the equivalent reproserver run line', () => {
    const line = commandForEdits(
      'work/shell pipeline.rpz',
      {
        steps: [0],
        stepEdits: [
          {
            step: 0,
            args: [{ index: 3, value: '2' }],
            setEnv: { SEED: '4 2' },
            unsetEnv: ['LANG']
          },
          { step: 1, argv: ['python3', 'fit.py', "it's"] }
        ],
        inputs: [
          { name: 'arg2', source: { kind: 'workspace', path: 'data/w.txt' } }
        ],
        limits: { timeoutSeconds: 60, memoryMiB: 512 }
      },
      'out/r1'
    );
    // The shell reads it back into exactly these words.
    const words = splitCommandLine(line);
    expect(words).toEqual([
      'reproserver',
      'run',
      'work/shell pipeline.rpz',
      '--out',
      'out/r1',
      '--steps',
      '0',
      '--arg',
      '0:3=2',
      '--env',
      '0:SEED=4 2',
      '--unset-env',
      '0:LANG',
      '--cmdline',
      "1=python3 fit.py 'it'\\''s'",
      '--input',
      'arg2=data/w.txt',
      '--timeout',
      '60',
      '--memory',
      '512'
    ]);
    expect(splitCommandLine(words[14].slice(2))).toEqual([
      'python3',
      'fit.py',
      "it's"
    ]);
  });
});
