/**
 * Which variant rows changed since a revision (what a poll of `GET /api/sweeps/{id}?since=`
 * answers): rows linked, their run's status or steps changed, their metric values stored, their
 * run deleted come back; unchanged rows, other sweeps' rows, runs of no sweep and a run's log
 * size do not; a revision of another connection (a restarted server) is not taken. The counts by
 * status it keeps agree with a count of the rows.
 */
import type { MetricSpec } from '../../../src/contract/schemas/metrics';
import type { PackageModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { Records } from '../../../src/store/records';
import { SweepChanges } from '../../../src/store/sweep-changes';

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

function setUp(): { records: Records; changes: SweepChanges } {
  let t = 1_000;
  const records = Records.open(':memory:', () => t++);
  records.putPackage({
    sha256: sha(1),
    name: 'p.rpz',
    size: 1,
    model,
    source: { kind: 'blob' }
  });
  return { records, changes: new SweepChanges(records.db) };
}

function sweepOf(records: Records, id: string, values: string[]): string[] {
  records.sweeps.create({
    id,
    packageSha256: sha(1),
    spec: { package: sha(1), axes: [] },
    combine: 'grid',
    variants: values.length,
    backend: 'sandbox'
  });
  return values.map(
    (value, position) =>
      records.createRun({
        packageSha256: sha(1),
        edits: {},
        limits: DEFAULT_LIMITS,
        sweep: {
          sweepId: id,
          variant: `v00${position + 1}`,
          position,
          values: [value]
        }
      }).id
  );
}

const variantsOf = (
  rows: { variant: string }[] | undefined
): string[] | undefined => rows?.map(r => r.variant);

describe('sweep row changes', () => {
  it('answers the rows changed after a revision, and only those', () => {
    const { records, changes } = setUp();
    const start = changes.revision();
    const runs = sweepOf(records, 'sw1', ['1', '2', '3']);
    const other = sweepOf(records, 'sw2', ['9']);
    // Linked since the start: every row, in order; the other sweep's rows are not its.
    expect(variantsOf(changes.since('sw1', start))).toEqual([
      'v001',
      'v002',
      'v003'
    ]);

    let at = changes.revision();
    expect(changes.since('sw1', at)).toEqual([]);
    records.updateStatus(runs[1], 'running');
    records.updateStatus(other[0], 'running');
    const changed = changes.since('sw1', at);
    expect(changed).toEqual([
      expect.objectContaining({
        variant: 'v002',
        runId: runs[1],
        status: 'running',
        values: ['2']
      })
    ]);
    expect(variantsOf(changes.since('sw2', at))).toEqual(['v001']);

    // What a row does not show changes nothing; neither does a run of no sweep.
    at = changes.revision();
    records.setLogSize(runs[0], 1234);
    const single = records.createRun({
      packageSha256: sha(1),
      edits: {},
      limits: DEFAULT_LIMITS
    });
    records.updateStatus(single.id, 'running');
    expect(changes.revision()).toBe(at);
    expect(changes.since('sw1', at)).toEqual([]);

    // Steps, the end, metric values, a deleted run: each brings its row back.
    records.setSteps(runs[0], [
      { index: 0, id: 'run0', argv: ['a'], exitCode: 0, durationMs: 5 }
    ]);
    expect(variantsOf(changes.since('sw1', at))).toEqual(['v001']);
    at = changes.revision();
    records.updateStatus(runs[1], 'succeeded');
    const loss: MetricSpec = { name: 'loss', source: 'log-pair' };
    records.metrics.store(runs[0], [{ spec: loss, value: 4 }], new Set());
    expect(changes.since('sw1', at)).toEqual([
      expect.objectContaining({ variant: 'v001' }),
      expect.objectContaining({ variant: 'v002', status: 'succeeded' })
    ]);
    at = changes.revision();
    records.deleteRun(runs[2]);
    expect(changes.since('sw1', at)).toEqual([
      expect.objectContaining({ variant: 'v003', runId: null, status: null })
    ]);
    at = changes.revision();
    // Metric values dropped (the spec was removed) are a change too.
    records.metrics.store(runs[0], [], new Set());
    expect(variantsOf(changes.since('sw1', at))).toEqual(['v001']);
  });

  it('keeps each sweep’s counts by status from its first count on, as a count of its rows gives them', () => {
    const { records, changes } = setUp();
    const same = (id: string) =>
      expect(Object.fromEntries(changes.counts(id))).toEqual(
        Object.fromEntries(records.sweeps.counts(id))
      );
    const runs = sweepOf(records, 'sw1', ['1', '2', '3', '4']);
    records.updateStatus(runs[0], 'running');
    // Counted now, from the rows; kept from here on.
    same('sw1');
    expect(Object.fromEntries(changes.counts('sw1'))).toEqual({
      running: 1,
      queued: 3
    });
    records.updateStatus(runs[0], 'succeeded');
    records.updateStatus(runs[1], 'running');
    // The same status again is no change.
    records.updateStatus(runs[1], 'running');
    same('sw1');
    records.deleteRun(runs[2]);
    records.updateStatus(runs[1], 'failed');
    expect(Object.fromEntries(changes.counts('sw1'))).toEqual({
      succeeded: 1,
      failed: 1,
      queued: 1,
      null: 1
    });
    same('sw1');
    // Another sweep, counted from its first rows on, while its runs are being linked.
    const first = sweepOf(records, 'sw2', ['1']);
    same('sw2');
    records.createRun({
      packageSha256: sha(1),
      edits: {},
      limits: DEFAULT_LIMITS,
      sweep: { sweepId: 'sw2', variant: 'v002', position: 1, values: ['2'] }
    });
    records.updateStatus(first[0], 'cancelled');
    expect(Object.fromEntries(changes.counts('sw2'))).toEqual({
      cancelled: 1,
      queued: 1
    });
    same('sw2');
    same('sw1');
  });

  it('takes only revisions this connection gave', () => {
    const { records, changes } = setUp();
    sweepOf(records, 'sw1', ['1']);
    const now = changes.revision();
    expect(now).toMatch(/^[0-9a-f]{16}\.\d+$/);
    // A second tracker on the same connection shares the revisions.
    expect(new SweepChanges(records.db).revision()).toBe(now);
    expect(changes.since('sw1', now)).toEqual([]);
    // Another process's (a restarted server), a revision not reached yet, or no revision at all.
    const other = setUp().changes.revision();
    expect(other.split('.')[0]).not.toBe(now.split('.')[0]);
    for (const stranger of [
      other,
      `${now.split('.')[0]}.999999`,
      'not a revision',
      `${now}0000000000000000000`,
      ''
    ]) {
      expect(changes.since('sw1', stranger)).toBeUndefined();
    }
  });
});
