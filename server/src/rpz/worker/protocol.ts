/**
 * The messages between the server and a reader process (`reader-process.ts`): one request at a
 * time per process, each answered by exactly one reply with the same `id`. Plain data only: they
 * cross a process boundary (structured clone).
 */
import type { RpzErrorCode } from '../errors';
import type { IoFileModel, PackageModel } from '../model';
import type { ReadPackageOptions } from '../package';
import type { EntryTotals } from '../entries';
import type { ExtractSummary } from '../../sandbox/extract';

/** What a reader process can be asked to do; each is one function of the package reader. */
export type ReaderTask =
  | { kind: 'package'; path: string; options: ReadPackageOptions }
  | { kind: 'file-sizes'; path: string; files: IoFileModel[] }
  | { kind: 'scan'; path: string };

/** The value each task kind resolves with. */
export interface ReaderResults {
  package: PackageModel;
  'file-sizes': Record<string, number | null>;
  scan: EntryTotals;
}

export interface ReaderRequest {
  id: number;
  task: ReaderTask;
}

/** An error as it crosses the boundary: an `RpzError`'s fields, or just a message. */
export interface ReaderErrorData {
  code?: RpzErrorCode;
  /** Set for the errors that are not `RpzError`s but keep their class (`DiskFullError`). */
  name?: 'DiskFullError';
  message: string;
  member?: string;
}

export type ReaderReply =
  | {
      id: number;
      ok: true;
      value:
        ReaderResults[ReaderTask['kind']] | StreamResults[StreamTask['kind']];
    }
  | { id: number; ok: false; error: ReaderErrorData };

/**
 * What a reader process can be asked to stream: a job that writes bytes to the pipe on its fd 3
 * (the server passes them on without reading them), sends progress and warnings while it runs,
 * and ends with one `ReaderReply`. Only sent to a reader started for it, which runs one job and is
 * stopped.
 */
export type StreamTask =
  | {
      kind: 'rootfs-tar';
      path: string;
      /** Put every entry below this folder (`RootfsTarOptions.prefix`). */
      prefix?: string;
    }
  | {
      /** Writes the package's tree into `root` (an existing, empty folder); no bytes out. */
      kind: 'extract';
      path: string;
      root: string;
      /** `ExtractOptions.minFreeBytes`. */
      minFreeBytes?: number;
    };

/** The value each stream job ends with. */
export interface StreamResults {
  'rootfs-tar': StreamProgress;
  extract: ExtractSummary;
}

/** Counters of a stream job; any change is progress (the stall timeout watches them). */
export interface StreamProgress {
  /** Compressed bytes of the package consumed. */
  compressedBytes: number;
  /** Compressed bytes in total (`DATA.tar.gz`). */
  compressedTotal: number;
  /** Decompressed bytes produced. */
  uncompressedBytes: number;
  /** Entries of the data read. */
  entries: number;
  /** Bytes written to the output pipe. */
  bytesOut: number;
}

export interface StreamRequest {
  id: number;
  stream: StreamTask;
}

/** Sent while a stream job runs, before its `ReaderReply`. */
export type StreamNotice =
  { id: number; progress: StreamProgress } | { id: number; warning: string };

/** Sent once by a reader process when it has loaded and waits for requests. */
export interface ReaderReady {
  ready: true;
}
