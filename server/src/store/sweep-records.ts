/**
 * The records of sweeps: one row per sweep (its spec as created, its cancel) and one per variant,
 * linking it to its run. A sweep's progress is read from its runs' records, never stored twice;
 * so is its creation's: a sweep not cancelled with fewer variant rows than variants is still
 * having its runs created (in the background, and again after a restart).
 */
import type { RunStatus } from '../runs/events';
import type { RunStep } from './records';
import { type Database, prepare as prepareStatement } from './sqlite';

export interface SweepRow {
  id: string;
  packageSha256: string;
  /** The spec as created (`SweepSpec`, globs resolved), parsed. */
  spec: unknown;
  /**
   * The blob each input file of the variants was stored as when the sweep was created, by its
   * source (`workspace:<path>`, `file:<path>`): runs created later use these very bytes.
   */
  storedInputs: Record<string, string>;
  combine: 'grid' | 'zip';
  /** The number of variants the spec makes. */
  variants: number;
  backend: string | null;
  createdAt: number;
  cancelledAt: number | null;
  /** The user who created it on a shared server; null on a single-user server. */
  owner: string | null;
}

export interface NewSweep {
  id: string;
  packageSha256: string;
  spec: unknown;
  storedInputs?: Record<string, string>;
  combine: 'grid' | 'zip';
  variants: number;
  backend: string | null;
  owner?: string;
}

/** How a run belongs to a sweep; recorded with the run. */
export interface SweepLink {
  sweepId: string;
  variant: string;
  position: number;
  values: string[];
}

/** One variant with what its run's record says (null fields once the run was deleted). */
export interface SweepVariantRecord {
  variant: string;
  position: number;
  values: string[];
  runId: string | null;
  status: RunStatus | null;
  startedAt: number | null;
  endedAt: number | null;
  failedStep: number | null;
  steps: RunStep[];
}

interface SweepDbRow {
  id: string;
  package_sha256: string;
  spec: string;
  combine: 'grid' | 'zip';
  variants: number;
  backend: string | null;
  created_at: number;
  cancelled_at: number | null;
  owner: string | null;
}

/** A variant's row joined with its run's (`variantFromRow` reads it); `VARIANT_COLUMNS` selects it. */
export interface VariantDbRow {
  variant: string;
  position: number;
  axis_values: string;
  run_id: string | null;
  status: RunStatus | null;
  started_at: number | null;
  ended_at: number | null;
  failed_step: number | null;
  steps: string | null;
}

const SWEEP_COLUMNS =
  'id, package_sha256, spec, combine, variants, backend, created_at, cancelled_at, owner';

/** The columns of a `VariantDbRow`, from `sweep_runs s LEFT JOIN runs r ON r.id = s.run_id`. */
export const VARIANT_COLUMNS = `s.variant, s.position, s.axis_values, s.run_id, r.status,
  r.started_at, r.ended_at, r.failed_step, r.steps`;

export function variantFromRow(row: VariantDbRow): SweepVariantRecord {
  return {
    variant: row.variant,
    position: row.position,
    values: JSON.parse(row.axis_values) as string[],
    runId: row.run_id,
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    failedStep: row.failed_step,
    steps: row.steps ? (JSON.parse(row.steps) as RunStep[]) : []
  };
}

function prepareStatements(db: Database) {
  const prepare = <P extends unknown[], R = unknown>(sql: string) =>
    prepareStatement<P, R>(db, sql);
  return {
    insert: prepare<
      [
        string,
        string,
        string,
        string,
        number,
        string | null,
        number,
        string | null
      ]
    >(
      `INSERT INTO sweeps (id, package_sha256, spec, combine, variants, backend, created_at, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    get: prepare<[string], SweepDbRow>(
      `SELECT ${SWEEP_COLUMNS} FROM sweeps WHERE id = ?`
    ),
    list: prepare<
      [string | null, string | null, number, string | null],
      SweepDbRow
    >(
      `SELECT ${SWEEP_COLUMNS} FROM sweeps
       WHERE (?1 IS NULL OR package_sha256 = ?1)
         AND (?4 IS NULL OR owner = ?4)
         AND (?2 IS NULL OR seq < (SELECT seq FROM sweeps WHERE id = ?2))
       ORDER BY seq DESC LIMIT ?3`
    ),
    cancel: prepare<[number, string]>(
      'UPDATE sweeps SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL'
    ),
    link: prepare<[string, string, number, string, string]>(
      `INSERT INTO sweep_runs (sweep_id, variant, position, run_id, axis_values)
       VALUES (?, ?, ?, ?, ?)`
    ),
    variants: prepare<[string], VariantDbRow>(
      `SELECT ${VARIANT_COLUMNS}
       FROM sweep_runs s LEFT JOIN runs r ON r.id = s.run_id
       WHERE s.sweep_id = ? ORDER BY s.position`
    ),
    variantsFrom: prepare<[string, number, number], VariantDbRow>(
      `SELECT ${VARIANT_COLUMNS}
       FROM sweep_runs s LEFT JOIN runs r ON r.id = s.run_id
       WHERE s.sweep_id = ? AND s.position >= ? ORDER BY s.position LIMIT ?`
    ),
    counts: prepare<[string], { status: RunStatus | null; n: number }>(
      `SELECT r.status AS status, count(*) AS n
       FROM sweep_runs s LEFT JOIN runs r ON r.id = s.run_id
       WHERE s.sweep_id = ? GROUP BY r.status`
    ),
    cancelled: prepare<[string], { cancelled_at: number | null }>(
      'SELECT cancelled_at FROM sweeps WHERE id = ?'
    ),
    positions: prepare<[string], { position: number }>(
      'SELECT position FROM sweep_runs WHERE sweep_id = ?'
    ),
    // Few rows: the sweeps not cancelled whose variant rows are not all there.
    creating: prepare<
      [],
      { id: string; missing: number; owner: string | null }
    >(
      `SELECT id, missing, owner FROM (
         SELECT s.id AS id, s.seq AS seq, s.owner AS owner, s.variants - (
           SELECT count(*) FROM sweep_runs r WHERE r.sweep_id = s.id) AS missing
         FROM sweeps s WHERE s.cancelled_at IS NULL)
       WHERE missing > 0 ORDER BY seq`
    ),
    // The stored inputs are in the spec's JSON; a false match only keeps a blob longer.
    holdsInput: prepare<[string], { used: number }>(
      `SELECT EXISTS (
         SELECT 1 FROM sweeps s
         WHERE s.cancelled_at IS NULL AND instr(s.spec, ?) > 0
           AND s.variants > (SELECT count(*) FROM sweep_runs r WHERE r.sweep_id = s.id)
       ) AS used`
    ),
    ofRun: prepare<[string], { sweep_id: string; variant: string }>(
      'SELECT sweep_id, variant FROM sweep_runs WHERE run_id = ?'
    )
  };
}

/** The sweep tables of the records database (`Records.sweeps`). */
export class SweepRecords {
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(
    db: Database,
    private readonly now: () => number
  ) {
    this.statements = prepareStatements(db);
  }

  create(sweep: NewSweep): SweepRow {
    this.statements.insert.run(
      sweep.id,
      sweep.packageSha256,
      // The stored inputs ride in the spec's JSON (a key no spec has): no column of their own.
      JSON.stringify({
        ...(sweep.spec as object),
        [STORED_INPUTS]: sweep.storedInputs ?? {}
      }),
      sweep.combine,
      sweep.variants,
      sweep.backend,
      this.now(),
      sweep.owner ?? null
    );
    return this.get(sweep.id)!;
  }

  get(id: string): SweepRow | undefined {
    const row = this.statements.get.get(id);
    return row && toSweep(row);
  }

  /** Newest first; `before` is the id of the last sweep of the previous page. */
  list(
    query: {
      packageSha256?: string;
      limit?: number;
      before?: string;
      /** Only this user's sweeps (a shared server). */
      owner?: string;
    } = {}
  ): SweepRow[] {
    return this.statements.list
      .all(
        query.packageSha256 ?? null,
        query.before ?? null,
        query.limit ?? 50,
        query.owner ?? null
      )
      .map(toSweep);
  }

  /** Marks the sweep cancelled (once); false when it already was or does not exist. */
  cancel(id: string): boolean {
    return this.statements.cancel.run(this.now(), id).changes === 1;
  }

  /** Links a run to its sweep; `Records.createRun` calls it in the run's transaction. */
  link(runId: string, link: SweepLink): void {
    this.statements.link.run(
      link.sweepId,
      link.variant,
      link.position,
      runId,
      JSON.stringify(link.values)
    );
  }

  /** Every variant created so far, in order, with its run's state. */
  variants(id: string): SweepVariantRecord[] {
    return this.statements.variants.all(id).map(variantFromRow);
  }

  /** A page of `variants(id)`: at most `limit` variants from `position` on, in order. */
  variantsFrom(
    id: string,
    position: number,
    limit: number
  ): SweepVariantRecord[] {
    return this.statements.variantsFrom
      .all(id, position, limit)
      .map(variantFromRow);
  }

  /** Whether the sweep was cancelled (without reading its spec). */
  isCancelled(id: string): boolean {
    return (this.statements.cancelled.get(id)?.cancelled_at ?? null) !== null;
  }

  /** The positions of the variants whose run was created (a run deleted since included). */
  createdPositions(id: string): Set<number> {
    return new Set(this.statements.positions.all(id).map(row => row.position));
  }

  /** The sweeps whose runs are not all created and that were not cancelled, oldest first. */
  creating(): { id: string; missing: number; owner: string | null }[] {
    return this.statements.creating.all();
  }

  /**
   * Whether a sweep still creating its runs will give this blob to some (one of its stored
   * inputs): the blob must stay, even when no run references it for now.
   */
  holdsInput(sha256: string): boolean {
    return this.statements.holdsInput.get(sha256)!.used === 1;
  }

  /** The sweep a run is a variant of, if any. */
  ofRun(runId: string): { sweepId: string; variant: string } | undefined {
    const row = this.statements.ofRun.get(runId);
    return row && { sweepId: row.sweep_id, variant: row.variant };
  }

  /** The number of variants by their run's status (`null`: the run was deleted). */
  counts(id: string): Map<RunStatus | null, number> {
    return new Map(
      this.statements.counts.all(id).map(row => [row.status, row.n])
    );
  }
}

const STORED_INPUTS = '$storedInputs';

function toSweep(row: SweepDbRow): SweepRow {
  const { [STORED_INPUTS]: storedInputs, ...spec } = JSON.parse(
    row.spec
  ) as Record<string, unknown>;
  return {
    id: row.id,
    packageSha256: row.package_sha256,
    spec,
    storedInputs: (storedInputs ?? {}) as Record<string, string>,
    combine: row.combine,
    variants: row.variants,
    backend: row.backend,
    createdAt: row.created_at,
    cancelledAt: row.cancelled_at,
    owner: row.owner ?? null
  };
}
