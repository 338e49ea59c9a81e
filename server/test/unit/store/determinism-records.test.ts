/** Determinism checks as recorded (migration 5): the latest per package and backend(s). */
import type { PackageModel } from '../../../src/rpz/model';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import { DeterminismRecords } from '../../../src/store/determinism-records';
import { Records } from '../../../src/store/records';

const sha = (n: number): string => n.toString(16).padStart(64, '0');

const model = {
  format: 2,
  sha256: sha(1),
  runs: []
} as unknown as PackageModel;

function setUp() {
  let t = 1_000;
  const records = Records.open(':memory:', () => t++);
  records.putPackage({
    sha256: sha(1),
    name: 'p.rpz',
    size: 1,
    model,
    source: { kind: 'blob' }
  });
  const run = () =>
    records.createRun({
      packageSha256: sha(1),
      edits: {},
      limits: DEFAULT_LIMITS
    }).id;
  return {
    records,
    checks: new DeterminismRecords(records.db, () => t++),
    run
  };
}

describe('determinism records', () => {
  it('keeps each check, and answers the latest per backend (pair)', () => {
    const { checks, run } = setUp();
    const first = checks.create({
      packageSha256: sha(1),
      backends: ['sandbox', 'sandbox'],
      runs: [run(), run()]
    });
    const later = checks.create({
      packageSha256: sha(1),
      backends: ['sandbox', 'sandbox'],
      runs: [run(), run()]
    });
    const across = checks.create({
      packageSha256: sha(1),
      backends: ['docker', 'sandbox'],
      runs: [run(), run()]
    });
    expect(first).toMatchObject({
      backends: ['sandbox', 'sandbox'],
      result: null
    });
    expect(checks.latest(sha(1)).map(c => c.id)).toEqual([across.id, later.id]);
    expect(checks.latest(sha(2))).toEqual([]);
  });

  it('writes the result once', () => {
    const { checks, run } = setUp();
    const check = checks.create({
      packageSha256: sha(1),
      backends: ['docker', 'docker'],
      runs: [run(), run()]
    });
    const varies = {
      state: 'varies' as const,
      varying: ['a'],
      outputs: [],
      reason: null
    };
    checks.decide(check.id, varies);
    checks.decide(check.id, { ...varies, state: 'identical', varying: [] });
    expect(checks.get(check.id)!.result).toEqual(varies);
  });

  it('loses a run that is deleted, not the check', () => {
    const { records, checks, run } = setUp();
    const [a, b] = [run(), run()];
    const check = checks.create({
      packageSha256: sha(1),
      backends: ['sandbox', 'sandbox'],
      runs: [a, b]
    });
    records.deleteRun(a);
    expect(checks.get(check.id)!.runs).toEqual([null, b]);
  });
});
