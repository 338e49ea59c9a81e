/**
 * The determinism check: the package run unmodified twice (on one backend, or one run on each of
 * two) through the normal run path (`RunService.create`, its queue and admission), then the two
 * runs compared; the outputs that differ are those that vary between identical runs. The result
 * is decided (and stored) the first time the check is read after both runs have ended, and the
 * latest check of each backend (pair) is the package's answer.
 */
import type {
  DeterminismCheck,
  StartDeterminismRequest
} from '../contract/wire';
import { compareRuns } from '../compare/compare';
import { DomainError, notFound } from '../errors';
import { FINAL_STATUSES } from '../runs/events';
import {
  DeterminismRecords,
  type DeterminismResult,
  type DeterminismRow
} from '../store/determinism-records';
import type { CompareService } from './compare';
import type { PackageService } from './packages';
import type { RunService } from './runs';

export interface DeterminismServiceOptions {
  runs: Pick<RunService, 'create' | 'get' | 'cancel'>;
  packages: Pick<PackageService, 'get'>;
  compare: CompareService;
  /** The records' database, where the checks are kept (migration 5). */
  records: { db: ConstructorParameters<typeof DeterminismRecords>[0] };
}

export class DeterminismService {
  constructor(private readonly options: DeterminismServiceOptions) {
    this._checks = new DeterminismRecords(options.records.db);
  }

  /** Queues the two runs and records the check. */
  async start(
    packageSha256: string,
    request: StartDeterminismRequest,
    owner?: string
  ): Promise<DeterminismCheck> {
    const pkg = this.options.packages.get(packageSha256);
    const { runs } = this.options;
    const accept = request.acceptWeakIsolation === true;
    const [first, second] = request.backends ?? [
      request.backend ?? 'auto',
      undefined
    ];
    const runA = await runs.create(
      {
        package: pkg.sha256,
        backend: first,
        acceptWeakIsolation: accept
      },
      undefined,
      owner
    );
    // The second run on the backend the first one got (`auto` decided once).
    let runB;
    try {
      runB = await runs.create(
        {
          package: pkg.sha256,
          backend: second ?? runA.backend ?? 'auto',
          acceptWeakIsolation: accept
        },
        undefined,
        owner
      );
    } catch (error) {
      // Half a check is none: the first run goes too.
      await runs.cancel(runA.id).catch(() => undefined);
      throw error;
    }
    const row = this._checks.create({
      packageSha256: pkg.sha256,
      backends: [runA.backend ?? String(first), runB.backend ?? String(second)],
      runs: [runA.id, runB.id],
      owner
    });
    return this.toWire(row);
  }

  /** The check; `owner` (a shared server): only that user's, another's is not found. */
  async get(id: string, owner?: string): Promise<DeterminismCheck> {
    const row = /^[A-Za-z0-9_-]{1,64}$/.test(id)
      ? this._checks.get(id)
      : undefined;
    if (!row || (owner !== undefined && row.owner !== owner)) {
      throw notFound(`Determinism check ${id}`);
    }
    return this.decided(row);
  }

  /** The latest check of the package on each backend (pair). */
  async list(
    packageSha256: string,
    owner?: string
  ): Promise<DeterminismCheck[]> {
    this.options.packages.get(packageSha256);
    const checks: DeterminismCheck[] = [];
    for (const row of this._checks.latest(packageSha256, owner)) {
      checks.push(await this.decided(row));
    }
    return checks;
  }

  /** The check with its result, deciding it now when both runs have just ended. */
  private async decided(row: DeterminismRow): Promise<DeterminismCheck> {
    if (row.result) {
      return this.toWire(row);
    }
    const result = await this.decide(row);
    if (result) {
      this._checks.decide(row.id, result);
      return this.toWire({ ...row, result });
    }
    return this.toWire(row);
  }

  /** Null while a run has not ended. */
  private async decide(row: DeterminismRow): Promise<DeterminismResult | null> {
    const [a, b] = row.runs;
    const failed = (reason: string): DeterminismResult => ({
      state: 'failed',
      varying: [],
      outputs: [],
      reason
    });
    if (a === null || b === null) {
      return failed('A run of this check was deleted; run the check again.');
    }
    const runA = this.options.runs.get(a);
    const runB = this.options.runs.get(b);
    if (
      !FINAL_STATUSES.includes(runA.status) ||
      !FINAL_STATUSES.includes(runB.status)
    ) {
      return null;
    }
    const notSucceeded = [runA, runB].find(run => run.status !== 'succeeded');
    if (notSucceeded) {
      return failed(
        `Run ${notSucceeded.id} did not succeed (${notSucceeded.status}${notSucceeded.reason ? `: ${notSucceeded.reason}` : ''}); the outputs of a failed run say nothing of determinism.`
      );
    }
    const { compare } = this.options;
    const summary = await compareRuns(compare.side(a), compare.side(b), {
      a,
      b
    });
    const varying = summary.outputs
      .filter(output => output.state !== 'identical')
      .map(output => output.name);
    return {
      state: varying.length === 0 && summary.identical ? 'identical' : 'varies',
      varying,
      outputs: summary.outputs,
      reason: null
    };
  }

  private toWire(row: DeterminismRow): DeterminismCheck {
    return {
      id: row.id,
      package: row.packageSha256,
      // Recorded from the runs' own backends, which are backend names.
      backends: row.backends as DeterminismCheck['backends'],
      runs: row.runs.filter((id): id is string => id !== null),
      state: row.result?.state ?? 'running',
      varying: row.result?.varying ?? [],
      outputs: row.result?.outputs ?? [],
      reason: row.result?.reason ?? null,
      createdAt: new Date(row.createdAt).toISOString()
    };
  }

  private readonly _checks: DeterminismRecords;
}

/** Refuses a request naming both `backend` and `backends`. */
export function checkDeterminismRequest(
  request: StartDeterminismRequest
): void {
  if (request.backend !== undefined && request.backends !== undefined) {
    throw new DomainError(
      'bad-backend',
      'Give either backend (both runs on it) or backends (one run on each), not both.'
    );
  }
}
