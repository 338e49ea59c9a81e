/**
 * `PackageReader`: the package reader's functions (`readPackage`, `ioFileSizes`, `scanEntries`)
 * run in reader processes with a deadline and a memory cap (see `reader-pool.ts`). The server and
 * the CLI read packages only through it, so that nothing a package holds is parsed on their
 * event loop.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { EntryTotals } from '../entries';
import type { PackageModel } from '../model';
import type { ReadPackageOptions } from '../package';
import type { ExtractSummary } from '../../sandbox/extract';
import type { StreamProgress, StreamResults, StreamTask } from './protocol';
import { READER_DEFAULTS } from './defaults';
import { MS_PER_MIB } from './deadline';
import { ReaderPool } from './reader-pool';
import {
  startSpareReader,
  startStreamJob,
  type StreamJob,
  type StreamJobOptions
} from './stream-job';

export interface PackageReaderOptions {
  timeoutSeconds?: number;
  memoryMib?: number;
  processes?: number;
  /** Seconds a stream job may go without progress (`READER_DEFAULTS.stallSeconds`). */
  stallSeconds?: number;
  /**
   * Private folder for the reader's scratch files (the trace database's copy); created 0700. The
   * server passes `<state>/scratch`.
   */
  scratchDir?: string;
}

/** The reader's options from the server's configuration (flags and environment). */
export function readerOptionsOf(config: {
  readTimeoutSeconds: number;
  readMemoryMib: number;
  readProcesses: number;
  readStallSeconds?: number;
  stateDir: string;
}): PackageReaderOptions {
  return {
    stallSeconds: config.readStallSeconds,
    timeoutSeconds: config.readTimeoutSeconds,
    memoryMib: config.readMemoryMib,
    processes: config.readProcesses,
    scratchDir: join(config.stateDir, 'scratch')
  };
}

export class PackageReader {
  constructor(options: PackageReaderOptions = {}) {
    this._pool = new ReaderPool({
      timeoutMs:
        (options.timeoutSeconds ?? READER_DEFAULTS.timeoutSeconds) * 1000,
      msPerMib: MS_PER_MIB,
      memoryMib: options.memoryMib ?? READER_DEFAULTS.memoryMib,
      processes: options.processes ?? READER_DEFAULTS.processes,
      limitNames: {
        timeout: 'the read timeout, --read-timeout-seconds',
        memory: 'the read memory cap, --read-memory-mib'
      }
    });
    this._scratchDir = options.scratchDir;
    this._memoryMib = options.memoryMib ?? READER_DEFAULTS.memoryMib;
    this._stallMs =
      (options.stallSeconds ?? READER_DEFAULTS.stallSeconds) * 1000;
  }

  /**
   * The package's data as the tar stream of its root filesystem (`rootfsTar` over `readEntries`),
   * generated in a reader process of its own: `output` carries the bytes untouched, counters and
   * warnings arrive through the callbacks. `output` ends only once the whole package was read
   * without error.
   */
  rootfsTar(
    path: string,
    options: Pick<StreamJobOptions, 'onProgress' | 'onWarning' | 'signal'> & {
      prefix?: string;
    } = {},
    label = basename(path)
  ): StreamJob<StreamProgress> {
    const { prefix, ...handlers } = options;
    return this._startJob(
      { kind: 'rootfs-tar', path, prefix },
      handlers,
      label
    );
  }

  /**
   * Starts a reader for the next data job ahead of time (a long-lived server does, so that its
   * first image build or unpacking does not wait for Node to start).
   */
  startSpare(): Promise<void> {
    return startSpareReader(this._memoryMib);
  }

  private _startJob<K extends StreamTask['kind']>(
    task: StreamTask & { kind: K },
    handlers: Pick<StreamJobOptions, 'onProgress' | 'onWarning' | 'signal'>,
    label: string
  ): StreamJob<StreamResults[K]> {
    const job = startStreamJob<K>(task, {
      ...handlers,
      label,
      memoryMib: this._memoryMib,
      stallMs: this._stallMs,
      limitNames: {
        stall: 'the stall timeout',
        memory: 'the read memory cap, --read-memory-mib'
      }
    });
    this._jobs.add(job);
    void job.result
      .catch(() => undefined)
      .finally(() => this._jobs.delete(job));
    return job;
  }

  /** `readPackage` in a reader process. `label` names the package in refusals. */
  async readPackage(
    path: string,
    options: ReadPackageOptions = {},
    label = basename(path)
  ): Promise<PackageModel> {
    const size = await sizeOf(path);
    const withScratch: ReadPackageOptions =
      this._scratchDir === undefined
        ? options
        : {
            ...options,
            scratchDir: await this._ensureScratch(this._scratchDir)
          };
    return this._pool.run(
      { kind: 'package', path, options: withScratch },
      label,
      size
    );
  }

  /** `ioFileSizes` in a reader process. */
  async fileSizes(
    path: string,
    model: Pick<PackageModel, 'files'>,
    label = basename(path)
  ): Promise<Record<string, number | null>> {
    return this._pool.run(
      { kind: 'file-sizes', path, files: model.files },
      label,
      await sizeOf(path)
    );
  }

  /** `scanEntries` in a reader process. */
  async scanEntries(
    path: string,
    label = basename(path)
  ): Promise<EntryTotals> {
    return this._pool.run({ kind: 'scan', path }, label, await sizeOf(path));
  }

  /**
   * Extracts the package's tree into `root` (an existing, empty folder) in a reader process of
   * its own (`extractEntries` over `readEntries`): progress and warnings through the callbacks,
   * the summary as the result; a `DiskFullError` keeps its class.
   */
  extract(
    path: string,
    root: string,
    options: Pick<StreamJobOptions, 'onProgress' | 'onWarning' | 'signal'> & {
      minFreeBytes?: number;
    } = {},
    label = basename(path)
  ): Promise<ExtractSummary> {
    const { minFreeBytes, ...handlers } = options;
    const job = this._startJob(
      { kind: 'extract', path, root, minFreeBytes },
      handlers,
      label
    );
    // The job writes no bytes: its (empty) output is drained so that it can end.
    job.output.resume();
    return job.result;
  }

  /** Stops the reader processes, those of stream jobs too. */
  close(): void {
    this._pool.close();
    for (const job of this._jobs) {
      job.abort();
    }
  }

  private async _ensureScratch(dir: string): Promise<string> {
    this._scratchReady ??= (async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing folder's mode alone: make it private anyway.
      await chmod(dir, 0o700);
      return dir;
    })();
    return this._scratchReady;
  }

  private readonly _pool: ReaderPool;
  private readonly _scratchDir: string | undefined;
  private readonly _memoryMib: number;
  private readonly _stallMs: number;
  private readonly _jobs = new Set<{ abort(): void }>();
  private _scratchReady: Promise<string> | undefined;
}

/** The file's size for the deadline; 0 when it cannot be seen (the reader then says why). */
async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => null))?.size ?? 0;
}
