/**
 * Request bodies are validated against the schemas of the route table: a mistake answers its
 * error code and one sentence naming the field; a good body comes back typed, with the fields the
 * schema does not declare dropped.
 */
import { validate } from '../../../src/contract/validate';
import { ROUTES } from '../../../src/contract/routes';

/** The code and message a body is refused with, or `ok`. */
function outcome(
  schema: Parameters<typeof validate>[0],
  body: unknown
): { code: string; message: string } | 'ok' {
  try {
    validate(schema, body);
    return 'ok';
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  }
}

describe('POST /api/runs', () => {
  const schema = ROUTES.createRun.body.schema;
  const run = (extra: object) => ({ package: 'f'.repeat(64), ...extra });

  it.each([
    [{}, 'bad-request', 'Give the package to run as {"package": "<sha256>"}.'],
    [[], 'bad-request', 'The request body must be a JSON object.'],
    [null, 'bad-request', 'The request body must be a JSON object.'],
    [
      run({ backend: 'kubernetes' }),
      'bad-backend',
      'Unknown backend "kubernetes": use auto, docker, sandbox or slurm.'
    ],
    [
      run({ acceptWeakIsolation: 'yes' }),
      'bad-request',
      'acceptWeakIsolation is true or false.'
    ],
    [run({ edits: 'x' }), 'bad-edits', 'edits must be an object.'],
    [
      run({ edits: { stepEdits: 'x' } }),
      'bad-edits',
      'edits.stepEdits must be a list.'
    ],
    [
      run({ edits: { colour: 'red', size: 1 } }),
      'bad-edits',
      'edits has unknown fields: colour, size.'
    ],
    [
      run({ edits: { steps: 'all' } }),
      'bad-edits',
      'edits.steps must be a list of step indexes.'
    ],
    [
      run({ edits: { steps: [0, 'one'] } }),
      'bad-edits',
      'edits.steps[1] must be a whole number.'
    ],
    [
      run({ edits: { stepEdits: [{ step: '0' }] } }),
      'bad-edits',
      'edits.stepEdits[0].step must be a whole number.'
    ],
    [
      run({ edits: { stepEdits: [{ step: 0, argv: 'ls -l' }] } }),
      'bad-edits',
      'edits.stepEdits[0].argv must be a list of strings.'
    ],
    [
      run({ edits: { stepEdits: [{ step: 0, args: ['2'] }] } }),
      'bad-edits',
      'edits.stepEdits[0].args[0] must be {index, value} with a string value.'
    ],
    [
      run({
        edits: { stepEdits: [{ step: 0, args: [{ index: 1, value: 2 }] }] }
      }),
      'bad-edits',
      'edits.stepEdits[0].args[0].value must be a string.'
    ],
    [
      run({ edits: { stepEdits: [{ step: 0, setEnv: { N: 1 } }] } }),
      'bad-edits',
      'edits.stepEdits[0].setEnv.N must be a string.'
    ],
    [
      run({
        edits: {
          inputs: [{ name: 'x', source: { kind: 'file', path: '/etc/passwd' } }]
        }
      }),
      'bad-edits',
      "edits.inputs[0].source must be {kind: 'workspace', path} or {kind: 'blob', sha256}."
    ],
    [
      run({ edits: { inputs: ['x'] } }),
      'bad-edits',
      'edits.inputs[0] must be {name, source}.'
    ],
    [
      run({ edits: { limits: { memoryMiB: 'lots' } } }),
      'bad-edits',
      'The limit memoryMiB must be a number.'
    ],
    [
      run({ edits: { limits: { memory: 1 } } }),
      'bad-edits',
      'edits.limits has unknown limits: memory; known: memoryMiB, cpus, pids, timeoutSeconds, outputBytes, logBytes, diskMiB.'
    ]
  ])('refuses %j: %s', (body, code, message) => {
    expect(outcome(schema, body)).toEqual({ code, message });
  });

  it('cuts a long value short in its sentence', () => {
    expect(outcome(schema, run({ backend: 'k'.repeat(1000) }))).toEqual({
      code: 'bad-backend',
      message: `Unknown backend "${'k'.repeat(56)}...: use auto, docker, sandbox or slurm.`
    });
  });

  it('returns a good body typed, without the fields it does not declare', () => {
    const body = validate(schema, {
      package: 'p',
      backend: 'sandbox',
      colour: 'red',
      edits: {
        steps: [0],
        stepEdits: [{ step: 0, args: [{ index: 1, value: 'x' }], note: 'n' }],
        inputs: [{ name: 'in', source: { kind: 'blob', sha256: 'abc' } }],
        limits: { cpus: 0.5 }
      }
    });
    expect(body).toEqual({
      package: 'p',
      backend: 'sandbox',
      edits: {
        steps: [0],
        stepEdits: [{ step: 0, args: [{ index: 1, value: 'x' }] }],
        inputs: [{ name: 'in', source: { kind: 'blob', sha256: 'abc' } }],
        limits: { cpus: 0.5 }
      }
    });
  });
});

describe('POST /api/packages and POST /api/runs/:id/save', () => {
  it.each([
    [{}, 'Give the package as {"path": "<path in the workspace>"}.'],
    [{ path: 42 }, 'Give the package as {"path": "<path in the workspace>"}.'],
    ['x', 'The request body must be a JSON object.']
  ])('POST /api/packages refuses %j', (body, message) => {
    expect(outcome(ROUTES.registerPackage.body.schema, body)).toEqual({
      code: 'bad-request',
      message
    });
  });

  it('POST /api/runs/:id/save takes an empty body, and refuses a folder that is not a string', () => {
    const schema = ROUTES.saveOutputs.body.schema;
    expect(outcome(schema, {})).toBe('ok');
    expect(outcome(schema, { folder: 3 })).toEqual({
      code: 'bad-request',
      message: 'The folder must be a path in the workspace.'
    });
  });
});
