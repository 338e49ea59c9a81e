/**
 * Imports by URL or DOI for the API: each is a record kept in memory (the last ones, bounded; an
 * import is a short-lived transfer, not history), driven by `fetch/importer.ts` in the background
 * and polled by the client. The destination is a workspace folder (the workspace root by default),
 * checked like every workspace path; the downloaded file is read by the server's package reader,
 * then registered. A package whose sha256 is already registered from a workspace file that is
 * still there is reused, not written twice.
 */
import { randomBytes } from 'node:crypto';
import { DomainError, isDomainError, notFound } from '../errors';
import type { CreateImportRequest, ImportRecord } from '../contract/wire';
import type { HttpLimits } from '../fetch/http';
import { importPackage, notAPackage } from '../fetch/importer';
import type { ImportServices } from '../fetch/services';
import { parseSource } from '../fetch/source';
import type { PackageModel } from '../rpz';
import { ensureFolder, toWorkspacePath } from '../workspace/paths';
import type { PackageService } from './packages';

export interface ImportServiceOptions {
  workspace: string;
  packages: PackageService;
  maxBytes: number;
  services: ImportServices;
  limits: HttpLimits;
}

/** Imports remembered at most (the oldest final ones are forgotten first). */
const KEPT = 200;
/** Imports going on at once at most. */
export const MAX_ACTIVE_IMPORTS = 4;

const FINAL: ReadonlySet<ImportRecord['status']> = new Set([
  'done',
  'failed',
  'cancelled',
  'choosing'
]);

export class ImportService {
  constructor(private readonly options: ImportServiceOptions) {}

  /** Starts an import; refuses at once a source or folder that cannot be one. */
  async create(
    request: CreateImportRequest,
    owner?: string
  ): Promise<ImportRecord> {
    const source = parseSource(request.source, this.options.services);
    const folder = await ensureFolder(
      this.options.workspace,
      request.to ?? '.',
      'folder'
    );
    const active = [...this._records.values()].filter(
      entry => !FINAL.has(entry.record.status)
    ).length;
    if (active >= MAX_ACTIVE_IMPORTS) {
      throw new DomainError(
        'too-many-imports',
        `${active} imports are going on; wait for one to end, then try again.`
      );
    }
    const record: ImportRecord = {
      id: randomBytes(8).toString('hex'),
      source: request.source,
      status: 'resolving',
      file: request.file ?? null,
      bytes: 0,
      total: null,
      rate: null,
      etaSeconds: null,
      candidates: null,
      result: null,
      error: null,
      createdAt: new Date().toISOString()
    };
    const abort = new AbortController();
    this._records.set(record.id, { record, abort, owner });
    this.forget();
    const models = new Map<string, PackageModel>();
    const { packages } = this.options;
    const running = importPackage({
      source,
      file: request.file,
      folder,
      maxBytes: this.options.maxBytes,
      services: this.options.services,
      limits: this.options.limits,
      signal: abort.signal,
      onPhase: phase => {
        record.status = phase;
      },
      onProgress: progress => {
        record.bytes = progress.bytes;
        record.total = progress.total;
        record.rate = progress.rate;
        record.etaSeconds = progress.etaSeconds;
      },
      known: sha256 => this.knownPath(sha256),
      check: async (path, name, sha256) => {
        try {
          models.set(sha256, await packages.check(path, name, sha256));
        } catch (error) {
          if (isDomainError(error) && error.code === 'bad-package') {
            throw notAPackage(name, error.message);
          }
          throw error;
        }
      }
    })
      .then(async outcome => {
        if (outcome.kind === 'choose') {
          record.candidates = outcome.candidates.map(c => ({
            name: c.name,
            size: c.size
          }));
          record.status = 'choosing';
          return;
        }
        const model = models.get(outcome.sha256);
        if (model) {
          await packages.registerChecked(outcome.path, model);
        }
        record.file = outcome.name;
        record.bytes = outcome.size;
        record.total = outcome.size;
        record.rate = null;
        record.etaSeconds = 0;
        record.result = {
          sha256: outcome.sha256,
          path: await toWorkspacePath(this.options.workspace, outcome.path),
          name: outcome.name,
          size: outcome.size,
          reused: outcome.reused
        };
        record.status = 'done';
      })
      .catch((error: unknown) => {
        if (abort.signal.aborted) {
          record.status = 'cancelled';
          return;
        }
        record.status = 'failed';
        record.error = isDomainError(error)
          ? { code: error.code, message: error.message }
          : {
              code: 'internal',
              message: `The import failed: ${String(error)}.`
            };
      });
    this._running.add(running);
    void running.finally(() => this._running.delete(running));
    return { ...record };
  }

  /** The import; `owner` (a shared server): only that user's, another's is not found. */
  get(id: string, owner?: string): ImportRecord {
    const entry = this._entry(id, owner);
    if (!entry) {
      throw notFound(`Import ${id}`);
    }
    return { ...entry.record };
  }

  cancel(id: string, owner?: string): ImportRecord {
    const entry = this._entry(id, owner);
    if (!entry) {
      throw notFound(`Import ${id}`);
    }
    if (FINAL.has(entry.record.status)) {
      throw new DomainError('already-ended', `Import ${id} has already ended.`);
    }
    entry.abort.abort(new DomainError('already-ended', 'Cancelled.'));
    entry.record.status = 'cancelled';
    return { ...entry.record };
  }

  /**
   * Stops every import going on (the server is stopping) and waits until their partial files are
   * removed.
   */
  async close(): Promise<void> {
    for (const { record, abort } of this._records.values()) {
      if (!FINAL.has(record.status)) {
        abort.abort(new DomainError('already-ended', 'The server stopped.'));
      }
    }
    await Promise.allSettled([...this._running]);
  }

  /** The real path of the registered workspace package with this sha256, if still there. */
  private async knownPath(sha256: string): Promise<string | undefined> {
    try {
      const record = this.options.packages.get(sha256);
      if (record.source.kind !== 'workspace') {
        return undefined;
      }
      return await this.options.packages.pathOf(sha256);
    } catch {
      return undefined;
    }
  }

  private forget(): void {
    for (const [id, entry] of this._records) {
      if (this._records.size <= KEPT) {
        break;
      }
      if (FINAL.has(entry.record.status)) {
        this._records.delete(id);
      }
    }
  }

  private readonly _running = new Set<Promise<void>>();
  private _entry(
    id: string,
    owner: string | undefined
  ): { record: ImportRecord; abort: AbortController } | undefined {
    const entry = this._records.get(id);
    return entry && (owner === undefined || entry.owner === owner)
      ? entry
      : undefined;
  }

  private readonly _records = new Map<
    string,
    { record: ImportRecord; abort: AbortController; owner?: string }
  >();
}
