/**
 * Run files are written by hand: their JSON Schema (docs/rpzrun.schema.json, for editors) is the
 * contract's, kept up to date here (`UPDATE_RUNFILE_SCHEMA=1` rewrites it), and the example in
 * examples/ is a valid run file for the example package beside it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { standaloneSchema } from '../../../src/api/openapi';
import { RunFileSchema } from '../../../src/contract/schemas/runfile';
import { validate } from '../../../src/contract/validate';
import { overlayEdits } from '../../../src/runfiles/overlay';

const ROOT = join(__dirname, '..', '..', '..', '..');
const SCHEMA_FILE = join(ROOT, 'docs', 'rpzrun.schema.json');
const SCHEMA_ID =
  'https://github.com/reproserver/jupyterlab-reproserver/blob/main/docs/rpzrun.schema.json';

describe('the run file format', () => {
  it('has its JSON Schema in docs/, generated from the contract', () => {
    const generated = `${JSON.stringify(standaloneSchema('RunFile', SCHEMA_ID), null, 2)}\n`;
    if (process.env.UPDATE_RUNFILE_SCHEMA === '1') {
      writeFileSync(SCHEMA_FILE, generated);
    }
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(generated);
  });

  it('has an example for the example package, with its sha256', () => {
    const runFile = validate(
      RunFileSchema,
      JSON.parse(
        readFileSync(join(ROOT, 'examples', 'exercise.rpzrun'), 'utf8')
      )
    );
    const rpz = readFileSync(join(ROOT, 'examples', runFile.package.path!));
    expect(runFile.package.sha256).toBe(
      createHash('sha256').update(rpz).digest('hex')
    );
    expect(runFile.open?.length).toBeGreaterThan(0);
  });

  it('refuses unknown fields and a version it does not read', () => {
    expect(() =>
      validate(RunFileSchema, {
        rpzrun: 1,
        package: { path: 'a.rpz' },
        lock: []
      })
    ).toThrow(
      expect.objectContaining({
        code: 'bad-run-file',
        message: expect.stringContaining('unknown fields: lock')
      })
    );
    expect(() =>
      validate(RunFileSchema, { rpzrun: 2, package: { path: 'a.rpz' } })
    ).toThrow(expect.objectContaining({ code: 'bad-run-file' }));
  });
});

describe('flags over a run file’s edits', () => {
  const base = {
    stepEdits: [
      { step: 0, args: [{ index: 3, value: '5' }], setEnv: { A: '1' } }
    ],
    inputs: [{ name: 'in', source: { kind: 'file' as const, path: '/x' } }],
    limits: { timeoutSeconds: 60 }
  };

  it('replaces the fields the flags set and keeps the others', () => {
    expect(
      overlayEdits(base, {
        stepEdits: [
          { step: 0, args: [{ index: 3, value: '2' }], unsetEnv: ['A'] },
          { step: 1, setEnv: { B: '2' } }
        ],
        limits: { memoryMiB: 256 }
      })
    ).toEqual({
      stepEdits: [
        {
          step: 0,
          args: [{ index: 3, value: '2' }],
          setEnv: {},
          unsetEnv: ['A']
        },
        { step: 1, setEnv: { B: '2' } }
      ],
      inputs: base.inputs,
      limits: { timeoutSeconds: 60, memoryMiB: 256 }
    });
  });

  it('drops the single arguments of a command line the flags replace', () => {
    expect(
      overlayEdits(base, { stepEdits: [{ step: 0, argv: ['sh', 'b.sh'] }] })
        .stepEdits
    ).toEqual([{ step: 0, argv: ['sh', 'b.sh'], setEnv: { A: '1' } }]);
  });

  it('leaves the base untouched', () => {
    const copy = structuredClone(base);
    overlayEdits(base, {
      stepEdits: [{ step: 0, args: [{ index: 3, value: '9' }] }]
    });
    expect(base).toEqual(copy);
  });
});
