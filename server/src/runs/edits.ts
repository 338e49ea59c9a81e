/**
 * What a user may change before running a package: a wire type (the panel sends it, the CLI builds
 * it from flags), so plain JSON only. Steps are 0-based run indexes.
 */

/** Where a replacement input file comes from. */
export type InputSource =
  /** A file on the server's host (the CLI's --input, or a workspace path resolved by the API). */
  | { kind: 'file'; path: string }
  /** A file in the user's workspace, relative to its root (the API resolves and checks it). */
  | { kind: 'workspace'; path: string }
  /** A blob the server already stores, by sha256 (an upload through `POST /api/uploads`). */
  | { kind: 'blob'; sha256: string };

/** Changes to one step. */
export interface StepEdit {
  step: number;
  /** Replaces the whole command line (argv[0] included). */
  argv?: string[];
  /** Replaces single argv items, by 0-based index; applied after `argv`. */
  args?: { index: number; value: string }[];
  /** Variables to set (added or changed). */
  setEnv?: Record<string, string>;
  /** Variables to remove. */
  unsetEnv?: string[];
}

/** Resource limits of a run; every field optional in edits, filled from defaults in the plan. */
export interface RunLimits {
  /** Memory (and memory + swap) limit of the whole run, MiB. */
  memoryMiB: number;
  /** CPU share, in CPUs (may be fractional). */
  cpus: number;
  /** Maximum number of processes and threads at once. */
  pids: number;
  /** Wall-clock limit of the whole run, seconds. */
  timeoutSeconds: number;
  /** Total size of the collected outputs, bytes. */
  outputBytes: number;
  /** Size of the log kept, bytes; what goes beyond is dropped with a notice. */
  logBytes: number;
  /**
   * Disk the run may fill, MiB: files the experiment writes (its writable layer or run tree).
   * Past it the run is stopped. Also the largest single file it may write.
   */
  diskMiB: number;
}

export interface RunEdits {
  /** Steps to execute, in package order; default: all. */
  steps?: number[];
  stepEdits?: StepEdit[];
  /** Replacement input files, by the package's input name. */
  inputs?: { name: string; source: InputSource }[];
  limits?: Partial<RunLimits>;
}

/**
 * The defaults of a machine with room to spare. The memory default is the most a run gets without
 * asking: on a smaller machine (or cgroup) runs get less by default, to leave room for JupyterLab
 * (`runDefaults()` in default-limits.ts, which the server and the CLI use).
 */
export const DEFAULT_LIMITS: RunLimits = {
  memoryMiB: 2048,
  cpus: 1,
  pids: 512,
  timeoutSeconds: 3600,
  outputBytes: 2 * 1024 ** 3,
  logBytes: 64 * 1024 ** 2,
  diskMiB: 10 * 1024
};

/**
 * The largest value each limit accepts. A limit is a promise the backends must keep: the time
 * limit must fit a Node.js timer (24.8 days), the others what Docker and the kernel take.
 */
export const MAX_LIMITS: RunLimits = {
  memoryMiB: 1024 * 1024,
  cpus: 1024,
  pids: 4_194_304,
  timeoutSeconds: 7 * 24 * 3600,
  outputBytes: 1024 ** 4,
  logBytes: 4 * 1024 ** 3,
  diskMiB: 1024 * 1024
};
