import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackageModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { migrate, openDatabase } from '../../../src/store/database';
import { pragmaValue } from '../../../src/store/sqlite';
import { MIGRATIONS } from '../../../src/store/migrations';
import {
  Records,
  type OutputRecord,
  type PackageRecord
} from '../../../src/store/records';

const sha = (n: number): string => n.toString(16).padStart(64, '0');

const model = (sha256: string): PackageModel => ({
  format: 2,
  container: 'v2-tar',
  sha256,
  size: 1234,
  configVersion: '0.8',
  packId: null,
  runs: [],
  files: [{ name: 'out', path: '/exp/out.txt', readBy: [], writtenBy: [0] }],
  packages: [],
  otherFiles: [],
  data: { compressedSize: 1000, listedPaths: 3 },
  trace: { status: 'absent' },
  extensions: [],
  warnings: ['a warning, kept verbatim']
});

const output = (
  name: string,
  sha256: string,
  kind: OutputRecord['kind'] = 'declared'
): OutputRecord => ({
  name,
  path: `/exp/${name}`,
  kind,
  size: 42,
  sha256,
  uid: 1000,
  gid: 100,
  mode: 0o644
});

const freshFile = (): string =>
  join(
    mkdtempSync(join(tmpdir(), 'reproserver-records-')),
    'state',
    'records.sqlite'
  );

/** Records with a clock that ticks 1 ms per reading, so every time is distinct and known. */
function open(path = ':memory:'): { records: Records; clock: { t: number } } {
  const clock = { t: 1_000 };
  return { records: Records.open(path, () => clock.t++), clock };
}

function withPackage(records: Records, n = 1): PackageRecord {
  return records.putPackage({
    sha256: sha(n),
    name: `pkg${n}.rpz`,
    size: 1234,
    model: model(sha(n)),
    source: { kind: 'blob' }
  });
}

const newRun = (records: Records, n = 1) =>
  records.createRun({
    packageSha256: sha(n),
    edits: { steps: [0] },
    limits: DEFAULT_LIMITS
  });

describe('records database and migrations', () => {
  it('creates the schema in WAL mode and keeps data across reopenings', () => {
    const file = freshFile();
    const first = Records.open(file);
    expect(pragmaValue(first.db, 'journal_mode')).toBe('wal');
    expect(pragmaValue(first.db, 'user_version')).toBe(MIGRATIONS.length);
    withPackage(first);
    first.close();
    const again = Records.open(file);
    expect(pragmaValue(again.db, 'user_version')).toBe(MIGRATIONS.length);
    expect(again.getPackage(sha(1))?.name).toBe('pkg1.rpz');
    again.close();
  });

  it('applies only pending migrations, so migrating again changes nothing', () => {
    const db = openDatabase(':memory:', ['CREATE TABLE a (x INTEGER)']);
    db.prepare('INSERT INTO a VALUES (1)').run();
    migrate(db, ['CREATE TABLE a (x INTEGER)', 'CREATE TABLE b (y INTEGER)']);
    migrate(db, ['CREATE TABLE a (x INTEGER)', 'CREATE TABLE b (y INTEGER)']);
    expect(pragmaValue(db, 'user_version')).toBe(2);
    expect(db.prepare('SELECT x FROM a').all()).toEqual([{ x: 1 }]);
    db.close();
  });

  it('rolls a failed migration back whole', () => {
    const db = openDatabase(':memory:', []);
    expect(() =>
      migrate(db, ['CREATE TABLE a (x INTEGER)', 'NOT SQL AT ALL'])
    ).toThrow();
    expect(pragmaValue(db, 'user_version')).toBe(0);
    expect(
      db.prepare("SELECT name FROM sqlite_master WHERE name = 'a'").all()
    ).toEqual([]);
    db.close();
  });

  it('refuses a database from a newer version', () => {
    const file = freshFile();
    Records.open(file).close();
    // What an older ReproServer, knowing one step fewer, would see.
    expect(() => openDatabase(file, MIGRATIONS.slice(0, -1))).toThrow(
      /newer than this ReproServer knows/
    );
  });
});

describe('Records: packages', () => {
  it('stores a package with its model and lists packages newest first', () => {
    const { records } = open();
    const one = withPackage(records, 1);
    expect(one).toEqual({
      sha256: sha(1),
      name: 'pkg1.rpz',
      size: 1234,
      source: { kind: 'blob' },
      createdAt: 1000,
      model: model(sha(1))
    });
    records.putPackage({
      sha256: sha(2),
      name: 'two.rpz',
      size: 99,
      model: model(sha(2)),
      source: { kind: 'workspace', path: 'data/two.rpz' }
    });
    expect(records.listPackages().map(p => [p.name, p.source])).toEqual([
      ['two.rpz', { kind: 'workspace', path: 'data/two.rpz' }],
      ['pkg1.rpz', { kind: 'blob' }]
    ]);
    expect(records.listPackages(1, 1).map(p => p.name)).toEqual(['pkg1.rpz']);
    expect(records.listPackages()[0]).not.toHaveProperty('model');
    expect(records.getPackage(sha(3))).toBeUndefined();
  });

  it('follows the latest workspace file, but prefers a blob-store copy to any', () => {
    const { records } = open();
    const base = { sha256: sha(1), size: 1, model: model(sha(1)) };
    records.putPackage({
      ...base,
      name: 'first.rpz',
      source: { kind: 'workspace', path: 'a.rpz' }
    });
    records.putPackage({
      ...base,
      name: 'second.rpz',
      source: { kind: 'workspace', path: 'b.rpz' }
    });
    // The user opened the same package from elsewhere: that file is the one to read now.
    expect(records.getPackage(sha(1))?.source).toEqual({
      kind: 'workspace',
      path: 'b.rpz'
    });
    expect(records.getPackage(sha(1))?.name).toBe('second.rpz');
    records.putPackage({
      ...base,
      name: 'third.rpz',
      source: { kind: 'blob' }
    });
    records.putPackage({
      ...base,
      name: 'fourth.rpz',
      source: { kind: 'workspace', path: 'c.rpz' }
    });
    const stored = records.getPackage(sha(1));
    expect(stored?.source).toEqual({ kind: 'blob' });
    expect(stored?.name).toBe('third.rpz');
  });
});

describe('Records: runs', () => {
  it('creates a queued run with a short url-safe id', () => {
    const { records } = open();
    withPackage(records);
    const run = newRun(records);
    expect(run.id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(run).toEqual({
      id: run.id,
      packageSha256: sha(1),
      status: 'queued',
      createdAt: expect.any(Number),
      startedAt: null,
      endedAt: null,
      edits: { steps: [0] },
      limits: DEFAULT_LIMITS,
      backend: null,
      image: null,
      failedStep: null,
      reason: null,
      containerId: null,
      logSize: 0,
      steps: [],
      missingOutputs: [],
      owner: null
    });
    expect(records.getRun(run.id)).toEqual(run);
    expect(records.getRun('nope')).toBeUndefined();
  });

  it('keeps each run’s owner (a shared server): lists and counts one user’s runs', () => {
    const { records } = open();
    withPackage(records);
    const create = (owner?: string) =>
      records.createRun({
        packageSha256: sha(1),
        edits: {},
        limits: DEFAULT_LIMITS,
        owner
      }).id;
    const a1 = create('alice');
    const b1 = create('bob');
    const a2 = create('alice');
    const none = create();
    expect(records.getRun(a1)!.owner).toBe('alice');
    expect(records.listRuns({ owner: 'alice' }).map(r => r.id)).toEqual([
      a2,
      a1
    ]);
    expect(records.listRuns({ owner: 'bob' }).map(r => r.id)).toEqual([b1]);
    expect(records.listRuns().map(r => r.id)).toEqual([none, a2, b1, a1]);
    records.updateStatus(a1, 'succeeded');
    expect(records.countRunsInStatuses(['queued'], 'alice')).toBe(1);
    expect(records.countRunsInStatuses(['queued'], 'carol')).toBe(0);
    expect(records.countRunsInStatuses(['queued'])).toBe(3);
  });

  it('refuses a run of an unknown package', () => {
    const { records } = open();
    expect(() => newRun(records, 9)).toThrow(/FOREIGN KEY/);
  });

  it('records a run with its inputs, atomically', () => {
    const { records } = open();
    withPackage(records);
    const run = records.createRun({
      packageSha256: sha(1),
      edits: {},
      limits: DEFAULT_LIMITS,
      backend: 'docker',
      inputs: [{ name: 'in', sha256: sha(50), size: 7 }]
    });
    expect(run.backend).toBe('docker');
    expect(records.listInputs(run.id)).toEqual([
      { name: 'in', sha256: sha(50), size: 7 }
    ]);
    const before = records.listRuns().length;
    expect(() =>
      records.createRun({
        packageSha256: sha(1),
        edits: {},
        limits: DEFAULT_LIMITS,
        inputs: [
          { name: 'in', sha256: sha(50), size: 7 },
          { name: 'in', sha256: sha(51), size: 7 }
        ]
      })
    ).toThrow(/UNIQUE/);
    expect(records.listRuns()).toHaveLength(before);
  });

  it('lists runs newest first, by package, a page at a time', () => {
    const { records } = open();
    withPackage(records, 1);
    withPackage(records, 2);
    const ids = [1, 2, 1, 1, 2].map(n => newRun(records, n).id);
    expect(records.listRuns().map(r => r.id)).toEqual([...ids].reverse());
    expect(records.listRuns({ packageSha256: sha(1) }).map(r => r.id)).toEqual([
      ids[3],
      ids[2],
      ids[0]
    ]);
    const page1 = records.listRuns({ limit: 2 });
    const page2 = records.listRuns({ limit: 2, before: page1[1].id });
    const page3 = records.listRuns({ limit: 2, before: page2[1].id });
    expect([...page1, ...page2, ...page3].map(r => r.id)).toEqual(
      [...ids].reverse()
    );
    expect(
      records
        .listRuns({ packageSha256: sha(1), before: ids[3], limit: 1 })
        .map(r => r.id)
    ).toEqual([ids[2]]);
  });

  it('moves through statuses, stamping start and end times', () => {
    const { records, clock } = open();
    withPackage(records);
    const { id } = newRun(records);
    clock.t = 5000;
    expect(records.updateStatus(id, 'building')).toBe(true);
    expect(records.getRun(id)).toMatchObject({
      status: 'building',
      startedAt: 5000,
      endedAt: null
    });
    clock.t = 6000;
    records.updateStatus(id, 'running');
    expect(records.getRun(id)).toMatchObject({
      status: 'running',
      startedAt: 5000
    });
    clock.t = 7000;
    expect(
      records.updateStatus(id, 'failed', {
        reason: 'step 1 exited with 2',
        failedStep: 1
      })
    ).toBe(true);
    expect(records.getRun(id)).toMatchObject({
      status: 'failed',
      startedAt: 5000,
      endedAt: 7000,
      reason: 'step 1 exited with 2',
      failedStep: 1
    });
  });

  it('never changes a final status (a cancel racing a finish)', () => {
    const { records } = open();
    withPackage(records);
    const { id } = newRun(records);
    records.updateStatus(id, 'running');
    records.updateStatus(id, 'succeeded');
    expect(records.updateStatus(id, 'cancelled', { reason: 'too late' })).toBe(
      false
    );
    expect(records.getRun(id)).toMatchObject({
      status: 'succeeded',
      reason: null
    });
    expect(records.updateStatus('missing', 'running')).toBe(false);
  });

  it('cancels a queued run without a start time', () => {
    const { records } = open();
    withPackage(records);
    const { id } = newRun(records);
    records.updateStatus(id, 'cancelled');
    expect(records.getRun(id)).toMatchObject({
      startedAt: null,
      endedAt: expect.any(Number)
    });
  });

  it('lists runs in given statuses oldest first (queue order, restart reconciliation)', () => {
    const { records } = open();
    withPackage(records);
    const [a, b, c, d] = [1, 2, 3, 4].map(() => newRun(records).id);
    records.updateStatus(b, 'running');
    records.updateStatus(d, 'building');
    expect(records.listRunsInStatuses(['queued']).map(r => r.id)).toEqual([
      a,
      c
    ]);
    expect(
      records.listRunsInStatuses(['building', 'running']).map(r => r.id)
    ).toEqual([b, d]);
    expect(records.listRunsInStatuses([])).toEqual([]);
  });

  it('sets execution details, container id and log size', () => {
    const { records } = open();
    withPackage(records);
    const { id } = newRun(records);
    records.setExecution(id, { backend: 'docker', image: 'reg/rpz:abc' });
    records.setExecution(id, { image: 'reg/rpz:def' });
    records.setContainerId(id, 'c0ffee');
    records.setLogSize(id, 2048);
    expect(records.getRun(id)).toMatchObject({
      backend: 'docker',
      image: 'reg/rpz:def',
      containerId: 'c0ffee',
      logSize: 2048
    });
    records.setContainerId(id, null);
    expect(records.getRun(id)?.containerId).toBeNull();
  });

  it('keeps the step list and missing outputs the listings show', () => {
    const { records } = open();
    withPackage(records);
    const { id } = newRun(records);
    const steps = [
      {
        index: 0,
        id: 'run0',
        argv: ['sh', 'go.sh'],
        exitCode: 0,
        durationMs: 12
      },
      {
        index: 1,
        id: 'run1',
        argv: ['./report'],
        exitCode: null,
        durationMs: null
      }
    ];
    records.setSteps(id, steps);
    records.setMissingOutputs(id, [
      { name: 'out', path: '/exp/out.txt', reason: 'not created' }
    ]);
    expect(records.getRun(id)).toMatchObject({
      steps,
      missingOutputs: [
        { name: 'out', path: '/exp/out.txt', reason: 'not created' }
      ]
    });
  });
});

describe('Records: outputs and deletion', () => {
  it('adds and lists outputs in order, finds one by kind and name', () => {
    const { records } = open();
    withPackage(records);
    const { id } = newRun(records);
    const out = output('out', sha(10));
    const changed = output('/exp/log.txt', sha(11), 'changed');
    records.addOutput(id, out);
    records.addOutput(id, changed);
    expect(records.listOutputs(id)).toEqual([out, changed]);
    expect(records.getOutput(id, 'changed', '/exp/log.txt')).toEqual(changed);
    expect(records.getOutput(id, 'declared', '/exp/log.txt')).toBeUndefined();
    expect(() => records.addOutput(id, out)).toThrow(/UNIQUE/);
    expect(() => records.addOutput('missing', out)).toThrow(/FOREIGN KEY/);
  });

  it('deletes a run and names the blobs nothing else uses', () => {
    const { records } = open();
    withPackage(records);
    const first = newRun(records).id;
    const second = records.createRun({
      packageSha256: sha(1),
      edits: {},
      limits: DEFAULT_LIMITS,
      inputs: [{ name: 'in', sha256: sha(20), size: 1 }]
    }).id;
    records.addOutput(first, output('shared', sha(10)));
    records.addOutput(first, output('mine', sha(11)));
    records.addOutput(first, output('also-input', sha(20)));
    // The package itself is a blob too.
    records.addOutput(first, output('the-package', sha(1)));
    records.addOutput(second, output('shared', sha(10)));

    expect(records.isBlobReferenced(sha(11))).toBe(true);
    const deleted = records.deleteRun(first);
    expect(deleted).toEqual({ deleted: true, orphanedBlobs: [sha(11)] });
    expect(records.getRun(first)).toBeUndefined();
    expect(records.listOutputs(first)).toEqual([]);
    expect(records.isBlobReferenced(sha(11))).toBe(false);

    expect(records.deleteRun(second).orphanedBlobs.sort()).toEqual([
      sha(10),
      sha(20)
    ]);
    expect(records.deleteRun(second)).toEqual({
      deleted: false,
      orphanedBlobs: []
    });
  });

  it('keeps image digests per registry and package, also in a database of the first version', () => {
    const file = freshFile();
    const first = openDatabase(file, MIGRATIONS.slice(0, 1));
    first
      .prepare(
        `INSERT INTO packages (sha256, name, size, model, source_kind, created_at)
         VALUES (?, 'kept.rpz', 1, '{}', 'blob', 0)`
      )
      .run('b'.repeat(64));
    first.close();
    const records = Records.open(file);
    expect(records.getPackage('b'.repeat(64))?.name).toBe('kept.rpz');
    const sha = 'a'.repeat(64);
    expect(records.imageDigest('r:5000', sha)).toBeUndefined();
    records.setImageDigest('r:5000', sha, `sha256:${'1'.repeat(64)}`);
    records.setImageDigest('r:5000', sha, `sha256:${'2'.repeat(64)}`);
    expect(records.imageDigest('r:5000', sha)).toBe(`sha256:${'2'.repeat(64)}`);
    expect(records.imageDigest('other:5000', sha)).toBeUndefined();
    expect(() => records.setImageDigest('r:5000', sha, 'latest')).toThrow(
      /CHECK constraint/
    );
    records.close();
  });
});
