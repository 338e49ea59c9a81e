import type { TranslationBundle } from '@jupyterlab/translation';
import {
  formatBytes,
  type CreateImportRequest,
  type ImportCandidate,
  type ImportRecord
} from 'reproserver/contract';

/** The calls an import makes (the companion server's client, or a fake in tests). */
export interface IImportClient {
  createImport(request: CreateImportRequest): Promise<ImportRecord>;
  getImport(id: string): Promise<ImportRecord>;
  cancelImport(id: string): Promise<ImportRecord>;
}

/** What the user sees and answers while a package is fetched. */
export interface IImportView {
  /** The import as last polled. */
  progress(record: ImportRecord): void;
  /** The package to take among a record's several; null: none (the import stops). */
  choose(candidates: ImportCandidate[]): Promise<string | null>;
}

export type ImportOutcome =
  | { kind: 'done'; path: string; record: ImportRecord }
  | { kind: 'cancelled' }
  | { kind: 'failed'; message: string };

/** Statuses after which the server changes the import no more. */
const FINAL = new Set(['done', 'failed', 'cancelled', 'choosing']);

/**
 * One "Open ReproZip package from URL…": starts the import on the companion server, polls it
 * (its progress for the view), asks the user to choose when the record holds several packages
 * (then starts again with that file), and ends with the workspace path of the package.
 */
export class ImportFlow {
  constructor(
    private readonly client: IImportClient,
    private readonly view: IImportView,
    private readonly options: {
      pollMs?: number;
      sleep?: (ms: number) => Promise<void>;
    } = {}
  ) {}

  async run(source: string, to?: string): Promise<ImportOutcome> {
    let request: CreateImportRequest = to ? { source, to } : { source };
    for (;;) {
      let record: ImportRecord;
      try {
        record = await this.follow(await this.client.createImport(request));
      } catch (error) {
        return { kind: 'failed', message: messageOf(error) };
      }
      switch (record.status) {
        case 'done':
          return {
            kind: 'done',
            path: record.result?.path ?? '',
            record
          };
        case 'choosing': {
          if (request.file !== undefined) {
            return {
              kind: 'failed',
              message: `The record still has several packages after choosing ${request.file}.`
            };
          }
          const file = await this.view.choose(record.candidates ?? []);
          if (file === null || this._cancelled) {
            return { kind: 'cancelled' };
          }
          request = { ...request, file };
          continue;
        }
        case 'cancelled':
          return { kind: 'cancelled' };
        default:
          return {
            kind: 'failed',
            message: record.error?.message ?? `The import ${record.status}.`
          };
      }
    }
  }

  /** Stops the import going on (its partial file is removed by the server). */
  cancel(): void {
    this._cancelled = true;
    const current = this._current;
    if (current && !FINAL.has(current.status) && this._sentTo !== current.id) {
      this._sentTo = current.id;
      this.client.cancelImport(current.id).catch(() => undefined);
    }
  }

  private async follow(record: ImportRecord): Promise<ImportRecord> {
    const sleep =
      this.options.sleep ??
      ((ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms)));
    this._current = record;
    this.view.progress(record);
    if (this._cancelled && !FINAL.has(record.status)) {
      this.cancel();
    }
    while (!FINAL.has(record.status)) {
      await sleep(this.options.pollMs ?? 300);
      record = await this.client.getImport(record.id);
      this._current = record;
      this.view.progress(record);
    }
    return record;
  }

  private _current: ImportRecord | null = null;
  private _cancelled = false;
  /** The import a cancellation was sent for: once is enough. */
  private _sentTo: string | null = null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `Downloading x.rpz: 1.2 MiB of 4.0 MiB, 512 KiB/s, 6 s left`, for the notification. */
export function progressText(
  record: ImportRecord,
  trans: TranslationBundle
): string {
  const name = record.file ?? record.source;
  switch (record.status) {
    case 'resolving':
      return trans.__('Looking up %1…', record.source);
    case 'checking':
      return trans.__('Checking %1…', name);
    case 'downloading': {
      const parts = [
        record.total !== null
          ? trans.__(
              '%1 of %2',
              formatBytes(record.bytes),
              formatBytes(record.total)
            )
          : formatBytes(record.bytes)
      ];
      if (record.rate !== null) {
        parts.push(trans.__('%1/s', formatBytes(record.rate)));
      }
      if (record.etaSeconds !== null) {
        parts.push(trans.__('%1 s left', record.etaSeconds));
      }
      return trans.__('Downloading %1: %2', name, parts.join(', '));
    }
    case 'done':
      return record.result?.reused
        ? trans.__(
            '%1 is already in the workspace: %2',
            name,
            record.result.path
          )
        : trans.__('Fetched %1', record.result?.path ?? name);
    default:
      return record.error?.message ?? record.status;
  }
}
