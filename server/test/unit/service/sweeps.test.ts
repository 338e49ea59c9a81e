/**
 * SweepService over real records (SQLite in memory) and a stand-in for RunService that records
 * what it is asked: admitted once, one run per variant linked to the sweep, a cancel during the
 * creation stops it, a failure cancels what was created, the sweep read back from its runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateRunRequest } from '../../../src/contract/wire';
import { DomainError } from '../../../src/errors';
import type { PackageModel, RunModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { FsBlobStore } from '../../../src/store';
import { Records } from '../../../src/store/records';
import type { SweepLink } from '../../../src/store/sweep-records';
import { SweepService } from '../../../src/service/sweeps';

const sha = 'cd'.repeat(32);
const run: RunModel = {
  id: 'run0',
  argv: ['sh', 'wordfreq.sh', 'words.txt', '3'],
  binary: '/usr/bin/sh',
  environ: {},
  workingdir: '/exp',
  uid: 1000,
  gid: 1000,
  exitcode: 0,
  signal: null,
  architecture: 'x86_64',
  distribution: null,
  hostname: null,
  system: null
};
const model: PackageModel = {
  format: 2,
  container: 'v2-tar',
  sha256: sha,
  size: 1,
  configVersion: '0.8',
  packId: null,
  runs: [run],
  files: [
    { name: 'words', path: '/exp/words.txt', readBy: [0], writtenBy: [] }
  ],
  packages: [],
  otherFiles: [],
  data: { compressedSize: 1, listedPaths: 1 },
  trace: { status: 'absent' },
  extensions: [],
  warnings: []
};

function setUp(
  onCreate: (
    index: number,
    service: SweepService
  ) => Promise<void> = async () => {},
  options: { records?: Records; firstBatch?: number; workspace?: string } = {}
) {
  const records = options.records ?? Records.open(':memory:');
  records.putPackage({
    sha256: sha,
    name: 'p.rpz',
    size: 1,
    model,
    source: { kind: 'blob' }
  });
  const workspace =
    options.workspace ?? mkdtempSync(join(tmpdir(), 'sweep-service-'));
  writeFileSync(join(workspace, 'a.txt'), 'a a b\n');
  writeFileSync(join(workspace, 'b.txt'), 'c\n');
  const calls = {
    admit: 0,
    created: [] as { request: CreateRunRequest; link: SweepLink }[],
    cancelled: [] as string[]
  };
  const runs = {
    admit: async () => {
      calls.admit++;
      return 'sandbox' as const;
    },
    create: async (
      request: CreateRunRequest,
      variant?: { link: SweepLink; backend: 'docker' | 'sandbox' }
    ) => {
      await onCreate(calls.created.length, service);
      const created = records.createRun({
        packageSha256: request.package,
        edits: request.edits ?? {},
        limits: DEFAULT_LIMITS,
        backend: variant!.backend,
        sweep: variant!.link
      });
      calls.created.push({ request, link: variant!.link });
      return { id: created.id } as never;
    },
    cancel: async (id: string) => {
      calls.cancelled.push(id);
      records.updateStatus(id, 'cancelled');
      return {} as never;
    }
  };
  const service: SweepService = new SweepService({
    records,
    blobs: new FsBlobStore(join(workspace, '.blobs')),
    packages: { get: () => records.getPackage(sha)! },
    runs,
    workspace,
    maxUploadBytes: 1024,
    firstBatch: options.firstBatch
  });
  return { records, service, calls, workspace };
}

const axes = [
  {
    field: { kind: 'arg' as const, step: 0, index: 3 },
    values: { kind: 'list' as const, values: ['1', '2', '3'] }
  }
];

describe('SweepService', () => {
  it('admits once, creates a linked run per variant, and reads the sweep from its runs', async () => {
    const { service, calls, records } = setUp();
    const sweep = await service.create({ package: sha, axes });
    expect(calls.admit).toBe(1);
    expect(calls.created.map(c => c.link)).toEqual([
      { sweepId: sweep.id, variant: 'v001', position: 0, values: ['1'] },
      { sweepId: sweep.id, variant: 'v002', position: 1, values: ['2'] },
      { sweepId: sweep.id, variant: 'v003', position: 2, values: ['3'] }
    ]);
    expect(calls.created[1].request.edits).toEqual({
      stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }]
    });
    expect(sweep).toMatchObject({
      total: 3,
      backend: 'sandbox',
      ended: false,
      counts: { queued: 3 }
    });
    const [first] = sweep.variants;
    records.updateStatus(first.run!, 'running');
    records.updateStatus(first.run!, 'succeeded');
    expect(service.get(sweep.id).counts).toEqual({ succeeded: 1, queued: 2 });
    expect(service.list(sha).map(s => s.id)).toEqual([sweep.id]);
  });

  it('stores each workspace input once and gives the runs blobs', async () => {
    const { service, calls } = setUp();
    await service.create({
      package: sha,
      edits: {
        inputs: [
          { name: 'words', source: { kind: 'workspace', path: 'a.txt' } }
        ]
      },
      axes: [
        {
          field: { kind: 'input', name: 'words' },
          values: { kind: 'glob', pattern: '*.txt' }
        },
        axes[0]
      ]
    });
    expect(calls.created).toHaveLength(6);
    const sources = calls.created.map(c => c.request.edits!.inputs![0].source);
    expect(sources.every(s => s.kind === 'blob')).toBe(true);
    expect(new Set(sources.map(s => JSON.stringify(s))).size).toBe(2);
  });

  it('stops creating runs when the sweep is cancelled meanwhile, and cancels those created', async () => {
    const { service, calls } = setUp(async (index, self) => {
      if (index === 2) {
        const [sweep] = self.list();
        await self.cancel(sweep.id);
      }
    });
    const sweep = await service.create({
      package: sha,
      axes: [
        {
          field: axes[0].field,
          values: { kind: 'range', start: 1, stop: 5, step: 1 }
        }
      ]
    });
    // The third run was under way when the cancel came: it is cancelled once created, and
    // nothing more is created.
    expect(calls.created).toHaveLength(3);
    expect(calls.cancelled).toHaveLength(3);
    expect(sweep.cancelledAt).toEqual(expect.any(String));
    expect(sweep).toMatchObject({ total: 5, counts: { cancelled: 3 } });
    await expect(service.cancel(sweep.id)).rejects.toMatchObject({
      code: 'already-ended'
    });
  });

  it('cancels the runs created so far when creating one fails', async () => {
    const { service, calls, records } = setUp(async index => {
      if (index === 1) {
        throw new Error('disk full');
      }
    });
    await expect(service.create({ package: sha, axes })).rejects.toThrow(
      'disk full'
    );
    expect(calls.cancelled).toHaveLength(1);
    const [sweep] = records.sweeps.list();
    expect(sweep.cancelledAt).toEqual(expect.any(Number));
  });

  it('answers with the first runs and creates the others in the background', async () => {
    const { service, calls, records } = setUp(undefined, { firstBatch: 2 });
    const sweep = await service.create({
      package: sha,
      axes: [
        {
          field: axes[0].field,
          values: { kind: 'range', start: 1, stop: 60, step: 1 }
        }
      ]
    });
    expect(calls.admit).toBe(1);
    expect(sweep).toMatchObject({ total: 60, creating: true, ended: false });
    expect(sweep.variants.map(v => v.id)).toEqual(['v001', 'v002']);
    await service.created();
    const done = service.get(sweep.id);
    expect(done).toMatchObject({ creating: false, counts: { queued: 60 } });
    expect(done.variants.map(v => v.values[0])).toEqual(
      Array.from({ length: 60 }, (_, i) => String(i + 1))
    );
    expect(records.sweeps.creating()).toEqual([]);
  });

  it('reads a big sweep whole in slices, the event loop free between them; a poll reads the rows changed', async () => {
    const { service, records } = setUp(undefined, { firstBatch: 1 });
    const sweep = await service.create({
      package: sha,
      axes: [
        {
          field: axes[0].field,
          values: { kind: 'range', start: 1, stop: 1234, step: 1 }
        }
      ]
    });
    await service.created();
    // Timers run between the slices: the whole read does not hold the event loop.
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 0);
    const whole = await service.read(sweep.id);
    clearInterval(ticking);
    expect(ticks).toBeGreaterThan(0);
    expect(whole.incremental).toBeUndefined();
    expect(whole.variants).toEqual(service.get(sweep.id).variants);
    expect(whole.variants.map(v => v.values[0])).toEqual(
      Array.from({ length: 1234 }, (_, i) => String(i + 1))
    );

    // A poll with the revision of that answer: the rows changed since, the counts whole.
    expect(
      (await service.read(sweep.id, undefined, whole.revision)).variants
    ).toEqual([]);
    const [, second, , , fifth] = whole.variants;
    records.updateStatus(second.run!, 'running');
    records.updateStatus(fifth.run!, 'running');
    const poll = await service.read(sweep.id, undefined, whole.revision);
    expect(poll).toMatchObject({
      incremental: true,
      total: 1234,
      counts: { queued: 1232, running: 2 }
    });
    expect(poll.variants.map(v => [v.id, v.status])).toEqual([
      ['v0002', 'running'],
      ['v0005', 'running']
    ]);
    expect(poll.revision).not.toBe(whole.revision);
    // A revision this service did not give: the whole sweep again.
    const stranger = await service.read(
      sweep.id,
      undefined,
      'f'.repeat(16) + '.1'
    );
    expect(stranger.incremental).toBeUndefined();
    expect(stranger.variants).toHaveLength(1234);
  });

  it('cancelling stops a creation in the background, and cancels every run it made', async () => {
    const { service, calls } = setUp(undefined, { firstBatch: 1 });
    const sweep = await service.create({
      package: sha,
      axes: [
        {
          field: axes[0].field,
          values: { kind: 'range', start: 1, stop: 500, step: 1 }
        }
      ]
    });
    // A turn of the event loop: the background creation has made one batch at most.
    await new Promise(resolve => setImmediate(resolve));
    const cancelled = await service.cancel(sweep.id);
    await service.created();
    expect(calls.created.length).toBeLessThan(500);
    expect(calls.cancelled).toHaveLength(calls.created.length);
    expect(cancelled).toMatchObject({
      creating: false,
      ended: true,
      counts: { cancelled: calls.created.length }
    });
  });

  it('a restarted service creates the missing variants’ runs, with the inputs stored at creation, once each', async () => {
    // The server stops while the third run is being created (the first two answered).
    const first = setUp(
      async (index, self) => {
        if (index === 2) {
          void self.stop();
        }
      },
      { firstBatch: 2 }
    );
    const sweep = await first.service.create({
      package: sha,
      combine: 'zip',
      axes: [
        {
          field: { kind: 'input', name: 'words' },
          values: { kind: 'files', paths: ['a.txt', 'b.txt', 'a.txt', 'b.txt'] }
        },
        {
          field: axes[0].field,
          values: { kind: 'list', values: ['1', '2', '3', '4'] }
        }
      ]
    });
    await first.service.stop();
    expect(first.records.sweeps.creating()).toEqual([
      { id: sweep.id, missing: 1, owner: null }
    ]);
    const blobs = first.calls.created.map(
      c => c.request.edits!.inputs![0].source
    );
    // The workspace file changes meanwhile: the sweep keeps the bytes it was created with.
    writeFileSync(join(first.workspace, 'b.txt'), 'changed\n');
    const second = setUp(undefined, {
      records: first.records,
      workspace: first.workspace
    });
    second.service.start();
    await second.service.created();
    expect(second.calls.created.map(c => c.link.variant)).toEqual(['v004']);
    // v004 takes b.txt, v002's: the blob stored when the sweep was created.
    expect(second.calls.created[0].request.edits!.inputs![0].source).toEqual(
      blobs[1]
    );
    expect(blobs[0]).not.toEqual(blobs[1]);
    const done = second.service.get(sweep.id);
    expect(done.variants.map(v => v.id)).toEqual([
      'v001',
      'v002',
      'v003',
      'v004'
    ]);
    expect(new Set(done.variants.map(v => v.run)).size).toBe(4);
    // Started again: nothing left to create, no second run for any variant.
    second.service.start();
    await second.service.created();
    expect(second.calls.created).toHaveLength(1);
  });

  it('refuses a bad spec before admitting or creating anything', async () => {
    const { service, calls } = setUp();
    await expect(
      service.create({
        package: sha,
        axes: Array.from({ length: 9 }, () => ({
          field: { kind: 'input' as const, name: 'words' },
          values: { kind: 'glob' as const, pattern: '**/*' }
        }))
      })
    ).rejects.toMatchObject({ code: 'sweep-too-large' });
    await expect(
      service.create({
        package: sha,
        axes: [{ ...axes[0], field: { kind: 'arg', step: 0, index: 9 } }]
      })
    ).rejects.toBeInstanceOf(DomainError);
    expect(calls).toMatchObject({ admit: 0, created: [] });
    expect(() => service.get('nope')).toThrow('Sweep nope does not exist.');
  });
});
