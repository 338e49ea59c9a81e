/**
 * Registered packages: from the workspace (read in place, never copied) or uploaded (stored as a
 * blob). Both are named by their sha256, so the same package registered twice is one package.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError } from '../errors';
import type { PackageDetails, PackageSummary } from '../contract/wire';
import { isRpzError, type PackageModel } from '../rpz';
import { packageParameters } from '../rpz/parameters';
import { PackageReader } from '../rpz/worker';

/** Packages whose data is at most this big get their file sizes in the first answer. */
const SIZES_INLINE_BYTES = 256 * 1024 * 1024;
import {
  BlobTooLargeError,
  FsBlobStore,
  isSha256,
  type BlobStore
} from '../store';
import type { PackageRecord, Records } from '../store/records';
import { resolveExisting, toWorkspacePath } from '../workspace/paths';

export interface PackageServiceOptions {
  records: Records;
  blobs: BlobStore;
  workspace: string;
  stateDir: string;
  /** Largest upload accepted, bytes. */
  maxUploadBytes: number;
  /**
   * Reads packages in reader processes (deadline, memory cap); by default one with the default
   * limits and its scratch folder in `<stateDir>/scratch`.
   */
  reader?: PackageReader;
}

export class PackageService {
  constructor(private readonly options: PackageServiceOptions) {
    this._reader =
      options.reader ??
      new PackageReader({ scratchDir: join(options.stateDir, 'scratch') });
  }

  /** Registers a workspace package by its workspace-relative path. */
  async registerWorkspacePackage(path: string): Promise<PackageSummary> {
    const real = await resolveExisting(this.options.workspace, path, 'package');
    const info = await stat(real);
    if (!info.isFile()) {
      throw new DomainError('not-a-file', `"${path}" is not a file.`);
    }
    // Opening the panel registers the package each time: skip re-hashing an unchanged file.
    const key = `${real}\0${info.size}\0${info.mtimeMs}`;
    const known = this._hashes.get(key);
    const existing = known ? this.options.records.getPackage(known) : undefined;
    if (existing) {
      return toSummary(existing);
    }
    const model = await this._read(real, basename(real));
    const record = this.options.records.putPackage({
      sha256: model.sha256!,
      name: basename(real),
      size: info.size,
      model,
      source: {
        kind: 'workspace',
        path: await toWorkspacePath(this.options.workspace, real)
      }
    });
    this._hashes.set(key, record.sha256);
    return toSummary(record);
  }

  /**
   * Reads a file that is not registered yet (a download, before it gets its name), in a reader
   * process; throws `bad-package` when it is not a readable package.
   */
  async check(
    path: string,
    name: string,
    sha256: string
  ): Promise<PackageModel> {
    return this._read(path, name, sha256);
  }

  /** Registers a workspace file whose model `check` gave, without reading it again. */
  async registerChecked(
    real: string,
    model: PackageModel
  ): Promise<PackageSummary> {
    const info = await stat(real);
    const record = this.options.records.putPackage({
      sha256: model.sha256!,
      name: basename(real),
      size: info.size,
      model,
      source: {
        kind: 'workspace',
        path: await toWorkspacePath(this.options.workspace, real)
      }
    });
    this._hashes.set(`${real}\0${info.size}\0${info.mtimeMs}`, record.sha256);
    return toSummary(record);
  }

  /** Stores an uploaded package (streamed, size-limited) and registers it. */
  async upload(body: Readable, name: string): Promise<PackageSummary> {
    let stored;
    try {
      stored = await this.options.blobs.put(body, {
        maxBytes: this.options.maxUploadBytes
      });
    } catch (error) {
      if (error instanceof BlobTooLargeError) {
        throw new DomainError('too-large', error.message);
      }
      throw error;
    }
    const path = await this.localPath(stored.sha256, { kind: 'blob' });
    // The store hashed it on the way in: the reader need not read it all again.
    const model = await this._read(path, name, stored.sha256);
    const record = this.options.records.putPackage({
      sha256: stored.sha256,
      name,
      size: stored.size,
      model,
      source: { kind: 'blob' }
    });
    return toSummary(record);
  }

  list(): PackageSummary[] {
    return this.options.records.listPackages(1000).map(toSummary);
  }

  get(sha256: string): PackageRecord {
    const record = isSha256(sha256)
      ? this.options.records.getPackage(sha256)
      : undefined;
    if (!record) {
      throw new DomainError(
        'not-found',
        `No package with sha256 ${sha256} is registered.`
      );
    }
    return record;
  }

  /**
   * Everything the panel shows before a run. File sizes need a pass over the package's data: it
   * is awaited for packages up to a few hundred MB and runs in the background for bigger ones
   * (the panel asks again later), once per package per process.
   */
  async details(sha256: string): Promise<PackageDetails> {
    const record = this.get(sha256);
    let sizes = this._sizes.get(sha256);
    if (!sizes) {
      // A package whose data the reader refuses (over its deadline, say) is not tried again
      // on each request: that would hold a reader per request.
      sizes = this.pathOf(sha256)
        .then(path => this._reader.fileSizes(path, record.model, record.name))
        .catch((error: unknown) => {
          if (isRpzError(error)) {
            return null;
          }
          throw error;
        });
      sizes.catch(() => this._sizes.delete(sha256));
      this._sizes.set(sha256, sizes);
    }
    const measured = sizes.catch(() => null);
    const fileSizes =
      record.model.data.compressedSize <= SIZES_INLINE_BYTES
        ? await measured
        : await Promise.race([measured, Promise.resolve(null)]);
    return {
      ...toSummary(record),
      model: record.model,
      parameters: packageParameters(record.model),
      fileSizes
    };
  }

  /**
   * A file on this host holding the package, for the reader and builder: the workspace file
   * (checked to be unchanged), the filesystem blob, or a local copy of a remote blob.
   */
  async pathOf(sha256: string): Promise<string> {
    const record = this.get(sha256);
    return this.localPath(sha256, record.source, record.size);
  }

  private async localPath(
    sha256: string,
    source: PackageRecord['source'],
    size?: number
  ): Promise<string> {
    if (source.kind === 'workspace') {
      const real = await resolveExisting(
        this.options.workspace,
        source.path,
        'package'
      );
      if (size !== undefined && (await stat(real)).size !== size) {
        throw new DomainError(
          'package-changed',
          `The package ${source.path} changed since it was opened; open it again.`
        );
      }
      return real;
    }
    if (this.options.blobs instanceof FsBlobStore) {
      return this.options.blobs.pathOf(sha256);
    }
    const cache = join(this.options.stateDir, 'packages');
    const target = join(cache, `${sha256}.rpz`);
    if (!(await stat(target).catch(() => undefined))) {
      await mkdir(cache, { recursive: true });
      const partial = `${target}.partial-${process.pid}-${Date.now()}`;
      try {
        await pipeline(
          await this.options.blobs.get(sha256),
          createWriteStream(partial)
        );
        await rename(partial, target);
      } finally {
        await rm(partial, { force: true });
      }
    }
    return target;
  }

  private async _read(
    path: string,
    name: string,
    sha256?: string
  ): Promise<PackageModel> {
    try {
      if (sha256 === undefined) {
        return await this._reader.readPackage(path, {}, name);
      }
      const model = await this._reader.readPackage(
        path,
        { sha256: false },
        name
      );
      return { ...model, sha256 };
    } catch (error) {
      if (isRpzError(error)) {
        throw new DomainError('bad-package', error.message);
      }
      throw new DomainError(
        'bad-package',
        `${name} cannot be read: ${String(error)}`
      );
    }
  }

  /** Stops the reader processes. */
  close(): void {
    this._reader.close();
  }

  private readonly _reader: PackageReader;
  private readonly _hashes = new Map<string, string>();
  private readonly _sizes = new Map<
    string,
    Promise<Record<string, number | null> | null>
  >();
}

function toSummary(record: {
  sha256: string;
  name: string;
  size: number;
  source: PackageRecord['source'];
  createdAt: number;
}): PackageSummary {
  return {
    sha256: record.sha256,
    name: record.name,
    size: record.size,
    path: record.source.kind === 'workspace' ? record.source.path : null,
    createdAt: new Date(record.createdAt).toISOString()
  };
}
