/**
 * The sweep tables: a sweep and its variants' links to runs, written with the runs, read back
 * with the runs' states; a deleted run leaves its variant's values; the migration that adds them
 * keeps what an older database holds.
 */
import type { PackageModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { migrate, openDatabase } from '../../../src/store/database';
import { MIGRATIONS } from '../../../src/store/migrations';
import { Records } from '../../../src/store/records';
import { pragmaValue } from '../../../src/store/sqlite';

const sha = (n: number): string => n.toString(16).padStart(64, '0');

const model: PackageModel = {
  format: 2,
  container: 'v2-tar',
  sha256: sha(1),
  size: 1,
  configVersion: '0.8',
  packId: null,
  runs: [],
  files: [],
  packages: [],
  otherFiles: [],
  data: { compressedSize: 1, listedPaths: 1 },
  trace: { status: 'absent' },
  extensions: [],
  warnings: []
};

function recordsWithPackage(): Records {
  let t = 1_000;
  const records = Records.open(':memory:', () => t++);
  records.putPackage({
    sha256: sha(1),
    name: 'p.rpz',
    size: 1,
    model,
    source: { kind: 'blob' }
  });
  return records;
}

const newSweep = (id: string, packageSha256 = sha(1)) => ({
  id,
  packageSha256,
  spec: {
    package: packageSha256,
    axes: [{ field: { kind: 'arg', step: 0, index: 3 } }]
  },
  combine: 'grid' as const,
  variants: 3,
  backend: 'sandbox'
});

describe('sweep records', () => {
  it('records a sweep and links its runs, read back with their states in order', () => {
    const records = recordsWithPackage();
    const sweep = records.sweeps.create(newSweep('sw1'));
    expect(sweep).toEqual({
      ...newSweep('sw1'),
      storedInputs: {},
      owner: null,
      createdAt: expect.any(Number),
      cancelledAt: null
    });
    const runs = ['1', '2', '3'].map((value, position) =>
      records.createRun({
        packageSha256: sha(1),
        edits: {},
        limits: DEFAULT_LIMITS,
        sweep: {
          sweepId: 'sw1',
          variant: `v00${position + 1}`,
          position,
          values: [value]
        }
      })
    );
    records.updateStatus(runs[0].id, 'running');
    records.setSteps(runs[0].id, [
      { index: 0, id: 'run0', argv: ['a'], exitCode: 3, durationMs: 5 }
    ]);
    records.updateStatus(runs[0].id, 'failed', { failedStep: 0 });
    records.updateStatus(runs[1].id, 'running');
    expect(records.sweeps.variants('sw1')).toEqual([
      expect.objectContaining({
        variant: 'v001',
        position: 0,
        values: ['1'],
        runId: runs[0].id,
        status: 'failed',
        failedStep: 0,
        startedAt: expect.any(Number),
        endedAt: expect.any(Number),
        steps: [expect.objectContaining({ exitCode: 3 })]
      }),
      expect.objectContaining({
        variant: 'v002',
        status: 'running',
        endedAt: null
      }),
      expect.objectContaining({
        variant: 'v003',
        status: 'queued',
        startedAt: null
      })
    ]);
    expect(Object.fromEntries(records.sweeps.counts('sw1'))).toEqual({
      failed: 1,
      running: 1,
      queued: 1
    });
    // A deleted run leaves its variant, with no run.
    records.deleteRun(runs[2].id);
    expect(records.sweeps.variants('sw1')[2]).toMatchObject({
      variant: 'v003',
      values: ['3'],
      runId: null,
      status: null
    });
  });

  it('cancels once, lists newest first by package, and pages', () => {
    const records = recordsWithPackage();
    records.putPackage({
      sha256: sha(2),
      name: 'q.rpz',
      size: 1,
      model: { ...model, sha256: sha(2) },
      source: { kind: 'blob' }
    });
    records.sweeps.create(newSweep('a'));
    records.sweeps.create(newSweep('b', sha(2)));
    records.sweeps.create(newSweep('c'));
    expect(records.sweeps.list().map(s => s.id)).toEqual(['c', 'b', 'a']);
    expect(
      records.sweeps.list({ packageSha256: sha(1) }).map(s => s.id)
    ).toEqual(['c', 'a']);
    expect(records.sweeps.list({ before: 'b' }).map(s => s.id)).toEqual(['a']);
    expect(records.sweeps.cancel('a')).toBe(true);
    expect(records.sweeps.cancel('a')).toBe(false);
    expect(records.sweeps.cancel('nope')).toBe(false);
    expect(records.sweeps.get('a')!.cancelledAt).toEqual(expect.any(Number));
  });

  it('keeps the stored inputs, and says which sweeps still have runs to create and where', () => {
    const records = recordsWithPackage();
    records.sweeps.create({
      ...newSweep('a'),
      storedInputs: { 'workspace:x.txt': 'ab'.repeat(32) }
    });
    records.sweeps.create(newSweep('b'));
    expect(records.sweeps.get('a')).toMatchObject({
      spec: newSweep('a').spec,
      storedInputs: { 'workspace:x.txt': 'ab'.repeat(32) }
    });
    const link = (sweepId: string, position: number) =>
      records.createRun({
        packageSha256: sha(1),
        edits: {},
        limits: DEFAULT_LIMITS,
        sweep: { sweepId, variant: `v00${position + 1}`, position, values: [] }
      });
    const run = link('a', 0);
    link('a', 2);
    expect(records.sweeps.creating()).toEqual([
      { id: 'a', missing: 1, owner: null },
      { id: 'b', missing: 3, owner: null }
    ]);
    expect(records.sweeps.createdPositions('a')).toEqual(new Set([0, 2]));
    expect(records.sweeps.ofRun(run.id)).toEqual({
      sweepId: 'a',
      variant: 'v001'
    });
    // A variant has one run at most.
    expect(() => link('a', 2)).toThrow(/UNIQUE/);
    expect(records.sweeps.createdPositions('a')).toEqual(new Set([0, 2]));
    // Its stored inputs stay while it has runs to create.
    expect(records.isBlobReferenced('ab'.repeat(32))).toBe(true);
    expect(records.isBlobReferenced('cd'.repeat(32))).toBe(false);
    link('a', 1);
    expect(records.isBlobReferenced('ab'.repeat(32))).toBe(false);
    // A cancelled sweep has nothing more to create.
    expect(records.sweeps.isCancelled('b')).toBe(false);
    records.sweeps.cancel('b');
    expect(records.sweeps.isCancelled('b')).toBe(true);
    expect(records.sweeps.creating()).toEqual([]);
  });

  it('refuses a link to a sweep that does not exist, and creates no run then', () => {
    const records = recordsWithPackage();
    expect(() =>
      records.createRun({
        packageSha256: sha(1),
        edits: {},
        limits: DEFAULT_LIMITS,
        sweep: { sweepId: 'ghost', variant: 'v001', position: 0, values: [] }
      })
    ).toThrow(/FOREIGN KEY/);
    expect(records.listRuns()).toEqual([]);
  });

  it('is added by a migration that keeps an older database’s runs', () => {
    const db = openDatabase(':memory:', MIGRATIONS.slice(0, 2));
    db.exec(
      `INSERT INTO packages (sha256, name, size, model, source_kind, created_at)
       VALUES ('${sha(1)}', 'p.rpz', 1, '{}', 'blob', 1)`
    );
    db.exec(
      `INSERT INTO runs (id, package_sha256, status, created_at, edits, limits)
       VALUES ('r1', '${sha(1)}', 'succeeded', 1, '{}', '{}')`
    );
    migrate(db);
    expect(Number(pragmaValue(db, 'user_version'))).toBe(MIGRATIONS.length);
    const records = new Records(db);
    expect(records.getRun('r1')!.status).toBe('succeeded');
    records.sweeps.create(newSweep('s'));
    expect(records.sweeps.variants('s')).toEqual([]);
  });
});
