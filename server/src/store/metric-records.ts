/**
 * The records of metrics: each package's remembered list (`MetricSpec[]`), and each run's values.
 * A value is stored with the key of the spec that extracted it (`specKey`), so a changed spec
 * never shows an old value under its name: until the value is extracted again, it reads as null.
 */
import { createHash } from 'node:crypto';
import type { MetricSpec, MetricValues } from '../contract/schemas/metrics';
import {
  type Database,
  prepare as prepareStatement,
  transaction
} from './sqlite';

/** A stable key of a spec: the sha256 of its JSON with keys sorted (16 hex digits suffice). */
export function specKey(spec: MetricSpec): string {
  const sorted = Object.fromEntries(
    Object.entries(spec)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
  );
  return createHash('sha256')
    .update(JSON.stringify(sorted))
    .digest('hex')
    .slice(0, 16);
}

function prepareStatements(db: Database) {
  const prepare = <P extends unknown[], R = unknown>(sql: string) =>
    prepareStatement<P, R>(db, sql);
  return {
    packagesWithSpecs: prepare<[], { package_sha256: string }>(
      "SELECT package_sha256 FROM package_metrics WHERE specs != '[]'"
    ),
    getSpecs: prepare<[string], { specs: string }>(
      'SELECT specs FROM package_metrics WHERE package_sha256 = ?'
    ),
    putSpecs: prepare<[string, string, number]>(
      `INSERT INTO package_metrics (package_sha256, specs, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (package_sha256) DO UPDATE SET
         specs = excluded.specs, updated_at = excluded.updated_at`
    ),
    values: prepare<[string], { spec_key: string; value: number | null }>(
      'SELECT spec_key, value FROM run_metrics WHERE run_id = ?'
    ),
    keys: prepare<[string], { spec_key: string }>(
      'SELECT spec_key FROM run_metrics WHERE run_id = ?'
    ),
    putValue: prepare<[string, string, string, number | null]>(
      `INSERT INTO run_metrics (run_id, spec_key, name, value) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, spec_key) DO UPDATE SET
         name = excluded.name, value = excluded.value`
    ),
    deleteValue: prepare<[string, string]>(
      'DELETE FROM run_metrics WHERE run_id = ? AND spec_key = ?'
    ),
    runExists: prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM runs WHERE id = ?'
    )
  };
}

/** The metric tables of the records database (`Records.metrics`). */
export class MetricRecords {
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(
    private readonly db: Database,
    private readonly now: () => number
  ) {
    this.statements = prepareStatements(db);
  }

  /** The package's remembered metrics; none until they are set. */
  specsOf(packageSha256: string): MetricSpec[] {
    const row = this.statements.getSpecs.get(packageSha256);
    return row ? (JSON.parse(row.specs) as MetricSpec[]) : [];
  }

  /** The packages that have metrics. */
  packagesWithSpecs(): string[] {
    return this.statements.packagesWithSpecs.all().map(r => r.package_sha256);
  }

  setSpecs(packageSha256: string, specs: readonly MetricSpec[]): void {
    this.statements.putSpecs.run(
      packageSha256,
      JSON.stringify(specs),
      this.now()
    );
  }

  /** The keys of the specs whose values are stored for the run. */
  storedKeys(runId: string): Set<string> {
    return new Set(this.statements.keys.all(runId).map(r => r.spec_key));
  }

  /**
   * Stores values extracted with these specs and drops those of specs not in `keep` (the keys of
   * the specs the run still has), in one transaction. A run deleted meanwhile stores nothing.
   */
  store(
    runId: string,
    extracted: readonly { spec: MetricSpec; value: number | null }[],
    keep: ReadonlySet<string>
  ): void {
    transaction(this.db, () => {
      if (this.statements.runExists.get(runId)!.n === 0) {
        return;
      }
      for (const key of this.storedKeys(runId)) {
        if (!keep.has(key)) {
          this.statements.deleteValue.run(runId, key);
        }
      }
      for (const { spec, value } of extracted) {
        this.statements.putValue.run(runId, specKey(spec), spec.name, value);
      }
    });
  }

  /** The run's value of each spec, by name: null where none is stored for that very spec. */
  valuesOf(runId: string, specs: readonly MetricSpec[]): MetricValues {
    const stored = new Map(
      this.statements.values.all(runId).map(r => [r.spec_key, r.value])
    );
    const values: MetricValues = {};
    for (const spec of specs) {
      values[spec.name] = stored.get(specKey(spec)) ?? null;
    }
    return values;
  }
}
