import { nullTranslator } from '@jupyterlab/translation';
import type { CreateImportRequest, ImportRecord } from 'reproserver/contract';
import { ImportFlow, progressText, type IImportClient } from '../import/flow';

const trans = nullTranslator.load('jupyterlab_reproserver');

function record(overrides: Partial<ImportRecord>): ImportRecord {
  return {
    id: 'imp1',
    source: '10.5281/zenodo.1',
    status: 'resolving',
    file: null,
    bytes: 0,
    total: null,
    rate: null,
    etaSeconds: null,
    candidates: null,
    result: null,
    error: null,
    createdAt: '2026-01-01T00:00:00Z',
    ...overrides
  };
}

const done = (path: string, file = 'a.rpz') =>
  record({
    status: 'done',
    file,
    bytes: 10,
    total: 10,
    result: {
      sha256: 'f'.repeat(64),
      path,
      name: file,
      size: 10,
      reused: false
    }
  });

/** A server that answers each import with the given sequence of polled states. */
class FakeServer implements IImportClient {
  constructor(
    private readonly script: (request: CreateImportRequest) => ImportRecord[]
  ) {}

  requests: CreateImportRequest[] = [];
  cancelled: string[] = [];

  async createImport(request: CreateImportRequest): Promise<ImportRecord> {
    this.requests.push(request);
    this._states = this.script(request);
    return this._states.shift()!;
  }

  async getImport(id: string): Promise<ImportRecord> {
    expect(id).toBe('imp1');
    return this._states.length > 1 ? this._states.shift()! : this._states[0];
  }

  async cancelImport(id: string): Promise<ImportRecord> {
    this.cancelled.push(id);
    this._states = [record({ status: 'cancelled' })];
    return this._states[0];
  }

  private _states: ImportRecord[] = [];
}

const noSleep = () => Promise.resolve();

describe('ImportFlow', () => {
  it('polls the import, shows its progress, and ends with the package path', async () => {
    const server = new FakeServer(() => [
      record({}),
      record({ status: 'downloading', file: 'a.rpz', bytes: 5, total: 10 }),
      record({ status: 'checking', file: 'a.rpz', bytes: 10, total: 10 }),
      done('packages/a.rpz')
    ]);
    const seen: string[] = [];
    const flow = new ImportFlow(
      server,
      {
        progress: r => seen.push(progressText(r, trans)),
        choose: () => Promise.reject(new Error('not asked'))
      },
      { sleep: noSleep }
    );
    const outcome = await flow.run('10.5281/zenodo.1', 'packages');
    expect(outcome).toMatchObject({ kind: 'done', path: 'packages/a.rpz' });
    expect(server.requests).toEqual([
      { source: '10.5281/zenodo.1', to: 'packages' }
    ]);
    expect(seen).toEqual([
      'Looking up 10.5281/zenodo.1…',
      'Downloading a.rpz: 5 bytes of 10 bytes',
      'Checking a.rpz…',
      'Fetched packages/a.rpz'
    ]);
  });

  it('asks which package to take when the record holds several, then fetches that one', async () => {
    const server = new FakeServer(request =>
      request.file
        ? [record({}), done(request.file, request.file)]
        : [
            record({}),
            record({
              status: 'choosing',
              candidates: [
                { name: 'a.rpz', size: 1 },
                { name: 'b.rpz', size: null }
              ]
            })
          ]
    );
    const asked: string[][] = [];
    const flow = new ImportFlow(
      server,
      {
        progress: () => undefined,
        choose: async candidates => {
          asked.push(candidates.map(c => c.name));
          return 'b.rpz';
        }
      },
      { sleep: noSleep }
    );
    const outcome = await flow.run('https://zenodo.org/records/1');
    expect(asked).toEqual([['a.rpz', 'b.rpz']]);
    expect(server.requests).toEqual([
      { source: 'https://zenodo.org/records/1' },
      { source: 'https://zenodo.org/records/1', file: 'b.rpz' }
    ]);
    expect(outcome).toMatchObject({ kind: 'done', path: 'b.rpz' });
  });

  it('stops when the user chooses none', async () => {
    const server = new FakeServer(() => [
      record({ status: 'choosing', candidates: [{ name: 'a.rpz', size: 1 }] })
    ]);
    const flow = new ImportFlow(
      server,
      { progress: () => undefined, choose: async () => null },
      { sleep: noSleep }
    );
    expect(await flow.run('x')).toEqual({ kind: 'cancelled' });
    expect(server.requests).toHaveLength(1);
  });

  it('says why an import failed, in the server’s sentence', async () => {
    const server = new FakeServer(() => [
      record({}),
      record({
        status: 'failed',
        error: {
          code: 'unknown-doi',
          message: 'The DOI 10.5281/zenodo.1 does not exist; check it.'
        }
      })
    ]);
    const flow = new ImportFlow(
      server,
      { progress: () => undefined, choose: async () => null },
      { sleep: noSleep }
    );
    expect(await flow.run('10.5281/zenodo.1')).toEqual({
      kind: 'failed',
      message: 'The DOI 10.5281/zenodo.1 does not exist; check it.'
    });
    const refusing: IImportClient = {
      createImport: () => Promise.reject(new Error('Only https URLs.')),
      getImport: () => Promise.reject(new Error('no')),
      cancelImport: () => Promise.reject(new Error('no'))
    };
    expect(
      await new ImportFlow(refusing, {
        progress: () => undefined,
        choose: async () => null
      }).run('http://x')
    ).toEqual({ kind: 'failed', message: 'Only https URLs.' });
  });

  it('cancels the import going on', async () => {
    let flow: ImportFlow | null = null;
    const server = new FakeServer(() => [
      record({ status: 'downloading', bytes: 1, total: 10 })
    ]);
    flow = new ImportFlow(
      server,
      {
        progress: r => {
          if (r.status === 'downloading') {
            flow?.cancel();
          }
        },
        choose: async () => null
      },
      { sleep: noSleep }
    );
    expect(await flow.run('x')).toEqual({ kind: 'cancelled' });
    expect(server.cancelled).toEqual(['imp1']);
  });

  it('words progress with the rate and the time left, and a reused package', () => {
    expect(
      progressText(
        record({
          status: 'downloading',
          file: 'a.rpz',
          bytes: 1024 * 1024,
          total: 4 * 1024 * 1024,
          rate: 512 * 1024,
          etaSeconds: 6
        }),
        trans
      )
    ).toBe('Downloading a.rpz: 1.0 MiB of 4.0 MiB, 512.0 KiB/s, 6 s left');
    const reused = done('old/a.rpz');
    reused.result!.reused = true;
    expect(progressText(reused, trans)).toBe(
      'a.rpz is already in the workspace: old/a.rpz'
    );
  });
});
