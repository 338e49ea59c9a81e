/**
 * RunService answers every error it can with its code (`errors.ts`): each test makes one happen
 * through the service's public methods. What the service isolates is faked: the Docker engine's
 * ping, the sandbox's detection and isolation, the backends (a fake run) and the image builder;
 * the stores are real, in a temporary folder.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BackendIsolation } from '../../../src/contract/wire';
import type { RunBackendOptions } from '../../../src/backends/common/run-backend';
import { FINAL_STATUSES, type RunEvent } from '../../../src/runs/events';

/** The fakes' state, set by each test (jest hoists the mocks above the imports). */
const mockWorld = {
  docker: true,
  sandbox: true,
  isolation: {
    files: true,
    network: true,
    processes: true
  } as Partial<BackendIsolation>,
  /** How the fake backend runs: to success at once, or until it is cancelled. */
  backend: 'succeed' as 'succeed' | 'hold'
};

jest.mock('../../../src/backends/docker/ping', () => ({
  pingDocker: async () =>
    mockWorld.docker ? { ok: true } : { ok: false, reason: 'no daemon here' }
}));
jest.mock('../../../src/backends/sandbox/detect', () => ({
  detectSandbox: async () => ({
    available: mockWorld.sandbox,
    mechanism: mockWorld.sandbox ? 'proot' : null,
    detail: mockWorld.sandbox ? 'A fake sandbox.' : 'No sandbox program here.'
  })
}));
jest.mock('../../../src/backends/detect', () => ({
  sandboxIsolation: async () => mockWorld.isolation
}));
jest.mock('../../../src/backends/docker/helper-path', () => ({
  helperPath: () => '/fake/helper'
}));
jest.mock('../../../src/backends/docker/runner', () => ({
  runOnDocker: (options: RunBackendOptions) => mockRun(options),
  startedByOlderVersion: async () => false
}));
jest.mock('../../../src/backends/sandbox/runner', () => ({
  runOnSandbox: (options: RunBackendOptions) => mockRun(options)
}));
jest.mock('../../../src/sandbox', () => ({
  prepareRootfs: async () => ({ reused: true })
}));

/** The fake backend: a running status, one output stored through the sink, the end. */
async function mockRun(
  options: RunBackendOptions
): Promise<{ status: 'succeeded' | 'cancelled' }> {
  const emit = (event: RunEvent): void => options.onEvent(event);
  emit({ type: 'status', time: Date.now(), status: 'running' });
  if (mockWorld.backend === 'hold') {
    await new Promise<void>(resolve => {
      if (options.signal?.aborted) {
        resolve();
      }
      options.signal?.addEventListener('abort', () => resolve());
    });
    emit({ type: 'status', time: Date.now(), status: 'cancelled' });
    emit({ type: 'end', time: Date.now(), status: 'cancelled' });
    return { status: 'cancelled' };
  }
  const output = {
    name: 'out',
    path: '/home/ana/exp/out.txt',
    kind: 'declared' as const
  };
  const stored = await options.sink.store(output, Readable.from(['result\n']));
  emit({
    type: 'output',
    time: Date.now(),
    ...output,
    ...stored,
    uid: 1000,
    gid: 1000,
    mode: 0o644
  });
  emit({ type: 'status', time: Date.now(), status: 'succeeded' });
  emit({ type: 'end', time: Date.now(), status: 'succeeded' });
  return { status: 'succeeded' };
}

import { DomainError, type ErrorCode } from '../../../src/errors';
import type { PackageModel, RunModel } from '../../../src/rpz/model';
import type { RunEdits } from '../../../src/runs/edits';
import type { BuildService } from '../../../src/service/builds';
import { PackageService } from '../../../src/service/packages';
import { RunService, type RunServiceOptions } from '../../../src/service/runs';
import { openStore, type Store } from '../../../src/store';

const step = (overrides: Partial<RunModel>): RunModel => ({
  id: 'run0',
  argv: ['sh', 'go.sh', 'in.txt'],
  binary: '/usr/bin/sh',
  environ: { PATH: '/usr/bin:/bin' },
  workingdir: '/home/ana/exp',
  uid: 1000,
  gid: 1000,
  exitcode: 0,
  signal: null,
  architecture: 'x86_64',
  distribution: { name: 'debian', version: '12' },
  hostname: 'lab',
  system: null,
  ...overrides
});

/** One step reading `in` and writing `out`. */
const modelOf = (sha256: string, runs: RunModel[]): PackageModel => ({
  format: 2,
  container: 'v2-tar',
  sha256,
  size: 1000,
  configVersion: '0.8',
  packId: null,
  runs,
  files: [
    { name: 'in', path: '/home/ana/exp/in.txt', readBy: [0], writtenBy: [] },
    { name: 'out', path: '/home/ana/exp/out.txt', readBy: [], writtenBy: [0] }
  ],
  packages: [],
  otherFiles: [],
  data: { compressedSize: 10, listedPaths: 2 },
  trace: { status: 'absent' },
  extensions: [],
  warnings: []
});

const PKG = 'a'.repeat(64);
const EMPTY_PKG = 'b'.repeat(64);

let root: string;
let workspace: string;
let store: Store;
let runs: RunService;

function makeService(options: Partial<RunServiceOptions> = {}): RunService {
  const stateDir = join(root, 'state');
  const packages = new PackageService({
    records: store.records,
    blobs: store.blobs,
    workspace,
    stateDir,
    maxUploadBytes: 1024
  });
  const builds = {
    ensure: async () => 'fake-image'
  } as unknown as BuildService;
  return new RunService({
    records: store.records,
    blobs: store.blobs,
    logs: store.logs,
    packages,
    builds,
    workspace,
    stateDir,
    dockerSocket: join(root, 'no-docker.sock'),
    concurrency: 2,
    runsPerPackagePerMinute: 100,
    maxUploadBytes: 1024,
    ...options
  });
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'reproserver-runservice-'));
  workspace = join(root, 'workspace');
  mkdirSync(workspace);
  store = openStore(join(root, 'state'));
  for (const [sha256, runsOf] of [
    [PKG, [step({})]],
    [EMPTY_PKG, []]
  ] as const) {
    store.records.putPackage({
      sha256,
      name: 'exp.rpz',
      size: 1000,
      model: modelOf(sha256, [...runsOf]),
      source: { kind: 'blob' }
    });
  }
  Object.assign(mockWorld, {
    docker: true,
    sandbox: true,
    isolation: { files: true, network: true, processes: true },
    backend: 'succeed'
  });
  runs = makeService();
});

afterEach(async () => {
  jest.restoreAllMocks();
  await runs.idle();
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

/** Resolves with the DomainError `work` rejects with; fails the test if it does not reject so. */
async function domainError(work: () => Promise<unknown>): Promise<DomainError> {
  let thrown: unknown;
  try {
    await work();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DomainError);
  return thrown as DomainError;
}

async function expectCode(
  work: () => Promise<unknown>,
  code: ErrorCode,
  message: RegExp
): Promise<void> {
  const error = await domainError(work);
  expect({ code: error.code, message: error.message }).toEqual({
    code,
    message: expect.stringMatching(message)
  });
}

const create = (edits?: RunEdits, more: object = {}): Promise<unknown> =>
  runs.create({ package: PKG, edits, ...more });

/** A finished run (the fake backend succeeds, writing the output `out`). */
async function finishedRun(): Promise<string> {
  const run = await runs.create({ package: PKG });
  await runs.idle();
  expect(runs.get(run.id).status).toBe('succeeded');
  return run.id;
}

/** A run the fake backend holds as running until it is cancelled. */
async function runningRun(): Promise<string> {
  mockWorld.backend = 'hold';
  const run = await runs.create({ package: PKG });
  for (let i = 0; i < 100 && runs.get(run.id).status !== 'running'; i++) {
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  expect(runs.get(run.id).status).toBe('running');
  return run.id;
}

describe('RunService: the run asked for does not exist (not-found)', () => {
  const missing = 'no-such-run';
  it.each([
    ['get', () => Promise.resolve().then(() => runs.get(missing))],
    ['cancel', () => runs.cancel(missing)],
    ['delete', () => runs.delete(missing)],
    ['output', () => runs.output(missing, 'out')],
    ['save', () => runs.save(missing)]
  ])('%s answers not-found', async (_name, work) => {
    await expectCode(work, 'not-found', /^Run no-such-run does not exist\.$/);
  });

  it('an id that could not be a run id is not looked up, and not found', async () => {
    await expectCode(
      () => Promise.resolve().then(() => runs.get('../etc/passwd')),
      'not-found',
      /^Run \.\.\/etc\/passwd does not exist\.$/
    );
  });
});

describe('RunService.create', () => {
  it('answers not-found for a package that is not registered', async () => {
    await expectCode(
      () => runs.create({ package: 'c'.repeat(64) }),
      'not-found',
      /^No package with sha256 c{64} is registered\.$/
    );
  });

  it('answers bad-backend for a backend it does not know', async () => {
    await expectCode(
      () => create({}, { backend: 'cloud' }),
      'bad-backend',
      /^Unknown backend "cloud": use auto, docker, sandbox or slurm\.$/
    );
  });

  it('answers backend-unavailable when Docker is asked for and does not answer', async () => {
    mockWorld.docker = false;
    await expectCode(
      () => create({}, { backend: 'docker' }),
      'backend-unavailable',
      /^Docker is unavailable: no daemon here\.$/
    );
  });

  it('answers backend-unavailable when no backend works (auto)', async () => {
    mockWorld.docker = false;
    mockWorld.sandbox = false;
    await expectCode(
      () => create(),
      'backend-unavailable',
      /^No backend can run experiments here\. Docker: no daemon here\. No sandbox program here\.$/
    );
  });

  it('answers backend-unavailable when the sandbox is asked for and does not work', async () => {
    mockWorld.sandbox = false;
    await expectCode(
      () => create({}, { backend: 'sandbox' }),
      'backend-unavailable',
      /^No sandbox program here\.$/
    );
  });

  it('answers weak-isolation-consent for a weakly isolating sandbox without consent, and starts with it', async () => {
    mockWorld.docker = false;
    mockWorld.isolation = { files: false, network: false, processes: false };
    await expectCode(
      () => create(),
      'weak-isolation-consent',
      /^The sandbox backend does not isolate this experiment from your account here: .*acceptWeakIsolation/
    );
    expect(runs.list()).toEqual([]);
    const run = await runs.create({ package: PKG, acceptWeakIsolation: true });
    expect(run.backend).toBe('sandbox');
  });

  it('answers weak-isolation-refused on a server refusing such runs, consent or not', async () => {
    runs = makeService({ weakIsolation: 'refuse' });
    mockWorld.docker = false;
    mockWorld.isolation = { files: true, network: false, processes: true };
    await expectCode(
      () => create({}, { acceptWeakIsolation: true }),
      'weak-isolation-refused',
      /could connect to the network.*This server refuses such runs \(--weak-isolation refuse\)/
    );
  });

  it('asks no consent for a sandbox isolating files and network', async () => {
    mockWorld.docker = false;
    mockWorld.isolation = { files: true, network: true, processes: false };
    expect((await runs.create({ package: PKG })).backend).toBe('sandbox');
  });

  it('answers too-many-runs past the runs a package may start per minute', async () => {
    runs = makeService({ runsPerPackagePerMinute: 2 });
    await create();
    await create();
    await expectCode(
      () => create(),
      'too-many-runs',
      /^This package was started 2 times in the last minute; wait a little\.$/
    );
  });

  it('answers queue-full past the cap on runs not ended, a sweep’s runs counted whole', async () => {
    runs = makeService({ maxQueuedRuns: 3 });
    await create();
    await create();
    await expectCode(
      () => runs.admit(PKG, {}, 2),
      'queue-full',
      /^The server has 2 runs queued or running and takes at most 3, so not these 2; wait for some to end or cancel some\.$/
    );
    await create();
    await expectCode(
      () => create(),
      'queue-full',
      /^The server has 3 runs queued or running and takes at most 3; wait/
    );
    await runs.idle();
    // Ended runs free their room.
    await create();
    await runs.idle();
  });

  describe('inputs', () => {
    const fromWorkspace = (path: string): RunEdits => ({
      inputs: [{ name: 'in', source: { kind: 'workspace', path } }]
    });

    it('stores a workspace input as a blob, named by it in the edits', async () => {
      writeFileSync(join(workspace, 'in.txt'), 'hello');
      const run = await runs.create({
        package: PKG,
        edits: fromWorkspace('in.txt')
      });
      const [input] = run.edits.inputs ?? [];
      expect(input.source.kind).toBe('blob');
      await runs.idle();
    });

    it('answers not-found for a workspace input that does not exist', async () => {
      await expectCode(
        () => create(fromWorkspace('gone.txt')),
        'not-found',
        /^The input file "gone.txt" does not exist in the workspace\.$/
      );
    });

    it('answers not-a-file for a workspace input that is a folder', async () => {
      mkdirSync(join(workspace, 'folder'));
      await expectCode(
        () => create(fromWorkspace('folder')),
        'not-a-file',
        /^The input "in" is not a file: folder$/
      );
    });

    it('answers too-large for a workspace input over the upload limit', async () => {
      writeFileSync(join(workspace, 'big.txt'), Buffer.alloc(2048));
      await expectCode(
        () => create(fromWorkspace('big.txt')),
        'too-large',
        /./
      );
    });

    it('answers bad-path for a workspace input leaving the workspace by ..', async () => {
      await expectCode(
        () => create(fromWorkspace('../state/records.sqlite')),
        'bad-path',
        /leaves the workspace/
      );
    });

    it('answers outside-workspace for a workspace input a symlink leads out of it', async () => {
      writeFileSync(join(root, 'secret.txt'), 'secret');
      symlinkSync(join(root, 'secret.txt'), join(workspace, 'link.txt'));
      await expectCode(
        () => create(fromWorkspace('link.txt')),
        'outside-workspace',
        /^The input file "link.txt" leads outside the workspace\.$/
      );
    });

    it('answers unknown-upload for an upload the server does not have', async () => {
      await expectCode(
        () =>
          create({
            inputs: [
              { name: 'in', source: { kind: 'blob', sha256: 'd'.repeat(64) } }
            ]
          }),
        'unknown-upload',
        /^No uploaded file has the sha256 d{64}\.$/
      );
      await expectCode(
        () =>
          create({
            inputs: [{ name: 'in', source: { kind: 'blob', sha256: 'nope' } }]
          }),
        'unknown-upload',
        /nope/
      );
    });

    it('answers bad-input for an input from neither the workspace nor an upload', async () => {
      await expectCode(
        () =>
          create({
            inputs: [
              { name: 'in', source: { kind: 'file', path: '/etc/passwd' } }
            ]
          } as unknown as RunEdits),
        'bad-input',
        /^The input "in" must come from the workspace or an upload\.$/
      );
    });
  });

  describe('edits that do not fit the package (the plan)', () => {
    it.each<[ErrorCode, RunEdits, RegExp]>([
      [
        'unknown-step',
        { steps: [3] },
        /^Unknown step 3: this package has 1 step: 0 \(run0\)\.$/
      ],
      ['unknown-step', { steps: [] }, /No step is selected/],
      [
        'arg-out-of-range',
        { stepEdits: [{ step: 0, args: [{ index: 9, value: 'x' }] }] },
        /there is no argument 9/
      ],
      ['empty-command', { stepEdits: [{ step: 0, argv: [] }] }, /is empty/],
      [
        'bad-env',
        { stepEdits: [{ step: 0, setEnv: { 'A=B': 'x' } }] },
        /"A=B" cannot be an environment variable name/
      ],
      ['bad-limit', { limits: { memoryMiB: 1 } }, /at least 6 MiB/],
      ['bad-limit', { limits: { cpus: -1 } }, /must be a positive number/]
    ])('answers %s for %j', async (code, edits, message) => {
      await expectCode(() => create(edits), code, message);
      expect(runs.list()).toEqual([]);
    });

    it('answers unknown-input for an input the package does not read', async () => {
      writeFileSync(join(workspace, 'x.txt'), 'x');
      await expectCode(
        () =>
          create({
            inputs: [
              { name: 'out', source: { kind: 'workspace', path: 'x.txt' } }
            ]
          }),
        'unknown-input',
        /^"out" is not an input of this package; its inputs are: in\.$/
      );
    });

    it('answers no-runs for a package that records no runs', async () => {
      await expectCode(
        () => runs.create({ package: EMPTY_PKG }),
        'no-runs',
        /nothing to execute/
      );
    });
  });
});

describe('RunService on runs that exist', () => {
  it('runs to the end and serves its output', async () => {
    const id = await finishedRun();
    const output = await runs.output(id, 'out');
    expect(output.size).toBe(7);
    let text = '';
    for await (const chunk of output.body) {
      text += String(chunk);
    }
    expect(text).toBe('result\n');
  });

  it('answers not-found for an output the run does not have', async () => {
    const id = await finishedRun();
    await expectCode(
      () => runs.output(id, 'nope'),
      'not-found',
      new RegExp(`^The output "nope" of run ${id} does not exist\\.$`)
    );
    await expectCode(
      () => runs.output(id, '/home/ana/exp/out.txt'),
      'not-found',
      /out\.txt/
    );
  });

  it('answers already-ended when cancelling a run that has ended', async () => {
    const id = await finishedRun();
    await expectCode(
      () => runs.cancel(id),
      'already-ended',
      new RegExp(`^Run ${id} has already ended \\(succeeded\\)\\.$`)
    );
  });

  it('answers not-ended when saving the outputs of a run still running; saves once it ended', async () => {
    const id = await runningRun();
    await expectCode(
      () => runs.save(id),
      'not-ended',
      new RegExp(
        `^Run ${id} has not ended yet; save its outputs when it has\\.$`
      )
    );
    expect((await runs.cancel(id)).status).toBe('cancelled');
    expect((await runs.save(id)).folder).toBe(`exp.runs/${id}`);
  });

  it('answers not-ended when saving a run still queued', async () => {
    runs = makeService({ concurrency: 1 });
    const first = await runningRun();
    const queued = (await runs.create({ package: PKG })).id;
    expect(runs.get(queued).status).toBe('queued');
    await expectCode(() => runs.save(queued), 'not-ended', /has not ended yet/);
    expect((await runs.cancel(queued)).reason).toBe(
      'The run was cancelled before it started.'
    );
    await runs.cancel(first);
  });

  it('deletes a running run by cancelling it first (no error)', async () => {
    const id = await runningRun();
    await runs.delete(id);
    await expectCode(() => runs.cancel(id), 'not-found', /does not exist/);
  });

  describe('save', () => {
    it('writes the outputs beside the package, never overwriting (skipped)', async () => {
      const id = await finishedRun();
      expect(await runs.save(id, 'results')).toEqual({
        folder: 'results',
        files: ['results/out'],
        skipped: []
      });
      expect(await runs.save(id, 'results')).toEqual({
        folder: 'results',
        files: [],
        skipped: ['results/out']
      });
    });

    it('answers bad-path for a folder leaving the workspace, or absolute', async () => {
      const id = await finishedRun();
      await expectCode(
        () => runs.save(id, '../out'),
        'bad-path',
        /leaves the workspace/
      );
      await expectCode(
        () => runs.save(id, '/tmp/out'),
        'bad-path',
        /must be relative/
      );
    });

    it('answers outside-workspace for a folder a symlink leads out of the workspace', async () => {
      const id = await finishedRun();
      mkdirSync(join(root, 'elsewhere'));
      symlinkSync(join(root, 'elsewhere'), join(workspace, 'away'));
      await expectCode(
        () => runs.save(id, 'away/results'),
        'outside-workspace',
        /^The folder "away\/results" leads outside the workspace\.$/
      );
    });

    it('answers not-a-folder for a folder that is a file', async () => {
      const id = await finishedRun();
      writeFileSync(join(workspace, 'file'), '');
      await expectCode(
        () => runs.save(id, 'file'),
        'not-a-folder',
        /is not a folder/
      );
    });
  });
});

describe('RunService: failures while executing end the run, never the request', () => {
  it('ends the run as error when its image cannot be made', async () => {
    runs = makeService({
      builds: {
        ensure: async () => {
          throw new Error('the registry is down');
        }
      } as unknown as BuildService
    });
    const { id } = await runs.create({ package: PKG });
    await runs.idle();
    expect(runs.get(id)).toMatchObject({
      status: 'error',
      reason: 'The image could not be made: the registry is down'
    });
  });

  it('ends a sandbox run as error when its workspace package changed (package-changed)', async () => {
    mockWorld.docker = false;
    writeFileSync(join(workspace, 'changed.rpz'), 'x'.repeat(10));
    const sha256 = 'e'.repeat(64);
    store.records.putPackage({
      sha256,
      name: 'changed.rpz',
      size: 5,
      model: modelOf(sha256, [step({})]),
      source: { kind: 'workspace', path: 'changed.rpz' }
    });
    const { id } = await runs.create({ package: sha256 });
    await runs.idle();
    expect(runs.get(id)).toMatchObject({
      status: 'error',
      reason:
        'The package could not be unpacked: The package changed.rpz changed since it was opened; open it again.'
    });
  });
});

describe('RunService: the records follow the log', () => {
  it('records a run as ended only once its end event is in the log', async () => {
    const lastLines: string[] = [];
    const update = store.records.updateStatus.bind(store.records);
    jest
      .spyOn(store.records, 'updateStatus')
      .mockImplementation((id, status, end) => {
        if (FINAL_STATUSES.includes(status)) {
          const lines = readFileSync(store.logs.pathOf(id), 'utf8').trim();
          lastLines.push(JSON.parse(lines.split('\n').pop()!).type);
        }
        return update(id, status, end);
      });
    await finishedRun();
    mockWorld.backend = 'hold';
    const cancelled = await runs.create({ package: PKG });
    await runs.cancel(cancelled.id);
    expect(lastLines).toEqual(['end', 'end']);
    expect(runs.get(cancelled.id).status).toBe('cancelled');
  });
});

describe('RunService.start (restart recovery)', () => {
  it('interrupts a sandbox run left running, requeues one left building, runs queued ones', async () => {
    const make = (status: 'running' | 'building' | 'queued'): string => {
      const run = store.records.createRun({
        packageSha256: PKG,
        edits: {},
        limits: {
          memoryMiB: 64,
          cpus: 1,
          pids: 10,
          timeoutSeconds: 10,
          outputBytes: 10,
          logBytes: 10,
          diskMiB: 10
        },
        backend: 'sandbox',
        inputs: []
      });
      if (status !== 'queued') {
        store.records.updateStatus(run.id, status);
      }
      return run.id;
    };
    const running = make('running');
    const building = make('building');
    const queued = make('queued');
    await runs.start();
    await runs.idle();
    expect(runs.get(running)).toMatchObject({
      status: 'interrupted',
      reason: expect.stringMatching(
        /in the sandbox, whose processes stop with it/
      )
    });
    expect(runs.get(building).status).toBe('succeeded');
    expect(runs.get(queued).status).toBe('succeeded');
  });
});
