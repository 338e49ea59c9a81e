/**
 * The package model: everything the rest of ReproServer knows about a `.rpz` package, whatever its
 * format version or config version. This is also a wire type (the frontend imports it), so it holds
 * plain JSON data only: no Buffers, Maps, Dates or class instances. Run and file references are
 * 0-based indexes into `runs`.
 */

/** Where the package came from and how it is laid out. */
export type ContainerKind =
  /** Version 1: one gzip tar holding `DATA/…` and `METADATA/…`. */
  | 'v1-gzip-tar'
  /** Version 1 layout in an uncompressed tar (no known writer; Python's reader accepts it). */
  | 'v1-tar'
  /** Version 2 (ReproZip ≥ 1.0.6): a plain tar holding `DATA.tar.gz` and `METADATA/…`. */
  | 'v2-tar'
  /** Version 2 as written by ReproZip 1.0.0–1.0.5: the outer tar is gzip-compressed too. */
  | 'v2-gzip-tar';

/** One recorded run (one `reprozip trace` invocation, or one `--continue`). */
export interface RunModel {
  /** Run identifier; `run<N>` when the config predates ids. */
  id: string;
  /** The command line as typed; `argv[0]` is the program as the user wrote it. */
  argv: string[];
  /** Absolute path of the first program executed (may be a script or a symlink). */
  binary: string;
  /** The full environment of the run. */
  environ: Record<string, string>;
  /** Absolute working directory. */
  workingdir: string;
  uid: number;
  gid: number;
  /** Exit code (low 8 bits) when the run exited; null when killed or unknown. */
  exitcode: number | null;
  /** Signal number when the run was killed; null otherwise. */
  signal: number | null;
  /** `uname -m`, lower-cased (`x86_64`, `i686`, `aarch64`); null when unknown. */
  architecture: string | null;
  /** Distribution name (lower-cased) and version (may be ''); null when unknown. */
  distribution: { name: string; version: string } | null;
  hostname: string | null;
  /** `[system, release]`, e.g. `['Linux', '5.15.0-91-generic']`; null when unknown. */
  system: [string, string] | null;
}

/** An input or output file of the experiment (config `inputs_outputs`). */
export interface IoFileModel {
  /** Unique name (ReproZip's `name`, used by `upload`/`download`). */
  name: string;
  /** Absolute path in the experiment's filesystem. */
  path: string;
  /** Indexes of the runs that read this file (an input for them). */
  readBy: number[];
  /** Indexes of the runs that wrote this file (an output of them). */
  writtenBy: number[];
}

/** A distribution package the experiment used. */
export interface SoftwarePackageModel {
  name: string;
  version: string;
  /** Installed size in bytes, when recorded. */
  size: number | null;
  /** True when the package's files are inside the pack; false when they must be installed. */
  packfiles: boolean;
  /** Absolute paths of the package files the experiment used. */
  files: string[];
}

/** What the trace database says about one run. */
export interface TraceRunSummary {
  /** Index into `runs` (the trace's `run_id`). */
  run: number;
  /** Number of processes (threads excluded when the trace records them). */
  processes: number;
  /** Distinct programs executed, in order of first execution. */
  programs: string[];
  /** Distinct paths opened for reading (directories excluded). */
  filesRead: string[];
  /** Distinct paths opened for writing (directories excluded). */
  filesWritten: string[];
}

/** The trace summary; `status` says whether the trace could be read. */
export type TraceModel =
  | { status: 'ok'; runs: TraceRunSummary[] }
  | { status: 'absent' }
  | { status: 'unreadable'; reason: string };

/** What is known about the filesystem data without decompressing it. */
export interface DataModel {
  /** Compressed size of the data in bytes (`DATA.tar.gz` for v2; the whole file for v1). */
  compressedSize: number;
  /**
   * Number of paths the config lists as packed (other files + files of packed packages). The DATA
   * tar also holds their parent directories, so the real entry count is a bit larger.
   */
  listedPaths: number;
}

/** The complete description of one `.rpz` package. */
export interface PackageModel {
  /** Format version from `METADATA/version`. */
  format: 1 | 2;
  container: ContainerKind;
  /** Lower-case hex sha256 of the whole file; null when hashing was turned off. */
  sha256: string | null;
  /** File size in bytes. */
  size: number;
  /** Config-format version string (`config.yml` `version`), e.g. `"0.8"`; null when absent. */
  configVersion: string | null;
  /** `pack_id` from the config, when present. */
  packId: string | null;
  runs: RunModel[];
  /** Input and output files (the config's `inputs_outputs`, or legacy per-run maps). */
  files: IoFileModel[];
  packages: SoftwarePackageModel[];
  /** Packed paths that belong to no package. */
  otherFiles: string[];
  data: DataModel;
  trace: TraceModel;
  /** Names under `EXTENSIONS/` (e.g. `web1`). */
  extensions: string[];
  /** Things that were odd but not fatal, one sentence each. */
  warnings: string[];
}
