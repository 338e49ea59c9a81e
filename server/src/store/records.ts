import type { PackageModel } from '../rpz/model';
import type { RunEdits, RunLimits } from '../runs/edits';
import {
  FINAL_STATUSES,
  type FileOwner,
  type OutputFile,
  type RunStatus
} from '../runs/events';
import { openDatabase } from './database';
import { MetricRecords } from './metric-records';
import { newRunId } from './run-id';
import { SweepRecords, type SweepLink } from './sweep-records';
import {
  type Database,
  type NamedParams,
  prepare as prepareStatement,
  transaction
} from './sqlite';

/** Where a registered package's bytes are. */
export type PackageSource =
  /** In the blob store, under the package's sha256. */
  | { kind: 'blob' }
  /** A workspace file (path relative to the workspace); it may have changed or gone since. */
  | { kind: 'workspace'; path: string };

/** A package as listed: everything but its model, which may be large. */
export interface PackageSummary {
  sha256: string;
  name: string;
  size: number;
  source: PackageSource;
  createdAt: number;
}

export interface PackageRecord extends PackageSummary {
  model: PackageModel;
}

/** One planned step of a run and how it ended (null while it has not). */
export interface RunStep {
  index: number;
  id: string;
  argv: string[];
  exitCode: number | null;
  durationMs: number | null;
}

/** A declared output the run did not produce, and why. */
export interface MissingOutput {
  name: string;
  path: string;
  reason: string;
}

export interface RunRecord {
  id: string;
  packageSha256: string;
  status: RunStatus;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  edits: RunEdits;
  limits: RunLimits;
  backend: string | null;
  image: string | null;
  failedStep: number | null;
  reason: string | null;
  containerId: string | null;
  logSize: number;
  /** Empty until the run is planned. */
  steps: RunStep[];
  missingOutputs: MissingOutput[];
  /** The user who created it on a shared server; null on a single-user server. */
  owner: string | null;
}

/** A collected output whose blob is stored. */
export type OutputRecord = OutputFile & FileOwner;

/** A replacement input file of a run, stored as a blob. */
export interface InputRecord {
  name: string;
  sha256: string;
  size: number;
}

export interface NewPackage {
  /** The sha256 of the whole file (the model's may be null when it was not hashed). */
  sha256: string;
  name: string;
  size: number;
  model: PackageModel;
  source: PackageSource;
}

export interface NewRun {
  packageSha256: string;
  edits: RunEdits;
  limits: RunLimits;
  backend?: string;
  /** Replacement inputs, recorded with the run so their blobs count as used from the start. */
  inputs?: InputRecord[];
  /** The sweep variant this run is, linked in the same transaction. */
  sweep?: SweepLink;
  /** The user creating it, on a shared server. */
  owner?: string;
}

export interface RunQuery {
  packageSha256?: string;
  /** Only this user's runs (a shared server). */
  owner?: string;
  /** Page size; default 50. */
  limit?: number;
  /** Id of the last run of the previous page: the page holds the runs created before it. */
  before?: string;
}

/** What deleting a run freed. */
export interface DeletedRun {
  deleted: boolean;
  /**
   * Blobs the run referenced that nothing else does now (no other run's input or output, no
   * package): the caller may delete them from the blob store.
   */
  orphanedBlobs: string[];
}

const STARTED_STATUSES: readonly RunStatus[] = ['building', 'running'];

interface PackageRow {
  sha256: string;
  name: string;
  size: number;
  model?: string;
  source_kind: 'blob' | 'workspace';
  source_path: string | null;
  created_at: number;
}

interface RunRow {
  id: string;
  package_sha256: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  edits: string;
  limits: string;
  backend: string | null;
  image: string | null;
  failed_step: number | null;
  reason: string | null;
  container_id: string | null;
  log_size: number;
  steps: string;
  missing_outputs: string;
  owner: string | null;
}

const RUN_COLUMNS = `id, package_sha256, status, created_at, started_at, ended_at, edits, limits,
  backend, image, failed_step, reason, container_id, log_size, steps, missing_outputs, owner`;
const SUMMARY_COLUMNS =
  'sha256, name, size, source_kind, source_path, created_at';
const OUTPUT_COLUMNS = 'name, path, kind, size, sha256, uid, gid, mode';

type Statements = ReturnType<typeof prepareStatements>;

/** Every query, prepared once. */
function prepareStatements(db: Database) {
  const prepare = <P extends unknown[] = [NamedParams], R = unknown>(
    sql: string
  ) => prepareStatement<P, R>(db, sql);
  return {
    putPackage: prepare(
      `INSERT INTO packages (sha256, name, size, model, source_kind, source_path, created_at)
       VALUES (@sha256, @name, @size, @model, @source_kind, @source_path, @created_at)
       ON CONFLICT (sha256) DO UPDATE SET
         source_kind = excluded.source_kind,
         source_path = excluded.source_path,
         name = excluded.name
         WHERE excluded.source_kind = 'blob' OR packages.source_kind = 'workspace'`
    ),
    getImageDigest: prepare<[string, string], { digest: string }>(
      'SELECT digest FROM image_digests WHERE registry = ? AND package_sha256 = ?'
    ),
    putImageDigest: prepare<[string, string, string]>(
      `INSERT INTO image_digests (registry, package_sha256, digest) VALUES (?, ?, ?)
       ON CONFLICT (registry, package_sha256) DO UPDATE SET digest = excluded.digest`
    ),
    getPackage: prepare<[string], PackageRow>(
      `SELECT ${SUMMARY_COLUMNS}, model FROM packages WHERE sha256 = ?`
    ),
    listPackages: prepare<[number, number], PackageRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM packages
       ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`
    ),
    insertRun: prepare(
      `INSERT INTO runs (id, package_sha256, status, created_at, edits, limits, backend, owner)
       VALUES (@id, @package_sha256, 'queued', @created_at, @edits, @limits, @backend, @owner)`
    ),
    getRun: prepare<[string], RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`
    ),
    listRuns: prepare<[NamedParams], RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs
       WHERE (@package IS NULL OR package_sha256 = @package)
         AND (@owner IS NULL OR owner = @owner)
         AND (@before IS NULL OR seq < (SELECT seq FROM runs WHERE id = @before))
       ORDER BY seq DESC LIMIT @limit`
    ),
    runsInStatuses: prepare<[string], RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs
       WHERE status IN (SELECT value FROM json_each(?)) ORDER BY seq`
    ),
    countInStatuses: prepare<[string], { n: number }>(
      `SELECT count(*) AS n FROM runs
       WHERE status IN (SELECT value FROM json_each(?))`
    ),
    countOwnInStatuses: prepare<[string, string], { n: number }>(
      `SELECT count(*) AS n FROM runs
       WHERE owner = ? AND status IN (SELECT value FROM json_each(?))`
    ),
    updateStatus: prepare(
      `UPDATE runs SET
         status = @status,
         started_at = CASE WHEN @started THEN coalesce(started_at, @now) ELSE started_at END,
         ended_at = CASE WHEN @final THEN @now ELSE ended_at END,
         reason = coalesce(@reason, reason),
         failed_step = coalesce(@failed_step, failed_step)
       WHERE id = @id AND status NOT IN (SELECT value FROM json_each(@finals))`
    ),
    setExecution: prepare(
      `UPDATE runs SET backend = coalesce(@backend, backend), image = coalesce(@image, image)
       WHERE id = @id`
    ),
    setContainerId: prepare<[string | null, string]>(
      'UPDATE runs SET container_id = ? WHERE id = ?'
    ),
    setSteps: prepare<[string, string]>(
      'UPDATE runs SET steps = ? WHERE id = ?'
    ),
    setMissingOutputs: prepare<[string, string]>(
      'UPDATE runs SET missing_outputs = ? WHERE id = ?'
    ),
    setLogSize: prepare<[number, string]>(
      'UPDATE runs SET log_size = ? WHERE id = ?'
    ),
    addOutput: prepare(
      `INSERT INTO run_outputs (run_id, ${OUTPUT_COLUMNS})
       VALUES (@run_id, @name, @path, @kind, @size, @sha256, @uid, @gid, @mode)`
    ),
    listOutputs: prepare<[string], OutputRecord>(
      `SELECT ${OUTPUT_COLUMNS} FROM run_outputs WHERE run_id = ? ORDER BY rowid`
    ),
    getOutput: prepare<[string, string, string], OutputRecord>(
      `SELECT ${OUTPUT_COLUMNS} FROM run_outputs WHERE run_id = ? AND kind = ? AND name = ?`
    ),
    addInput: prepare(
      `INSERT INTO run_inputs (run_id, name, sha256, size)
       VALUES (@run_id, @name, @sha256, @size)`
    ),
    listInputs: prepare<[string], InputRecord>(
      'SELECT name, sha256, size FROM run_inputs WHERE run_id = ? ORDER BY rowid'
    ),
    blobsOfRun: prepare<[string, string], { sha256: string }>(
      `SELECT sha256 FROM run_outputs WHERE run_id = ?
       UNION SELECT sha256 FROM run_inputs WHERE run_id = ?`
    ),
    blobReferenced: prepare<[string, string, string], { used: number }>(
      `SELECT EXISTS (SELECT 1 FROM run_outputs WHERE sha256 = ?)
           OR EXISTS (SELECT 1 FROM run_inputs WHERE sha256 = ?)
           OR EXISTS (SELECT 1 FROM packages WHERE sha256 = ? AND source_kind = 'blob')
         AS used`
    ),
    deleteRun: prepare<[string]>('DELETE FROM runs WHERE id = ?')
  };
}

/**
 * The server's records: packages, runs, their inputs and outputs. Synchronous (node:sqlite):
 * each call is a short indexed query, and synchronous calls cannot interleave, so a
 * read-then-write needs no locking within the process. Times are milliseconds since the epoch.
 */
export class Records {
  private readonly statements: Statements;

  /** Sweeps and their variants' links to runs. */
  readonly sweeps: SweepRecords;

  /** Packages' remembered metrics and runs' values of them. */
  readonly metrics: MetricRecords;

  /** Opens or creates the database file and applies pending migrations. */
  static open(path: string, now?: () => number): Records {
    return new Records(openDatabase(path), now);
  }

  constructor(
    readonly db: Database,
    private readonly now: () => number = Date.now
  ) {
    this.statements = prepareStatements(db);
    this.sweeps = new SweepRecords(db, now);
    this.metrics = new MetricRecords(db, now);
  }

  /**
   * Registers a package. Registering it again from another workspace file points the record at
   * that file (the one the user just opened); a blob-store copy replaces any workspace source,
   * being the one that lasts, and is never replaced by a workspace file.
   */
  putPackage(pkg: NewPackage): PackageRecord {
    this.statements.putPackage.run({
      sha256: pkg.sha256,
      name: pkg.name,
      size: pkg.size,
      model: JSON.stringify(pkg.model),
      source_kind: pkg.source.kind,
      source_path: pkg.source.kind === 'workspace' ? pkg.source.path : null,
      created_at: this.now()
    });
    return this.getPackage(pkg.sha256)!;
  }

  getPackage(sha256: string): PackageRecord | undefined {
    const row = this.statements.getPackage.get(sha256);
    return row && { ...toSummary(row), model: JSON.parse(row.model!) };
  }

  /** The digest the registry gave the package's image, if it was pushed or pulled before. */
  imageDigest(registry: string, sha256: string): string | undefined {
    return this.statements.getImageDigest.get(registry, sha256)?.digest;
  }

  setImageDigest(registry: string, sha256: string, digest: string): void {
    this.statements.putImageDigest.run(registry, sha256, digest);
  }

  /** Newest first. */
  listPackages(limit = 100, offset = 0): PackageSummary[] {
    return this.statements.listPackages.all(limit, offset).map(toSummary);
  }

  /** Records a new run, queued, with a fresh id (and its inputs, in the same transaction). */
  createRun(run: NewRun): RunRecord {
    const id = newRunId();
    transaction(this.db, () => {
      this.statements.insertRun.run({
        id,
        package_sha256: run.packageSha256,
        created_at: this.now(),
        edits: JSON.stringify(run.edits),
        limits: JSON.stringify(run.limits),
        backend: run.backend ?? null,
        owner: run.owner ?? null
      });
      for (const input of run.inputs ?? []) {
        this.addInput(id, input);
      }
      if (run.sweep) {
        this.sweeps.link(id, run.sweep);
      }
    });
    return this.getRun(id)!;
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.statements.getRun.get(id);
    return row && toRun(row);
  }

  /** Newest first, a page at a time (see RunQuery.before). */
  listRuns(query: RunQuery = {}): RunRecord[] {
    return this.statements.listRuns
      .all({
        package: query.packageSha256 ?? null,
        owner: query.owner ?? null,
        before: query.before ?? null,
        limit: query.limit ?? 50
      })
      .map(toRun);
  }

  /**
   * Runs in any of these statuses, oldest first: the queue's order for `queued`, and the runs a
   * restarted server must reconcile for `building`/`running`.
   */
  listRunsInStatuses(statuses: readonly RunStatus[]): RunRecord[] {
    return this.statements.runsInStatuses
      .all(JSON.stringify(statuses))
      .map(toRun);
  }

  /**
   * How many runs are in these statuses (the queue's cap counts the unended ones), of one user
   * when `owner` is given.
   */
  countRunsInStatuses(statuses: readonly RunStatus[], owner?: string): number {
    const list = JSON.stringify(statuses);
    return (
      (owner === undefined
        ? this.statements.countInStatuses.get(list)
        : this.statements.countOwnInStatuses.get(owner, list)
      )?.n ?? 0
    );
  }

  /**
   * Moves a run to a status: the first move to building/running sets `startedAt`, a final status
   * sets `endedAt`. A run that already has a final status keeps it (a cancel racing a finish
   * cannot rewrite history): returns false then, or when there is no such run.
   */
  updateStatus(
    id: string,
    status: RunStatus,
    details: { reason?: string; failedStep?: number } = {}
  ): boolean {
    const result = this.statements.updateStatus.run({
      id,
      status,
      now: this.now(),
      started: STARTED_STATUSES.includes(status) ? 1 : 0,
      final: FINAL_STATUSES.includes(status) ? 1 : 0,
      reason: details.reason ?? null,
      failed_step: details.failedStep ?? null,
      finals: JSON.stringify(FINAL_STATUSES)
    });
    return result.changes === 1;
  }

  /** Which backend runs it and from which image (fields left out keep their value). */
  setExecution(
    id: string,
    execution: { backend?: string; image?: string }
  ): void {
    this.statements.setExecution.run({
      id,
      backend: execution.backend ?? null,
      image: execution.image ?? null
    });
  }

  /** The container executing the run, so a restarted server can find it; null once removed. */
  setContainerId(id: string, containerId: string | null): void {
    this.statements.setContainerId.run(containerId, id);
  }

  /** The run's steps as planned, with the exit codes known so far (replaces the list). */
  setSteps(id: string, steps: readonly RunStep[]): void {
    this.statements.setSteps.run(JSON.stringify(steps), id);
  }

  /** The declared outputs the run did not produce (replaces the list). */
  setMissingOutputs(id: string, missing: readonly MissingOutput[]): void {
    this.statements.setMissingOutputs.run(JSON.stringify(missing), id);
  }

  setLogSize(id: string, bytes: number): void {
    this.statements.setLogSize.run(bytes, id);
  }

  /** Records an output; call only once its blob is fully stored. */
  addOutput(runId: string, output: OutputRecord): void {
    // Field by field: node:sqlite refuses a named parameter the SQL does not use, and an output
    // may carry more fields than the table has.
    this.statements.addOutput.run({
      run_id: runId,
      name: output.name,
      path: output.path,
      kind: output.kind,
      size: output.size,
      sha256: output.sha256,
      uid: output.uid,
      gid: output.gid,
      mode: output.mode
    });
  }

  /** In the order they were added. */
  listOutputs(runId: string): OutputRecord[] {
    return this.statements.listOutputs.all(runId);
  }

  getOutput(
    runId: string,
    kind: 'declared' | 'changed',
    name: string
  ): OutputRecord | undefined {
    return this.statements.getOutput.get(runId, kind, name);
  }

  addInput(runId: string, input: InputRecord): void {
    this.statements.addInput.run({
      run_id: runId,
      name: input.name,
      sha256: input.sha256,
      size: input.size
    });
  }

  listInputs(runId: string): InputRecord[] {
    return this.statements.listInputs.all(runId);
  }

  /** True while a run's input or output, or a stored package, uses the blob. */
  isBlobReferenced(sha256: string): boolean {
    return (
      this.statements.blobReferenced.get(sha256, sha256, sha256)!.used === 1 ||
      this.sweeps.holdsInput(sha256)
    );
  }

  /**
   * Deletes a run with its inputs and outputs, and says which of their blobs nothing uses any
   * more. Check `isBlobReferenced` again just before deleting a blob: a run created meanwhile may
   * have stored the same content.
   */
  deleteRun(id: string): DeletedRun {
    return transaction(this.db, (): DeletedRun => {
      const blobs = this.statements.blobsOfRun.all(id, id).map(r => r.sha256);
      const deleted = this.statements.deleteRun.run(id).changes === 1;
      return {
        deleted,
        orphanedBlobs: blobs.filter(sha256 => !this.isBlobReferenced(sha256))
      };
    });
  }

  close(): void {
    this.db.close();
  }
}

function toSummary(row: PackageRow): PackageSummary {
  return {
    sha256: row.sha256,
    name: row.name,
    size: row.size,
    source:
      row.source_kind === 'blob'
        ? { kind: 'blob' }
        : { kind: 'workspace', path: row.source_path ?? '' },
    createdAt: row.created_at
  };
}

function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    packageSha256: row.package_sha256,
    status: row.status,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    edits: JSON.parse(row.edits),
    limits: JSON.parse(row.limits),
    backend: row.backend,
    image: row.image,
    failedStep: row.failed_step,
    reason: row.reason,
    containerId: row.container_id,
    logSize: row.log_size,
    steps: JSON.parse(row.steps),
    missingOutputs: JSON.parse(row.missing_outputs),
    owner: row.owner ?? null
  };
}
