/**
 * `readPackage`: the whole package model from a `.rpz` file. Reads the outer container's metadata
 * (positioned reads for a plain outer tar), parses config.yml, summarises the trace from a private
 * temporary copy, and hashes the file, concurrently.
 */
import { createHash } from 'node:crypto';
import {
  makeFolder,
  makeTemporaryFolder,
  openForReading,
  removeTree
} from './positional-file';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseConfig } from './config';
import { RpzError, inPackage } from './errors';
import type { InflateLimits } from './gunzip';
import {
  CONFIG_MEMBER,
  DATA_MEMBER,
  VERSION_MEMBER,
  readLayout,
  type Layout,
  type TraceTarget
} from './layout';
import { readLimits, type ReadLimits } from './limits';
import type { ContainerKind, PackageModel, TraceModel } from './model';
import { TRACE_IN_MEMORY_BYTES, summariseTrace } from './trace';

export interface ReadPackageOptions {
  /** Compute the sha256 of the whole file (reads it all). Default true. */
  sha256?: boolean;
  /** Summarise METADATA/trace.sqlite3. Default true. */
  trace?: boolean;
  /** Cap on config.yml, in bytes. Default 16 MiB. */
  maxConfigBytes?: number;
  /** Gzip-bomb limits for gzip outer tars. */
  limits?: InflateLimits;
  /** Caps on counts, lengths and depths (see `READ_LIMITS`); the defaults when absent. */
  readLimits?: Partial<ReadLimits>;
  /**
   * Where a trace is copied (decompressed) to be summarised, when it is not read from memory: a
   * private folder (mode 0700) is made inside it and removed afterwards. Default: the system's
   * temporary folder. The server passes a folder of its own state, so an untrusted trace never
   * lands in a shared /tmp.
   */
  scratchDir?: string;
  /**
   * The largest plain trace summarised from memory rather than from a scratch copy. Default
   * `TRACE_IN_MEMORY_BYTES`; 0 copies every trace (the tests read both ways).
   */
  traceInMemoryBytes?: number;
}

/** Parses `METADATA/version`. Throws `missing-version` / `bad-version`. */
export function parseVersion(text: string | null): 1 | 2 {
  if (text === null) {
    throw new RpzError(
      'missing-version',
      `Not a ReproZip package: ${VERSION_MEMBER} is missing.`,
      VERSION_MEMBER
    );
  }
  const prefix = 'REPROZIP VERSION ';
  const rest = text.startsWith(prefix)
    ? text.slice(prefix.length).trimEnd()
    : null;
  if (rest === '1' || rest === '2') {
    return rest === '1' ? 1 : 2;
  }
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  throw new RpzError(
    'bad-version',
    `Not a supported ReproZip package: ${VERSION_MEMBER} says ${JSON.stringify(shown.trimEnd())}, expected "REPROZIP VERSION 1" or "REPROZIP VERSION 2".`,
    VERSION_MEMBER
  );
}

function containerOf(format: 1 | 2, layout: Layout): ContainerKind {
  if (format === 2) {
    if (layout.dataSize === null) {
      throw new RpzError(
        'missing-data',
        `The package says it is version 2 but has no ${DATA_MEMBER}.`,
        DATA_MEMBER
      );
    }
    return layout.encoding === 'gzip' ? 'v2-gzip-tar' : 'v2-tar';
  }
  if (!layout.hasDataDir) {
    throw new RpzError(
      'missing-data',
      'The package says it is version 1 but has no DATA/ members.',
      'DATA/'
    );
  }
  return layout.encoding === 'gzip' ? 'v1-gzip-tar' : 'v1-tar';
}

/** The size of each read while hashing a package. */
const HASH_CHUNK_BYTES = 1024 * 1024;

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  // A read loop into one buffer, not a stream: the same reads without the stream machinery,
  // which weighed a few ms of a small package's `reproserver inspect` (bench/cli/startup.mjs).
  const file = await openForReading(path);
  try {
    const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) {
        break;
      }
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** Reads the package at `path` into a `PackageModel`. Throws `RpzError` naming the package. */
export async function readPackage(
  path: string,
  options: ReadPackageOptions = {}
): Promise<PackageModel> {
  const label = basename(path);
  const limits = readLimits(options.readLimits);
  let tempDir: string | null = null;
  try {
    const trace: TraceTarget | undefined =
      options.trace === false
        ? undefined
        : {
            inMemoryBytes: options.traceInMemoryBytes ?? TRACE_IN_MEMORY_BYTES,
            file: async () => {
              const scratch = options.scratchDir ?? tmpdir();
              await makeFolder(scratch, 0o700);
              // mkdtemp makes the folder 0700: only this user reads the copy.
              tempDir = await makeTemporaryFolder(
                join(scratch, 'reproserver-rpz-')
              );
              return join(tempDir, 'trace.sqlite3');
            }
          };
    const file = await openForReading(path);
    let layout: Layout;
    let fileSize: number;
    try {
      fileSize = (await file.stat()).size;
      layout = await readLayout(file, path, fileSize, {
        maxConfigBytes: options.maxConfigBytes,
        limits: options.limits,
        trace,
        readLimits: limits
      });
    } finally {
      await file.close();
    }
    const format = parseVersion(layout.versionText);
    const container = containerOf(format, layout);
    if (layout.configText === null) {
      throw new RpzError(
        'missing-config',
        `Not a ReproZip package: ${CONFIG_MEMBER} is missing.`,
        CONFIG_MEMBER
      );
    }
    const config = parseConfig(layout.configText, limits);
    let traceSummary: TraceModel = { status: 'absent' };
    const traceWarnings: string[] = [];
    if (layout.traceProblem !== null) {
      traceSummary = { status: 'unreadable', reason: layout.traceProblem };
    } else if (layout.trace !== null) {
      traceSummary = summariseTrace(layout.trace, limits, traceWarnings);
    }
    const warnings = [...layout.warnings, ...config.warnings, ...traceWarnings];
    if (traceSummary.status === 'unreadable') {
      warnings.push(
        `The trace database cannot be read (${traceSummary.reason}); the trace summary is missing.`
      );
    }
    const packed = new Set(config.otherFiles);
    for (const pkg of config.packages) {
      if (pkg.packfiles) {
        pkg.files.forEach(f => packed.add(f));
      }
    }
    return {
      format,
      container,
      // Hashed last, so that a bad package fails before anything reads its whole data.
      sha256: options.sha256 === false ? null : await hashFile(path),
      size: fileSize,
      configVersion: config.configVersion,
      packId: config.packId,
      runs: config.runs,
      files: config.files,
      packages: config.packages,
      otherFiles: config.otherFiles,
      data: {
        compressedSize: container.startsWith('v2')
          ? (layout.dataSize ?? 0)
          : fileSize,
        listedPaths: packed.size
      },
      trace: traceSummary,
      extensions: layout.extensions,
      warnings
    };
  } catch (error) {
    throw inPackage(error, label);
  } finally {
    if (tempDir !== null) {
      await removeTree(tempDir);
    }
  }
}
